"""Decks Anki will not rename: cards meant for `Default` land in the user's Default deck (id 1)
and no package carries two decks Anki takes as one name, whatever the import order and
whatever the collection's Default deck holds (real CLI, real Anki collection)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import ankiutil
import pytest
from conftest import REPO, write_vault
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.package import DEFAULT_DECK_ID, DeckTable, anki_deck_name
from ankigen.syntax import flashcards
from ankigen.syntax.obsidian_to_anki import PLUGIN_ID

# Each folder is one package; the notes choose Default, or names Anki takes as the same deck.
VAULT = {
    f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps({"settings": {}}),
    f".obsidian/plugins/{flashcards.PLUGIN_ID}/data.json": json.dumps({"folderBasedDeck": False}),
    "A/Plain.md": "STARTI [Basic] Which deck has no name? Back: Default ENDI\n",
    "B/Lower.md": (
        "TARGET DECK: default\nSTARTI [Basic] Is the deck name's case kept? Back: no ENDI\n"
    ),
    "C/Spaced.md": (
        "TARGET DECK:  Physics :: Waves \nSTARTI [Basic] What is a node? Back: rest ENDI\n"
    ),
    "D/Mixed.md": (
        "TARGET DECK: physics::waves\nSTARTI [Basic] What is an antinode? Back: most ENDI\n"
    ),
    "E/Card.md": "What is the plugin's default deck? #card\nDefault, unless the folder\n",
    "F/Child.md": "TARGET DECK: Default::Sub\nSTARTI [Basic] A child of Default? Back: yes ENDI\n",
}
EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
DEFAULT_QUESTIONS = ("Which deck has no name?", "Is the deck name", "plugin's default deck")


def _build(vault: Path, out: Path) -> list[Path]:
    result = subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return sorted(out.glob("*.apkg"))


def _collection(tmp_path: Path, kind: str):
    tmp_path.mkdir()
    col = ankiutil.new_collection(tmp_path, f"{kind}.anki2")
    if kind == "default-in-use":  # the user's own card in Default
        note = col.new_note(col.models.by_name("Basic"))
        note["Front"], note["Back"] = "mine", "kept"
        col.add_note(note, DEFAULT_DECK_ID)
    elif kind == "default-renamed":  # deck 1 renamed by the user
        deck = col.decks.get(DEFAULT_DECK_ID)
        deck["name"] = "Inbox"
        col.decks.save(deck)
    return col


@pytest.mark.parametrize("kind", ["fresh", "default-in-use", "default-renamed"])
def test_no_default_underscore_deck_in_any_order(tmp_path: Path, kind: str) -> None:
    packages = _build(write_vault(tmp_path / "vault", VAULT), tmp_path / "out")
    assert len(packages) == 6
    orders = [packages, packages[::-1], [packages[i] for i in (4, 1, 3, 0, 5, 2)]]
    for number, order in enumerate(orders):
        col = _collection(tmp_path / str(number), kind)
        try:
            for apkg in order:
                ankiutil.import_package(col, apkg)
            for apkg in order:  # and again: still no renamed deck
                ankiutil.import_package(col, apkg)
            names = sorted(d.name for d in col.decks.all_names_and_ids())
            assert not [n for n in names if n.endswith("_") or "_::" in n], names
            assert len({n.casefold() for n in names}) == len(names), names
            by_question = {n.fields[next(iter(n.fields))]: n for n in ankiutil.notes(col)}
            assert len(by_question) == 6 + (kind == "default-in-use")
            default = col.decks.name(DEFAULT_DECK_ID)
            for question, note in by_question.items():
                if any(q in question for q in DEFAULT_QUESTIONS):
                    assert note.decks == [default], (question, note.decks)
            physics = [n.decks for q, n in by_question.items() if "node" in q]
            assert physics[0] == physics[1] and len(physics[0]) == 1
        finally:
            col.close()


def test_one_deck_per_name_anki_compares() -> None:
    names = ["Default", "default", " Default ", "A::B", "a :: b", "A::B::", "", "Ä", "A\u0308"]
    table = DeckTable(names)
    assert table.ids["Default"] == table.ids["default"] == table.ids[""] == DEFAULT_DECK_ID
    assert table.ids["A::B"] == table.ids["a :: b"] == table.ids["A::B::"]
    assert table.ids["Ä"] == table.ids["A\u0308"]
    shown = list(table.names.values())
    assert len({n.casefold() for n in shown}) == len(shown)
    assert anki_deck_name(" x ::  :: y\x07 ") == "x::y"
    for order in itertools.permutations(["B", "b", "Default"]):  # the same table in any order
        assert DeckTable(order).names == DeckTable(["B", "b", "Default"]).names


_PART = st.sampled_from(["Default", "default", " DEFAULT", "A", "a ", "Ä", "A\u0308", "", "x\x07"])


@settings(max_examples=EXAMPLES or 200, deadline=None, derandomize=not EXAMPLES)
@given(st.lists(st.lists(_PART, min_size=1, max_size=3).map("::".join), min_size=1, max_size=8))
def test_deck_table_never_holds_two_names_anki_takes_as_one(names: list[str]) -> None:
    table = DeckTable(names)
    shown = list(table.names.values())
    assert len({anki_deck_name(n).casefold() for n in shown}) == len(shown)
    assert table.names[DEFAULT_DECK_ID] == "Default"
    for name in names:
        did = table.ids[name]
        assert anki_deck_name(table.names[did]).casefold() == anki_deck_name(name).casefold()
        assert (did == DEFAULT_DECK_ID) == (anki_deck_name(name).casefold() == "default")
