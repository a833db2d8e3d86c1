"""The Anki Browser searches the build prints select exactly the deleted or moved cards, whatever
the vault's names: note and folder names holding another card's id, quotes, wildcards, colons
and backslashes, run against a real collection (col.find_notes / col.find_cards)."""

from __future__ import annotations

import re
from pathlib import Path

import ankiutil
import pytest
from conftest import write_vault
from test_build import run_build

from ankigen.cardid import card_id
from ankigen.todo import deleted_search

ID = re.compile(r"ankigen-[0-9a-f]{16}")

# Note names made of what an Anki search gives a meaning to; "{id}" is the deleted card's id.
NAMES = [
    "{id}",
    'title="{id}"',
    '<span title="{id}">',
    '<span title=\\"{id}\\">',
    "*{id}*",
    "_{id}_",
    "a:{id}",
    "back\\{id}",
    "Source:{id}",
    "{id} OR x",
    "*",
    "_",
    '"',
    "\\",
    "-{id}",
]


def _import_all(col, out: Path) -> None:
    for apkg in sorted(out.glob("*.apkg")):
        ankiutil.import_package(col, apkg)


def _note_of(col, question: str) -> int:
    [nid] = [n.id for n in ankiutil.notes(col) if question in next(iter(n.fields.values()))]
    return nid


def test_deleted_search_selects_only_the_deleted_card_whatever_the_names(tmp_path: Path):
    vault = write_vault(tmp_path / "vault", {"Gone/gone.md": "#Q What goes?\nAnswer: away\n"})
    out = tmp_path / "dist"
    col = ankiutil.new_collection(tmp_path)
    run_build(vault, out)
    _import_all(col, out)
    gone = _note_of(col, "What goes?")
    [gone_id] = ID.findall(col.get_note(gone)["Source"])
    # Notes named with the gone card's id (and other search syntax), in a folder and a deck
    # named with it too; each holds a card that stays.
    files = {
        f"Names/{name.format(id=gone_id)}.md": f"#Q Kept {i}?\nAnswer: stays\n"
        for i, name in enumerate(NAMES)
    }
    files[f"{gone_id}/deck.md"] = "#Q Kept in a folder named with the id?\nAnswer: stays\n"
    write_vault(vault, files)
    report = run_build(vault, out)
    assert report.cards == 1 + len(files)
    _import_all(col, out)
    assert len(col.find_notes(f"Source:*{gone_id}*")) > 1  # the id alone finds them all
    (vault / "Gone/gone.md").write_text("No card here any more.\n", encoding="utf-8")
    report = run_build(vault, out)
    search = report.todo.deleted_search()
    assert col.find_notes(search) == [gone]
    assert search in (out / "ankigen-todo.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("text", ['a"b', "a*b", "a_b", "a:b", "a\\b", "x OR y", "(", "-"])
def test_deleted_search_of_every_card_finds_each_alone(tmp_path: Path, text: str):
    """Cards whose notes are named with each other's ids: each card's search finds it alone."""
    vault = write_vault(tmp_path / "vault", {f"N/{text}.md": "#Q One?\nAnswer: 1\n"})
    out = tmp_path / "dist"
    col = ankiutil.new_collection(tmp_path)
    run_build(vault, out)
    _import_all(col, out)
    first = _note_of(col, "One?")
    [first_id] = ID.findall(col.get_note(first)["Source"])
    write_vault(vault, {f"N/{first_id}{text}.md": "#Q Two?\nAnswer: 2\n"})
    run_build(vault, out)
    _import_all(col, out)
    second = _note_of(col, "Two?")
    for nid in (first, second):
        guid = col.get_note(nid).guid
        assert card_id(guid) in col.get_note(nid)["Source"]
        assert col.find_notes(deleted_search([guid])) == [nid]


FOLDERS = ['q"x', "a*", "a_b", "c:d", "b\\s", "x OR y", "(p)", "-n", " s ", "e::f", "t\tab"]


@pytest.mark.parametrize("folder", FOLDERS)
def test_moved_search_selects_only_the_moved_cards(tmp_path: Path, folder: str):
    """A note moves into a folder whose name is search syntax; decks with names its search
    would match if unescaped, and a note tagged like a moved card, are never selected."""
    decoys = {
        f"{folder.replace(c, 'Z')}/decoy.md": f"#Q Decoy {i}?\nAnswer: d\n"
        for i, c in enumerate('*_:\\"( ')
        if c in folder
    }
    vault = write_vault(
        tmp_path / "vault",
        {
            "From/moving.md": "#Q Moving?\nAnswer: m\n",
            f"{folder}/here.md": "#Q Already there?\nAnswer: h\n",
            **decoys,
        },
    )
    out = tmp_path / "dist"
    col = ankiutil.new_collection(tmp_path)
    run_build(vault, out)
    _import_all(col, out)
    moving = _note_of(col, "Moving?")
    (vault / "From/moving.md").rename(vault / folder / "moving.md")
    report = run_build(vault, out)
    [moved] = report.todo.moved
    # A note elsewhere tagged with the moved cards' tag: the tag is left out with a warning.
    tag = moved.tag.replace("::", "/")
    write_vault(vault, {"Other/tagged.md": f"#Q Tagged? #{tag}\nAnswer: t\n"})
    report = run_build(vault, out)
    warned = [d for d in report.diagnostics if d.path == "Other/tagged.md"]
    assert warned and "left out" in warned[0].message
    _import_all(col, out)
    assert {col.get_card(c).nid for c in col.find_cards(moved.search())} == {moving}
    tagged = col.get_note(_note_of(col, "Tagged?"))
    assert not any(t.lower().startswith("ankigen::moved") for t in tagged.tags)
