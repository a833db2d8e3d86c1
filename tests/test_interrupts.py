"""Ctrl-C or SIGTERM at any moment of a real build: one line, exit 130, nothing left behind.

A vault is generated (notes with code, tables, lists and math, so that rendering takes a
while), built once through the real command line to learn how long a build takes, then built
again and again, each time stopped at another moment of that span: while ankigen imports,
while notes are read and rendered (in this process for one folder, in worker processes for
several), while packages are written. Every time: no traceback and no "Exception ignored" (a
KeyboardInterrupt that Python could not raise where the signal found it), exit 130 and the one
line "ankigen: interrupted" (or a finished build, when the signal came too late), no worker
process left, no temporary file left in the output or the temporary folder.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, write_vault

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

TRIES = int(os.environ.get("ANKIGEN_INTERRUPT_TRIES", "10"))


def _note(rng: random.Random, index: int) -> str:
    cards = []
    for card in range(8):
        answer = rng.choice(
            [
                "```python\n"
                + "\n".join(f"def f{k}(x):\n    return x * {k}" for k in range(12))
                + "\n```",
                "| a | b |\n|---|---|\n" + "\n".join(f"| {k} | **{k * k}** |" for k in range(15)),
                "\n".join(f"- item {k} with `code` and *emphasis*" for k in range(15)),
                "$$\\sum_{k=0}^{n} k = \\frac{n(n+1)}{2}$$ and $x^2$ " * 3,
            ]
        )
        cards.append(f"#Question What is fact {index}.{card}?\n\n{answer}\n")
    return "\n".join(cards)


def _vault(root: Path, folders: int, notes: int) -> Path:
    rng = random.Random(folders)
    files = {
        f"F{f}/note{n}.md": _note(rng, f * 1000 + n) for f in range(folders) for n in range(notes)
    }
    return write_vault(root, files)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for_handlers(process: subprocess.Popen[str]) -> None:
    """Until ankigen has set its signal handlers (SIGTERM caught, in /proc's SigCgt mask): a
    signal while the Python interpreter itself starts up is the interpreter's business."""
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            return
        caught = int(status.split("SigCgt:", 1)[1].split()[0], 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.002)


def _build(vault: Path, out: Path, tmp: Path) -> subprocess.Popen[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "ankigen", str(vault), "-o", str(out), "--offline", "--force",
         "--cache-dir", str(out.parent / "cache")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp)},
        start_new_session=True,  # its own process group, as a shell job has
    )  # fmt: skip


@pytest.mark.parametrize(("folders", "notes"), [(1, 30), (4, 12)], ids=["in-process", "workers"])
def test_a_signal_at_any_moment_stops_the_build_cleanly(tmp_path, folders, notes):
    vault = _vault(tmp_path / "vault", folders, notes)
    first = _build(vault, tmp_path / "first", tmp_path / "tmp-first")
    _wait_for_handlers(first)
    started = time.monotonic()
    _, err = first.communicate(timeout=600)
    span = time.monotonic() - started
    assert first.returncode == 0, err
    rng = random.Random(7)
    stopped = 0
    for attempt in range(TRIES):
        out, tmp = tmp_path / f"out{attempt}", tmp_path / f"tmp{attempt}"
        process = _build(vault, out, tmp)
        _wait_for_handlers(process)
        # Spread over the build: its start, the reading and rendering, the writing.
        delay = span * (attempt + rng.random()) / TRIES
        deadline = time.monotonic() + delay
        workers: set[int] = set()
        while time.monotonic() < deadline and process.poll() is None:
            workers.update(_children(process.pid))
            time.sleep(0.01)
        how = signal.SIGTERM if attempt % 4 == 3 else signal.SIGINT
        try:
            if how == signal.SIGINT:  # the terminal sends it to the whole foreground group
                os.killpg(process.pid, how)
            else:
                os.kill(process.pid, how)
        except ProcessLookupError:
            pass
        said, err = process.communicate(timeout=600)
        assert "Traceback" not in err and "Exception ignored" not in err, (delay, err)
        if process.returncode == 0:
            continue  # the build was done before the signal came
        if process.returncode == -how and not err and "packages in" in said:
            # Done too, summary printed: the signal came while Python itself was finishing
            # (it puts the default handlers back then), with nothing left to clean up.
            continue
        stopped += 1
        assert process.returncode == 130, (delay, err)
        # One line says so, last (a warning printed before the signal may stand above it).
        lines = err.strip().splitlines()
        assert lines[-1:] == ["ankigen: interrupted"], (delay, err)
        assert lines.count("ankigen: interrupted") == 1, (delay, err)
        gone = time.monotonic() + 30
        while any(_alive(pid) for pid in workers) and time.monotonic() < gone:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)], "a worker outlived the build"
        assert not out.exists() or not list(out.glob(".ankigen-tmp-*"))
        assert list(tmp.iterdir()) == [], "a temporary file outlived the build"
    assert stopped >= TRIES // 2
