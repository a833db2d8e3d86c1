"""Shared fixtures: the seed note from ../shared and a way to write small vaults."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SEED = REPO.parent / "shared" / "seeds" / "AMI.md"
sys.path.insert(0, str(TESTS))


@pytest.fixture
def seed_text() -> str:
    if not SEED.is_file():
        pytest.skip("../shared/seeds/AMI.md is not beside the clone")
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
