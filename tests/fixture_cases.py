"""Fixture files: input Markdown beside the output it must give, and one runner for them all.

    tests/fixtures/render/NAME.md                 → NAME.html        (one card field's HTML)
    tests/fixtures/syntax/READER/NAME.md          → NAME.cards.json  (the cards and messages
                                                                      that reader gives)

A syntax folder may hold `data.json`: the plugin settings its notes are read with (the
reader's plugin id → that plugin's data.json object).

Regenerate after a deliberate change, then review the diff it prints before committing:

    .venv/bin/python tests/fixture_cases.py --write      (or: make fixtures)
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclasses.dataclass(frozen=True)
class Case:
    source: Path
    expected: Path

    @property
    def name(self) -> str:
        return str(self.source.relative_to(FIXTURES))


def render_cases() -> list[Case]:
    return [Case(md, md.with_suffix(".html")) for md in sorted(FIXTURES.glob("render/*.md"))]


def syntax_cases() -> list[Case]:
    return [
        Case(md, md.with_name(md.stem + ".cards.json"))
        for md in sorted(FIXTURES.glob("syntax/*/*.md"))
    ]


def render_output(case: Case) -> str:
    from ankigen.render import render_markdown

    return render_markdown(case.source.read_text(encoding="utf-8")) + "\n"


def syntax_output(case: Case) -> str:
    from ankigen.syntax import SyntaxSettings, read_note

    reader = case.source.parent.name
    settings_file = case.source.parent / "data.json"
    plugins = (
        json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.is_file() else {}
    )
    rel = f"{reader}/{case.source.name}"
    note, diagnostics = read_note(
        rel, case.source.read_text(encoding="utf-8"), SyntaxSettings((reader,), plugins)
    )
    cards = []
    for card in note.cards:
        record = dataclasses.asdict(card)
        cards.append({key: value for key, value in record.items() if value not in ((), "", 0)})
    result = {
        "cards": cards,
        "tags": list(note.tags),
        "diagnostics": [str(d) for d in diagnostics],
    }
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    # The readers mark clozes with private-use characters: shown escaped, still valid JSON.
    return "".join(f"\\u{ord(c):04x}" if "\ue000" <= c <= "\uf8ff" else c for c in text) + "\n"


def outputs() -> Iterator[tuple[Case, str]]:
    for case in render_cases():
        yield case, render_output(case)
    for case in syntax_cases():
        yield case, syntax_output(case)


def main(argv: list[str]) -> int:
    """--write: rewrite every expected file that differs and print the diff; else only diff."""
    write = "--write" in argv
    changed = 0
    for case, actual in outputs():
        old = case.expected.read_text(encoding="utf-8") if case.expected.exists() else ""
        if old == actual:
            continue
        changed += 1
        sys.stdout.writelines(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                str(case.expected.relative_to(FIXTURES.parent)),
                "(now)",
            )
        )
        if write:
            case.expected.write_text(actual, encoding="utf-8")
    verb = "rewritten" if write else "differ (rerun with --write to accept)"
    print(f"{changed} fixture file(s) {verb}" if changed else "every fixture file is current")
    return 1 if changed and not write else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))
