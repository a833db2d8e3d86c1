"""Shared fixtures: the seed-style note of the repository and a way to write small vaults."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# A note written for this repository in the style of the real user's note in ../shared/seeds
# (same markers, layout and quirks: trailing spaces, "See:" left empty, two spaces after a
# marker, no final newline), so that no test depends on a file outside the clone.
SEED = TESTS / "fixtures" / "seed" / "ASG.md"
sys.path.insert(0, str(TESTS))


def ankigen_cli(
    *args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m ankigen ARGS` as a user runs it: its own process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "ankigen", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def write_vault(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write {relative path: text or bytes} under root; returns root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


# Every diagnostic the suite sees must have a code of its own in diagnostics.CODES: the
# messages that got only a fallback code are logged (by every process, CLI runs included) and
# listed at the end, and the run fails, so that a merge that adds messages gives them codes.
UNCODED_LOG = "ANKIGEN_UNCODED_LOG"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and not os.environ.get(UNCODED_LOG):
        folder = Path(tempfile.mkdtemp(prefix="ankigen-uncoded-"))
        os.environ[UNCODED_LOG] = str(folder / "uncoded.log")


def _uncoded() -> list[str]:
    try:
        lines = Path(os.environ[UNCODED_LOG]).read_text(encoding="utf-8").splitlines()
    except (KeyError, OSError):
        return []
    return sorted(set(lines))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not hasattr(session.config, "workerinput") and _uncoded() and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    found = _uncoded()
    if found and not hasattr(config, "workerinput"):
        terminalreporter.section("diagnostics without a code of their own (diagnostics.CODES)")
        for line in found[:200]:
            terminalreporter.write_line(line)


def fresh_venv(where: Path) -> Path:
    """A venv at `where` without ankigen, whose site-packages (returned) borrow this test
    environment's dependencies through a path file (no editable ankigen comes along)."""
    import subprocess
    import sysconfig
    import venv

    venv.create(where, with_pip=False)
    site = subprocess.run(
        [
            str(where / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", "utf-8")
    return Path(site)
