"""One note, one syntax's reading of each line: another syntax's markup (TARGET DECK, FILE
TAGS, START/END, STARTI, DELETE, #card lines) is never a card, and a card lost to an overlap is
either text by the README's rule (Spaced Repetition's separators) or named in a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, write_vault
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.syntax import (
    SyntaxSettings,
    _span,
    flashcards,
    obsidian_to_anki,
    priority,
    read_note,
    reader_names,
    spaced_repetition,
)

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
PLUGINS = {
    spaced_repetition.PLUGIN_ID: {"convertFoldersToDecks": False},
    obsidian_to_anki.PLUGIN_ID: {"settings": {}},
    flashcards.PLUGIN_ID: {},
}
ALL = SyntaxSettings(plugins=PLUGINS)

# The note: an Obsidian_to_Anki note in a vault with Spaced Repetition settings.
CODE_NOTE = (
    "#flashcards\n\nTARGET DECK\nCode::C++\n\nSTART\nBasic\nFront: How do you print x?\n"
    "Back: std::cout << x;\nEND\n\nSTART\nBasic\nFront: What ends a statement?\n"
    "Back: a semicolon, as in `int a = 1;` or std::endl\nEND\n"
)


def _read(text: str, enabled: tuple[str, ...] = ()):
    note, diagnostics = read_note("Code/Print.md", text, SyntaxSettings(enabled, PLUGINS))
    return list(note.cards), [str(d) for d in diagnostics]


def test_code_in_an_obsidian_to_anki_back_is_no_spaced_repetition_card() -> None:
    cards, problems = _read(CODE_NOTE)
    assert [(c.syntax, c.question) for c in cards] == [
        ("obsidian-to-anki", "How do you print x?"),
        ("obsidian-to-anki", "What ends a statement?"),
    ]
    assert all(c.deck == "Code::C++" for c in cards)
    assert problems == []
    alone, _ = _read(CODE_NOTE, ("spaced-repetition",))  # read alone: junk, as the plugin would
    assert alone


def test_target_deck_line_is_no_flashcards_card() -> None:
    text = "TARGET DECK\nCode::C++\n\nSTARTI [Basic] What is RAII? Back: scoped cleanup ENDI\n\n"
    text += "What is a template #card\nA pattern for code\n"
    cards, problems = _read(text)
    assert sorted(c.question for c in cards) == ["What is RAII?", "What is a template"]
    assert not [c for c in cards if c.question == "Code"]
    assert any("Code/Print.md:2: warning: Flashcards card not made" in p for p in problems)
    assert any("TARGET DECK line" in p for p in problems)


def test_a_target_deck_line_without_plugin_notes_is_no_card() -> None:
    text = "TARGET DECK\nCode::C++\n\nWhat is a template #card\nA pattern for code\n"
    cards, problems = _read(text)
    assert [c.question for c in cards] == ["What is a template"]
    assert any(":2: warning: Flashcards card not made: line 2 is" in p for p in problems)
    cards, _ = _read("#flashcards\nTARGET DECK\nCode::C++\n\nx::y\n")
    assert [c.question for c in cards] == ["x"]
    cards, _ = _read("#flashcards\nTARGET DECK\nCode::C++\n", ("spaced-repetition",))
    assert [c.question for c in cards] == ["Code"]  # the plugin's reading, when it is alone


def test_a_cards_deck_line_is_no_spaced_repetition_card() -> None:
    cards, _ = _read("#flashcards\n\ncards-deck: Space::Sky\n\nWhat is the Sun #card\nA star\n")
    assert [(c.syntax, c.question) for c in cards] == [("flashcards", "What is the Sun")]


def test_file_tags_and_start_lines_are_no_cards() -> None:
    text = (
        "#flashcards\nFILE TAGS\nlang::cpp\n\nSTART\nBasic\nFront: Q::A?\nBack: yes\nEND\n\na::b\n"
    )
    cards, _ = _read(text)
    assert [(c.syntax, c.question) for c in cards] == [
        ("obsidian-to-anki", "Q::A?"),
        ("spaced-repetition", "a"),
    ]


def test_a_seed_card_over_an_obsidian_to_anki_line_is_named() -> None:
    text = "#Question What is kept?\nAnswer: the first\nSTARTI [Basic] Other? Back: no ENDI\n"
    cards, problems = _read(text)
    assert [c.syntax for c in cards] == ["obsidian-to-anki"]
    assert any(
        p.startswith("Code/Print.md:1: warning: #Question card not made: line 3") for p in problems
    )


def test_the_order_is_the_readme_order() -> None:
    assert set(priority()) == set(reader_names())
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "### One note in several syntaxes" in readme


def test_through_the_cli(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "vault",
        {
            **{f".obsidian/plugins/{k}/data.json": json.dumps(v) for k, v in PLUGINS.items()},
            "Code/Print.md": CODE_NOTE,
        },
    )
    result = subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "2 question cards" in result.stdout and "warning" not in result.stderr


# ---------------------------------------------------------------- generated notes

_CHUNKS = st.sampled_from(
    [
        "START\nBasic\nFront: F{i}?\nBack: std::cout << x{i};\nEND",
        "START\nBasic\nFront: a{i}::b\n?\nBack: c{i}\nEND",
        "STARTI [Basic] I{i}::x? Back: J{i} ENDI",
        "TARGET DECK\nDeck{i}::Sub",
        "TARGET DECK: D{i}::E",
        "FILE TAGS\nt{i}::u",
        "DELETE\n<!--ID: 1712345678{i:03d}-->",
        "What is C{i} #card\nBack{i}::more",
        "## Heading {i} #card\nAnswer {i}",
        "#Question What is S{i}?\nAnswer: s{i}::t",
        "#Q Seed {i}?\nAnswer: ok",
        "s{i}::t{i}",
        "Multi {i}\n?\nLine {i}",
        "==High {i}== light",
        "^1712345678{i:03d}",
        "tags: x{i}",
        "cards-deck: Deck{i}::Sub",
    ]
)


@st.composite
def _notes(draw) -> str:
    chunks = draw(st.lists(_CHUNKS, min_size=1, max_size=8))
    joins = draw(st.lists(st.sampled_from(["\n\n", "\n"]), min_size=len(chunks), max_size=8))
    head = draw(st.sampled_from(["#flashcards\n\n", "#flashcards #card\n\n", ""]))
    pairs = zip(chunks, joins[: len(chunks)], strict=True)
    parts = [chunk.format(i=i) + join for i, (chunk, join) in enumerate(pairs)]
    return head + "".join(parts)


def _marks(text: str) -> dict[str, set[int]]:
    """Each syntax's markup lines, read the way the readers record them."""
    from ankigen.syntax import NoteText, readers

    note = NoteText("Code/Print.md", text)
    for reader in readers().values():
        reader.read(note, ALL.parsed(reader.name))
    return {
        name: {n for first, last, _ in marks for n in range(first, last + 1)}
        for name, marks in note.markup.items()
    }


@settings(max_examples=EXAMPLES or 300, deadline=None, derandomize=not EXAMPLES)
@given(_notes(), st.lists(st.sampled_from(reader_names()), min_size=1, unique=True))
def test_each_line_has_one_reading_and_no_card_goes_silently(text: str, enabled: list) -> None:
    enabled_ = tuple(name for name in reader_names() if name in enabled)
    cards, problems = _read(text, enabled_)
    marks = {name: lines for name, lines in _marks(text).items() if name in enabled_}
    owner: dict[int, str] = {}
    for card in cards:
        first, last = _span(card)
        for number in range(first, last + 1):
            # one syntax per line, and never over another syntax's markup
            assert owner.setdefault(number, card.syntax) == card.syntax, (text, card)
            assert all(number not in lines for n, lines in marks.items() if n != card.syntax)
    made = {(c.syntax, c.line, c.question) for c in cards}
    for name in enabled_:
        alone, _ = _read(text, (name,))
        for card in alone:
            if (card.syntax, card.line, card.question) in made:
                continue
            if name == "spaced-repetition":  # text inside another syntax's card: the rule
                first, last = _span(card)
                lines = set(range(first, last + 1))
                assert lines & set(owner) or any(lines & m for n, m in marks.items() if n != name)
            else:
                assert any(p.startswith(f"Code/Print.md:{card.line}: warning: ") for p in problems)
    # The syntax first in the order never loses a card it reads alone.
    first_enabled = next(name for name in priority() if name in enabled_)
    alone, _ = _read(text, (first_enabled,))
    assert {(c.line, c.question) for c in alone} <= {(c.line, c.question) for c in cards} or any(
        "not made: line" in p for p in problems
    )
