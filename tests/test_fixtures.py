"""Every fixture file gives exactly its expected output (see tests/fixture_cases.py)."""

from __future__ import annotations

import pytest
from fixture_cases import Case, render_cases, render_output, syntax_cases, syntax_output


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
