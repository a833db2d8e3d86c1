"""Every syntax has one shape: a module that declares its name, label, place in the overlap
order, settings file and typed Settings, and a read(note, settings). A new syntax is one such
module and its registration: here a small one goes through a real build into Anki."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ankiutil
import pytest
from conftest import write_vault

from ankigen import cli, syntax
from ankigen.records import CardSource, Diagnostic
from ankigen.syntax import CheckedValues, NoteText, SyntaxSettings, read_note

# ---------------------------------------------------------------- a syntax of its own


@dataclass(frozen=True)
class _DefinitionSettings:
    separator: str = ":="

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, problems: list[str]) -> _DefinitionSettings:
        values = CheckedValues(data or {}, problems)
        return cls(values.line("separator", cls.separator))


_READS: list[str] = []  # notes the reader was asked to read, in this process


def _read(
    note: NoteText, settings: _DefinitionSettings
) -> tuple[list[CardSource], list[Diagnostic]]:
    """`Term := definition` lines outside code and comments, from the note's one scan."""
    _READS.append(note.rel)
    cards = []
    for row in note.body_scan.lines:
        if row.code or row.hidden or settings.separator not in row.visible:
            continue
        term, _, definition = row.visible.partition(settings.separator)
        cards.append(
            CardSource(
                kind="question",
                line=row.number,
                question=term.strip(),
                answer=definition.strip(),
                answer_line=row.number,
                context=note.context_at(row.number),
                syntax="definitions",
            )
        )
    return cards, []


def _module() -> types.ModuleType:
    module = types.ModuleType("definitions")
    module.NAME = "definitions"  # type: ignore[attr-defined]
    module.LABEL = "Definition"  # type: ignore[attr-defined]
    module.PRIORITY = 9  # type: ignore[attr-defined]
    module.IMPLICIT = False  # type: ignore[attr-defined]
    module.PLUGIN_ID = "definitions-plugin"  # type: ignore[attr-defined]
    module.Settings = _DefinitionSettings  # type: ignore[attr-defined]
    module.read = _read  # type: ignore[attr-defined]
    return module


@pytest.fixture
def definitions() -> Iterator[None]:
    syntax.register(_module())  # the one registration line
    try:
        yield
    finally:
        syntax.unregister("definitions")


NOTE = (
    "# Geology\n\n"
    "Basalt := a dark volcanic rock\n\n"
    "```\nCode := not a card\n```\n\n"
    "%% Hidden := not a card %%\n\n"
    "#Question What is magma?\nAnswer: molten rock below ground\n"
)


def test_a_new_syntax_is_a_module_and_its_registration(
    definitions: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vault = write_vault(
        tmp_path / "vault",
        {
            "Rocks/Kinds.md": NOTE,
            "Rocks/More.md": "Granite ~ a light rock\n",
            ".obsidian/plugins/definitions-plugin/data.json": json.dumps({"separator": 7}),
        },
    )
    _READS.clear()
    out = tmp_path / "out"
    status = cli.main(["build", str(vault), "-o", str(out), "--offline", "--syntax",
                       "seed,definitions"])  # fmt: skip
    said = capsys.readouterr()
    assert status == 0, said.err
    # Its settings file is read and checked once for the build, its warning said once.
    warning = "definitions-plugin/data.json:1: warning: 'separator' is not a one-line text"
    assert said.err.count(warning) == 1, said.err
    col = ankiutil.load(tmp_path, *sorted(out.glob("*.apkg")))
    fronts = {re.sub(r"<[^>]+>", "", n.fields["Question"]).strip() for n in ankiutil.notes(col)}
    assert fronts == {"Basalt", "What is magma?"}
    answers = " ".join(n.fields["Answer"] for n in ankiutil.notes(col))
    assert "a dark volcanic rock" in answers and "Code" not in fronts


def test_the_declarations_drive_the_options_the_order_and_the_labels(
    definitions: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "definitions" in syntax.reader_names()
    assert syntax.priority()[-1] == "definitions"  # PRIORITY 9: after every other syntax
    assert "definitions-plugin" in syntax.plugin_ids()
    # The overlap rule names it by its label: its card on a #Question card's line is not made.
    text = "#Question Q := x\nAnswer: a\n"
    parsed, found = read_note("D/n.md", text, SyntaxSettings())
    assert [c.syntax for c in parsed.cards] == ["seed"]
    assert any(d.message.startswith("Definition card not made: line 1") for d in found), found
    assert cli.main(["build", "v", "--syntax", "nonesuch"]) != 0
    assert "choose from seed, callouts, spaced-repetition, obsidian-to-anki, flashcards, " \
        "definitions" in capsys.readouterr().err  # fmt: skip


def test_settings_are_parsed_once_per_settings_object(definitions: None) -> None:
    calls: list[int] = []
    original = _DefinitionSettings.from_json.__func__  # type: ignore[attr-defined]

    def counting(cls, data, problems):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(cls, data, problems)

    settings = SyntaxSettings(enabled=("definitions",))
    _DefinitionSettings.from_json = classmethod(counting)  # type: ignore[method-assign,assignment]
    try:
        for index in range(20):
            read_note(f"D/n{index}.md", "A := b\n", settings)
    finally:
        _DefinitionSettings.from_json = classmethod(original)  # type: ignore[method-assign,assignment]
    assert len(calls) == 1


def test_every_reader_module_declares_the_shape() -> None:
    for name, plugin_id, volatile in syntax._MODULES:
        module = importlib.import_module(f"ankigen.syntax.{name}")
        for attribute in ("NAME", "LABEL", "PRIORITY", "IMPLICIT", "PLUGIN_ID", "Settings", "read"):
            assert hasattr(module, attribute), (name, attribute)
        # The registration line says what the build reads before importing any reader.
        assert (module.PLUGIN_ID, tuple(getattr(module, "VOLATILE", ()))) == (plugin_id, volatile)
        assert callable(module.Settings.from_json)
        module.Settings.from_json(None, [])  # defaults without a settings file
    priorities = [reader.priority for reader in syntax.readers().values()]
    assert len(set(priorities)) == len(priorities)  # one overlap order, no ties


DEEP = "<b>" * 210 + "deep"  # past mdlimits.MAX_HTML_DEPTH: the renderer shows it as text
WIDE = " " * 120 + "wide"  # past mdlimits.MAX_INDENT_COLUMNS


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("seed", "#Question q\nAnswer:\nx\n{x}\n", 4),
        ("callouts", "> [!question] q\n> x\n> {x}\n", 3),
        ("spaced-repetition", "#flashcards\n\nq\n?\nx\n{x}\n", 6),
        ("obsidian-to-anki", "START\nBasic\nFront: q\nBack: x\n{x}\nEND\n", 5),
        ("flashcards", "q #card\nx\n{x}\n", 3),
    ],
)
@pytest.mark.parametrize("limit", [DEEP, WIDE])
def test_the_renderer_limits_are_warned_for_every_readers_cards(
    name: str, text: str, line: int, limit: str
) -> None:
    settings = SyntaxSettings(enabled=(name,), callout_cards=("question",))
    parsed, found = read_note("D/n.md", text.format(x=limit), settings)
    assert [card.syntax or "seed" for card in parsed.cards] == [name], found
    expected = "HTML nested more than" if limit == DEEP else "indented more than"
    said = [d for d in found if d.message.startswith(expected)]
    assert [(d.path, d.line) for d in said] == [("D/n.md", line)], found


def test_a_build_with_nothing_to_read_imports_no_reader(tmp_path: Path) -> None:
    """The settings files are read and fingerprinted from the registration lines: a build
    that reads no note imports no reader module (nor parses their settings)."""
    from test_layers import REPO, _build

    vault = tmp_path / "vault"
    shutil.copytree(REPO / "examples" / "vault", vault)
    first = _build(vault, tmp_path / "out")
    assert first["status"] == 0
    again = _build(vault, tmp_path / "out")
    assert again["status"] == 0
    readers = {f"ankigen.syntax.{name}" for name, _, _ in syntax._MODULES}
    assert not readers & set(again["modules"]), sorted(readers & set(again["modules"]))
