"""`ankigen adopt`: a collection made as AnkiConnect makes it, adopted, built, imported.

The collection is built with the real `anki` package: notes with random GUIDs in Anki's stock
note types, some reviewed; the vault holds the plugin's notes with the ids it wrote. After
adopt + build + import: no duplicate, every adopted note updated in place, history kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import ankiutil
import pytest
from anki.collection import Collection
from conftest import ankigen_cli, write_vault
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.adopt import adopt
from ankigen.adoption_file import ADOPTED_FILE, load_adopted
from ankigen.anki_collection import CollectionError, read_collection
from ankigen.identity.lockfile import load_lock

# Random examples: a few hundred, the same each run; `ANKIGEN_FUZZ_EXAMPLES=5000` for more.
EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))


cli = ankigen_cli


def review(col: Collection, nid: int, interval: int) -> None:
    """The note's first card reviewed once: a review card with that interval, one revlog row."""
    card = col.get_note(nid).cards()[0]
    card.type = card.queue = 2
    card.ivl = interval
    card.due = col.sched.today + interval
    card.factor = 2500
    card.reps = 1
    col.update_card(card)
    col.db.execute(
        "insert into revlog values (?,?,?,?,?,?,?,?,?)",
        int(time.time() * 1000) + nid % 1000,
        card.id,
        -1,
        3,
        interval,
        0,
        2500,
        4000,
        1,
    )


def history(col: Collection, nid: int) -> tuple[int, int]:
    """(interval of the first card, review log rows of all the note's cards)."""
    cards = col.get_note(nid).cards()
    logs = sum(col.db.scalar("select count() from revlog where cid = ?", c.id) for c in cards)
    return min(cards, key=lambda c: c.ord).ivl, logs


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def plugin_collection(tmp_path):
    """A collection as Obsidian_to_Anki left it, and the vault that made it."""
    (tmp_path / "profile").mkdir()
    col = Collection(str(tmp_path / "profile" / "collection.anki2"))
    basic = col.models.by_name("Basic")
    reversed_ = col.models.by_name("Basic (and reversed card)")
    cloze = col.models.by_name("Cloze")
    rivers = col.decks.id("Geography::Rivers")
    default = col.decks.id("Default")

    def add(notetype, deck: int, *values: str, tags=("Obsidian_to_Anki",)) -> int:
        note = col.new_note(notetype)
        for index, value in enumerate(values):
            note.fields[index] = value
        note.tags = list(tags)
        col.add_note(note, deck)
        return note.id

    ids = {
        "nile": add(basic, rivers, "Longest river in Africa?", "The Nile"),
        "amazon": add(reversed_, rivers, "Amazon", "Largest river by discharge"),
        "danube": add(cloze, rivers, "The Danube flows into the {{c1::Black Sea}}.", ""),
        "source": add(basic, default, "Where does the Thames rise?", "Gloucestershire"),
        "twin1": add(basic, default, "Same question", "first"),
        "twin2": add(basic, default, "Same question", "second"),
        "untouched": add(basic, default, "A card not from the vault", "stays"),
    }
    review(col, ids["nile"], 12)
    review(col, ids["amazon"], 30)
    review(col, ids["danube"], 5)
    review(col, ids["source"], 7)
    # The plugin added them a while ago (Anki updates a note only from a newer one).
    col.db.execute("update notes set mod = mod - 86400")
    col.close()
    vault = write_vault(
        tmp_path / "vault",
        {
            "Geography/Rivers.md": (
                "TARGET DECK: Geography::Rivers\n\n# Rivers\n\n"
                "START\nBasic\nFront: Longest river in Africa?\nBack: The **Nile**, 6,650 km.\n"
                f"<!--ID: {ids['nile']}-->\nEND\n\n"
                "START\nBasic (and reversed card)\nFront: Amazon\n"
                f"Back: Largest river by discharge\n<!--ID: {ids['amazon']}-->\nEND\n\n"
                "START\nCloze\nText: The Danube flows into the {{c1::Black Sea}}.\n"
                f"Back Extra: via Romania\n<!--ID: {ids['danube']}-->\nEND\n\n"
                "STARTI [Basic] A river not yet in Anki? Back: the Loire ENDI\n"
            ),
            "Geography/England.md": (
                "START\nBasic\nFront: Where does the Thames rise?\nBack: Gloucestershire, "
                "near Kemble\nEND\n\n"
                "START\nBasic\nFront: Same question\nBack: which one?\nEND\n\n"
                "START\nBasic\nFront: Gone from Anki\nBack: x\n<!--ID: 1234567890123-->\nEND\n"
                f"\nDELETE\n<!--ID: {ids['twin2']}-->\n"
            ),
        },
    )
    return vault, tmp_path / "profile" / "collection.anki2", ids


def test_adopt_build_import_updates_in_place_with_history(plugin_collection, tmp_path):
    vault, collection, ids = plugin_collection
    before = digest(collection)
    result = cli("adopt", vault, "--collection", collection)
    assert result.returncode == 0, result.stderr
    assert digest(collection) == before  # read-only
    assert (
        "adopt: 4 matched, 1 ambiguous, 2 new, 1 marked DELETE; GUIDs recorded in ankigen.lock"
        in result.stdout
    )
    assert "Geography/England.md:7: ambiguous: 2 notes in deck 'Default'" in result.stdout
    assert "Geography/England.md:13: new: note id 1234567890123 is not in the collection" in (
        result.stdout
    )
    assert "Geography/Rivers.md:26: new: no note in deck 'Geography::Rivers'" in result.stdout
    assert (vault / ADOPTED_FILE).is_file()

    built = cli("build", vault, "-o", tmp_path / "dist", "--offline", "--cache-dir", tmp_path / "c")
    assert built.returncode == 0, built.stderr
    col = Collection(str(collection))
    try:
        count_before = col.note_count()
        for apkg in sorted((tmp_path / "dist").glob("*.apkg")):
            ankiutil.import_package(col, apkg)
        # Three new cards (the Loire, the ambiguous twin, the one gone from Anki), no duplicate.
        assert col.note_count() == count_before + 3
        nile = col.get_note(ids["nile"])
        assert nile.note_type()["name"] == "Basic"
        # Adopted, text unchanged since: Anki's notes stay as they are (no time moved).
        assert nile["Back"] == "The Nile"
        assert col.get_note(ids["source"])["Back"] == "Gloucestershire"
        assert history(col, ids["nile"]) == (12, 1)
        assert col.get_note(ids["twin1"])["Back"] == "first"  # ambiguous: left alone
        assert col.get_note(ids["untouched"])["Back"] == "stays"
        fronts = [
            re.sub(r"<[^>]*>", "", col.get_note(n).fields[0]).strip() for n in col.find_notes("")
        ]
        assert fronts.count("Same question") == 3  # the twins, and the new card for the vault's
        assert len(fronts) == len(set(fronts)) + 2  # nothing else twice
        assert sorted(m["name"] for m in col.models.all()).count("Basic") == 1
        assert not col.find_notes("tag:ankigen::moved*")  # adopted cards stay where they are
    finally:
        col.close()

    # Edited in the vault after adopting: the adopted notes are updated in place.
    for rel, old, new in (
        ("Geography/Rivers.md", "6,650 km.", "6,650 km long."),
        ("Geography/Rivers.md", "Back: Largest", "Back: The largest"),
        ("Geography/Rivers.md", "via Romania", "via Romania and Ukraine"),
        ("Geography/England.md", "near Kemble", "near Kemble, Gloucestershire"),
    ):
        path = vault / rel
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    built = cli("build", vault, "-o", tmp_path / "dist", "--offline", "--cache-dir", tmp_path / "c")
    assert built.returncode == 0, built.stderr
    col = Collection(str(collection))
    try:
        count_before = col.note_count()
        for apkg in sorted((tmp_path / "dist").glob("*.apkg")):
            ankiutil.import_package(col, apkg)
        assert col.note_count() == count_before
        nile = col.get_note(ids["nile"])
        assert "<strong>Nile</strong>, 6,650 km long." in nile["Back"]
        assert history(col, ids["nile"]) == (12, 1)
        amazon = col.get_note(ids["amazon"])
        assert len(amazon.cards()) == 2
        assert "The largest" in amazon["Back"]
        assert history(col, ids["amazon"]) == (30, 1)
        danube = col.get_note(ids["danube"])
        assert "{{c1::Black Sea}}" in danube["Text"]
        assert "via Romania and Ukraine" in danube["Back Extra"]
        assert history(col, ids["danube"]) == (5, 1)
        thames = col.get_note(ids["source"])  # matched by its first field, no id in the note
        assert "near Kemble, Gloucestershire" in thames["Back"]
        assert history(col, ids["source"]) == (7, 1)
    finally:
        col.close()

    # The Amazon card is deleted from the notes: the todo search finds its note by id.
    rivers = vault / "Geography" / "Rivers.md"
    text = rivers.read_text(encoding="utf-8")
    start = text.index("START\nBasic (and reversed card)")
    rivers.write_text(text[:start] + text[text.index("END\n", start) + 4 :], encoding="utf-8")
    again = cli("build", vault, "-o", tmp_path / "dist", "--offline", "--cache-dir", tmp_path / "c")
    assert again.returncode == 0, again.stderr
    todo = (tmp_path / "dist" / "ankigen-todo.txt").read_text(encoding="utf-8")
    search = next(line.strip() for line in todo.splitlines() if "nid:" in line)
    col = Collection(str(collection))
    try:  # the deleted Amazon card and the twin marked DELETE, nothing else
        assert sorted(col.find_notes(search)) == sorted([ids["amazon"], ids["twin2"]])
    finally:
        col.close()
    # Adopting again after the import: the Loire is ankigen's own note now, nothing to adopt.
    again = adopt(vault, collection, write=False)
    assert "1 already ankigen's" in again.summary()


def test_adopt_reads_a_colpkg_backup_and_dry_run_writes_nothing(plugin_collection, tmp_path):
    vault, collection, ids = plugin_collection
    col = Collection(str(collection))
    backup = tmp_path / "backup.colpkg"
    col.export_collection_package(str(backup), include_media=False, legacy=False)
    col.close()
    data = read_collection(backup)
    assert data.notes[ids["nile"]].decks == ("Geography::Rivers",)
    assert data.notetypes[data.notes[ids["danube"]].notetype].cloze
    legacy = tmp_path / "legacy.colpkg"
    col = Collection(str(collection))
    col.export_collection_package(str(legacy), include_media=False, legacy=True)
    col.close()
    old = read_collection(legacy)  # the schema older Anki versions read: JSON note types
    assert old.notes[ids["amazon"]].guid == data.notes[ids["amazon"]].guid
    assert old.notetypes[old.notes[ids["danube"]].notetype].cloze
    report = adopt(vault, backup, write=False)
    assert report.summary() == "4 matched, 1 ambiguous, 2 new, 1 marked DELETE"
    assert not (vault / "ankigen.lock").exists()
    assert not (vault / ADOPTED_FILE).exists()


def test_adopted_guids_are_in_the_lock(plugin_collection):
    vault, collection, ids = plugin_collection
    adopt(vault, collection)
    lock, problems = load_lock(vault / "ankigen.lock")
    assert problems == ()
    data = read_collection(collection)
    guids = {e.guid for entries in lock.notes.values() for e in entries}
    for name in ("nile", "amazon", "danube", "source"):
        assert data.notes[ids[name]].guid in guids
    adopted, problems = load_adopted(vault)
    assert problems == []
    assert adopted.notetype_of(data.notes[ids["nile"]].guid).name == "Basic"


def test_not_a_collection_is_a_clear_error(tmp_path):
    vault = write_vault(tmp_path / "v", {"a.md": "x"})
    (tmp_path / "junk.anki2").write_bytes(b"not sqlite at all" * 10)
    result = cli("adopt", vault, "--collection", tmp_path / "junk.anki2")
    assert result.returncode == 1
    assert "is not an Anki collection" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(CollectionError):
        read_collection(tmp_path / "missing.anki2")
    shutil.rmtree(vault)


def test_flashcards_notes_are_adopted_by_their_block_ids(tmp_path):
    """The Flashcards plugin's own note types (Obsidian-basic…) and its `^id` lines."""
    (tmp_path / "profile").mkdir()
    col = Collection(str(tmp_path / "profile" / "collection.anki2"))
    basic = col.models.new("Obsidian-basic")
    for name in ("Front", "Back", "Source"):  # Source: the plugin's sourceSupport option
        col.models.add_field(basic, col.models.new_field(name))
    template = col.models.new_template("Card 1")
    template["qfmt"], template["afmt"] = "{{Front}}", "{{FrontSide}}<hr id=answer>{{Back}}"
    col.models.add_template(basic, template)
    col.models.add(basic)
    basic = col.models.by_name("Obsidian-basic")
    note = col.new_note(basic)
    note["Front"], note["Back"] = "Largest planet", "Jupiter"
    col.add_note(note, col.decks.id("Sky"))
    review(col, note.id, 9)
    col.db.execute("update notes set mod = mod - 86400")
    col.close()
    vault = write_vault(
        tmp_path / "vault",
        {"Sky/Planets.md": f"## Largest planet #card\nJupiter, the giant.\n^{note.id}\n"},
    )
    report = adopt(vault, tmp_path / "profile" / "collection.anki2")
    assert report.summary() == "1 matched, 0 ambiguous, 0 new"
    built = cli("build", vault, "-o", tmp_path / "dist", "--offline", "--cache-dir", tmp_path / "c")
    assert built.returncode == 0, built.stderr
    col = Collection(str(tmp_path / "profile" / "collection.anki2"))
    try:
        ankiutil.import_package(col, tmp_path / "dist" / "Sky.apkg")
        assert col.note_count() == 1
        assert col.get_note(note.id)["Back"] == "Jupiter"  # unchanged since adopted: kept
    finally:
        col.close()
    planets = vault / "Sky" / "Planets.md"
    planets.write_text(planets.read_text().replace("the giant", "the giant one"))
    built = cli("build", vault, "-o", tmp_path / "dist", "--offline", "--cache-dir", tmp_path / "c")
    assert built.returncode == 0, built.stderr
    col = Collection(str(tmp_path / "profile" / "collection.anki2"))
    try:
        ankiutil.import_package(col, tmp_path / "dist" / "Sky.apkg")
        assert col.note_count() == 1
        updated = col.get_note(note.id)
        assert "Jupiter, the giant one." in updated["Back"]
        assert "Sky/Planets.md" in updated["Source"]  # ours, where the note type has one
        assert history(col, note.id) == (9, 1)
    finally:
        col.close()


def test_usage_errors(tmp_path):
    vault = write_vault(tmp_path / "v", {"a.md": "x"})
    wrong = cli("adopt", vault, "--collection", tmp_path / "c.anki2", "--syntax", "bogus")
    assert wrong.returncode == 2
    assert "unknown syntax bogus" in wrong.stderr
    assert cli("adopt", vault).returncode == 2  # --collection is required
    missing = cli("adopt", tmp_path / "nowhere", "--collection", tmp_path / "c.anki2")
    assert missing.returncode == 2
    assert "vault folder not found" in missing.stderr


@settings(max_examples=EXAMPLES or 300, deadline=None, derandomize=not EXAMPLES)
@given(st.binary(max_size=64))
def test_any_note_type_configuration_reads_or_is_refused(data):
    from ankigen.anki_collection import _protobuf_varint

    try:
        value = _protobuf_varint(data, 1)
    except ValueError:
        return
    assert value >= 0


def test_a_collection_with_odd_tables_is_a_clear_error(tmp_path):
    import sqlite3

    path = tmp_path / "odd.anki2"
    db = sqlite3.connect(path)
    db.execute("create table notes (id integer)")
    db.execute("create table cards (id integer)")
    db.commit()
    db.close()
    with pytest.raises(CollectionError, match="is not an Anki collection"):
        read_collection(path)
    archive = tmp_path / "empty.colpkg"
    import zipfile

    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("meta", b"")
    with pytest.raises(CollectionError, match="holds no collection"):
        read_collection(archive)


def test_a_card_no_longer_of_its_notes_kind_is_a_warning_not_a_broken_folder(plugin_collection):
    """The Danube's block became a Basic note in the vault; Anki's note is still a Cloze."""
    vault, collection, _ = plugin_collection
    adopt(vault, collection)
    rivers = vault / "Geography" / "Rivers.md"
    text = rivers.read_text(encoding="utf-8").replace(
        "START\nCloze\nText: The Danube flows into the {{c1::Black Sea}}.\n",
        "START\nBasic\nFront: The Danube flows into the {{c1::Black Sea}}.\n",
    )
    rivers.write_text(text, encoding="utf-8")
    built = cli("build", vault, "-o", vault.parent / "dist", "--offline", "--cache-dir", vault)
    assert built.returncode == 0, built.stderr
    assert "Geography/Rivers.md:19: warning: the card's note in Anki has a cloze note type" in (
        built.stderr + built.stdout
    )
    assert (vault.parent / "dist" / "Geography.apkg").is_file()
