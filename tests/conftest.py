"""Shared fixtures: the seed-style note of the repository and a way to write small vaults."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# A note written for this repository in the style of the real user's note in ../shared/seeds
# (same markers, layout and quirks: trailing spaces, "See:" left empty, two spaces after a
# marker, no final newline), so that no test depends on a file outside the clone.
SEED = TESTS / "fixtures" / "seed" / "ASG.md"
sys.path.insert(0, str(TESTS))


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
