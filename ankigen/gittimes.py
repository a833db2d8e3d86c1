"""A new card's modification time: its note's last git commit, else the file's mtime."""

from __future__ import annotations

import subprocess
from pathlib import Path


class ModTimes:
    """A new card's modification time: its note's last git commit, else the file's mtime."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._git: dict[str, int] | None = None

    def __call__(self, rel: str) -> int:
        if self._git is None:
            self._git = git_commit_times(self.root)
        if rel in self._git:
            return self._git[rel]
        try:
            mtime = int((self.root / rel).stat().st_mtime)
        except OSError:
            mtime = 0
        self._git[rel] = mtime  # asked once per card: one stat per note is enough
        return mtime


def git_commit_times(root: Path) -> dict[str, int]:
    """Last commit time of every file under `root`, from one `git log` (empty outside git)."""
    try:
        result = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "-c",
                "core.quotepath=off",  # else git writes "Caf\303\251.md" for Café.md
                "log",
                "--format=%x00%ct",
                "--name-only",
                "--relative",
                "--",
                ".",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    times: dict[str, int] = {}
    for entry in result.stdout.split("\x00")[1:]:
        lines = entry.strip().splitlines()
        if not lines:
            continue
        commit_time = int(lines[0])
        for name in lines[1:]:
            times.setdefault(name, commit_time)  # the log is newest first
    return times
