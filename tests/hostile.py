"""Helpers for the hostile-input tests: run the real CLI under a wall-clock guard, check that
nothing outside the output folder changed, and import every package into a real Anki."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import ankiutil
from conftest import REPO

# Generous: a healthy build of these small vaults takes about a second.
WALL_CLOCK = 120

GOOD_NOTE = "#Question What stays?\nAnswer: the good card.\n"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def cli(vault: Path, out: Path, *args: str, timeout: float = WALL_CLOCK) -> Run:
    """`build_deck.py VAULT -o OUT --offline` with a private picture cache beside OUT."""
    command = [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(out)]
    command += ["--cache-dir", str(out.parent / "cache"), "--offline", *args]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, timeout=timeout, errors="replace"
    )
    return Run(result.returncode, result.stdout, result.stderr)


def snapshot(root: Path, *allowed: Path) -> dict[str, tuple]:
    """Every path under `root` but the `allowed` ones, with its kind, size, mtime and target.

    Never opens a file (a named pipe stays unread) and never follows a link."""
    allowed_set = {os.path.normpath(p) for p in allowed}
    seen: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(folder, d)) not in allowed_set]
        for name in files + dirs:
            path = os.path.join(folder, name)
            if os.path.normpath(path) in allowed_set:
                continue
            info = os.lstat(path)
            target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else ""
            regular = stat.S_ISREG(info.st_mode)
            # A folder's mtime changes when the lock file beside it is replaced: not compared.
            seen[os.path.relpath(path, root)] = (
                stat.S_IFMT(info.st_mode),
                info.st_size if regular else 0,
                info.st_mtime_ns if regular else 0,
                target,
            )
    return seen


def packages(out: Path) -> list[Path]:
    return sorted(out.glob("*.apkg"))


def import_all(tmp_path: Path, out: Path) -> list[ankiutil.ImportedNote]:
    """Import every package of `out` into a fresh Anki collection; its notes."""
    folder = tmp_path / f"anki-{len(list(tmp_path.glob('anki-*')))}"
    folder.mkdir()
    col = ankiutil.load(folder, *packages(out))
    try:
        return ankiutil.notes(col)
    finally:
        col.close()


def text(html: str) -> str:
    return re.sub(r"<[^>]*>", "", html).strip()


def questions(notes: list[ankiutil.ImportedNote]) -> list[str]:
    """The questions as plain text, sorted."""
    return sorted(text(note.fields["Question"]) for note in notes)
