"""The rows of the README's table "When a re-import replaces a card" that issue 15 added: one
test per row. Adopted notes keep the collection's modification time until their text in the
vault changes; adopting again moves no time; a card not built this time keeps its entry.
"""

from __future__ import annotations

from pathlib import Path

import ankiutil
import pytest
from anki.collection import Collection
from conftest import write_vault
from test_adopt import plugin_collection  # noqa: F401 - the fixture

from ankigen.adopt import adopt
from ankigen.build import BuildOptions, build
from ankigen.identity.lockfile import load_lock
from ankigen.media import MediaOptions


def _build(vault: Path, tmp_path: Path, **options: object):
    media = MediaOptions(cache_dir=tmp_path / "cache", offline=True)
    report = build(BuildOptions(vault=vault, out_dir=tmp_path / "dist", media=media, **options))
    assert not report.refused
    return report


def _lock_mods(vault: Path) -> dict[str, int]:
    lock, problems = load_lock(vault / "ankigen.lock")
    assert problems == ()
    return {e.guid: e.mod for entries in lock.notes.values() for e in entries}


def _collection_notes(path: Path) -> dict[str, tuple[int, str]]:
    """GUID → (mod, fields) of every note in the collection."""
    col = Collection(str(path))
    try:
        return {
            guid: (mod, flds) for guid, mod, flds in col.db.all("select guid, mod, flds from notes")
        }
    finally:
        col.close()


def _import(path: Path, tmp_path: Path) -> None:
    col = Collection(str(path))
    try:
        for apkg in sorted((tmp_path / "dist").glob("*.apkg")):
            ankiutil.import_package(col, apkg)
    finally:
        col.close()


def _edit_in_anki(path: Path, nid: int, back: str) -> None:
    col = Collection(str(path))
    try:
        note = col.get_note(nid)
        note["Back"] = back
        col.update_note(note)
    finally:
        col.close()


def test_rule_adopted_note_unchanged_keeps_the_collections_time(plugin_collection, tmp_path):  # noqa: F811
    vault, collection, ids = plugin_collection
    _edit_in_anki(collection, ids["nile"], "Edited in Anki after the last sync")
    before = _collection_notes(collection)
    adopt(vault, collection)
    mods = _lock_mods(vault)
    for guid, (mod, _) in before.items():
        if guid in mods:
            assert mods[guid] == mod  # the lock holds the collection's own time
    report = _build(vault, tmp_path)
    assert report.changes is not None
    adopted = [guid for guid in before if guid in mods]
    assert len(adopted) == 4
    _import(collection, tmp_path)
    after = _collection_notes(collection)
    assert {g: after[g] for g in before} == before  # nothing replaced, the Anki edit kept


def test_rule_adopted_note_changed_in_the_vault_moves_and_is_updated(plugin_collection, tmp_path):  # noqa: F811
    vault, collection, ids = plugin_collection
    adopt(vault, collection)
    first = _lock_mods(vault)
    rivers = vault / "Geography" / "Rivers.md"
    rivers.write_text(rivers.read_text().replace("6,650 km", "6,650 km long"), encoding="utf-8")
    _build(vault, tmp_path)
    # The adopted cards' times (the new cards get theirs at this first build).
    moved = {g for g, mod in _lock_mods(vault).items() if first.get(g) and mod != first[g]}
    col = Collection(str(collection))
    try:
        nile = col.get_note(ids["nile"])
        old_mod = nile.mod
    finally:
        col.close()
    assert moved == {nile.guid}  # that card only
    _import(collection, tmp_path)
    col = Collection(str(collection))
    try:
        nile = col.get_note(ids["nile"])
        assert "6,650 km long" in nile["Back"]
        assert nile.mod > old_mod
    finally:
        col.close()


def test_rule_adopting_again_moves_no_time(plugin_collection, tmp_path):  # noqa: F811
    vault, collection, _ = plugin_collection
    adopt(vault, collection)
    _build(vault, tmp_path)
    _import(collection, tmp_path)
    lock = (vault / "ankigen.lock").read_bytes()
    settled = _collection_notes(collection)
    again = adopt(vault, collection)
    assert again.count("matched") == 4
    assert (vault / "ankigen.lock").read_bytes() == lock
    report = _build(vault, tmp_path)
    assert report.changes is not None and report.changes.changed == ()
    _import(collection, tmp_path)
    assert _collection_notes(collection) == settled


@pytest.mark.parametrize("syntax", [("seed",), ("spaced-repetition",)])
def test_rule_card_not_built_this_time_keeps_its_time(tmp_path, syntax):
    vault = write_vault(
        tmp_path / "vault",
        {"A/N.md": "#flashcards\n\nWhat is sr::Two\n\n#Q What is seed?\nAnswer: One.\n"},
    )
    _build(vault, tmp_path)
    first = _lock_mods(vault)
    partial = _build(vault, tmp_path, syntax=syntax)
    assert partial.changes is not None
    assert len(partial.changes.kept) == 1 and partial.changes.removed == ()
    assert _lock_mods(vault) == first
    full = _build(vault, tmp_path)
    assert full.changes is not None and full.changes.added == ()
    assert _lock_mods(vault) == first
