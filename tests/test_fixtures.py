"""Every fixture file gives exactly its expected output (see tests/fixture_cases.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_cases import (
    EXAMPLE_HASHES,
    Case,
    example_packages_output,
    render_cases,
    render_output,
    syntax_cases,
    syntax_output,
)


def _read(case: Case) -> str:
    if not case.expected.exists():
        pytest.fail(f"{case.expected} is missing: run `make fixtures` and review it")
    return case.expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", render_cases(), ids=lambda c: c.name)
def test_render_fixture(case: Case) -> None:
    assert render_output(case) == _read(case)


@pytest.mark.parametrize("case", syntax_cases(), ids=lambda c: c.name)
def test_syntax_fixture(case: Case) -> None:
    assert syntax_output(case) == _read(case)


def test_there_are_fixtures_for_every_reader() -> None:
    from ankigen.syntax import reader_names

    readers = {case.source.parent.name for case in syntax_cases()}
    assert set(reader_names()) <= readers
    assert len(render_cases()) >= 10


def test_example_vault_packages_are_byte_identical_to_the_committed_list(tmp_path: Path) -> None:
    """A change of any package the example vault gives is made on purpose: `make fixtures`
    rewrites the list, and the diff shows which packages changed."""
    assert example_packages_output(tmp_path) == _read(EXAMPLE_HASHES)
