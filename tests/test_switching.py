"""Switching from Obsidian_to_Anki: the story the README tells, in a real collection (issue 15).

A collection made the way the plugin makes it (note ids as in the notes, stock and custom note
types, reviews, suspended and flagged cards, an edit made in Anki after the last sync, unrelated
decks); a build before adopting is refused with one line; adopt, build, import: nothing in the
collection changes; edit, delete (a block removed, DELETE above an ID), build, import: the edit
arrives and the printed search selects exactly the deleted notes; adopt again: the next import
changes nothing. Also: the doubles an import before adopting made are found by one search.
"""

from __future__ import annotations

import re
from pathlib import Path

import ankiutil
import pytest
from anki.collection import Collection
from conftest import write_vault
from test_adopt import cli, review

from ankigen.adoption_file import ADOPTED_FILE
from ankigen.build import BuildOptions, build
from ankigen.media import MediaOptions
from ankigen.todo import TODO_FILE

ANKI_EDIT = "cat (edited in Anki)"


def _notetype(col: Collection, name: str, fields: tuple[str, ...]) -> None:
    model = col.models.new(name)
    for field in fields:
        col.models.add_field(model, col.models.new_field(field))
    template = col.models.new_template("Card 1")
    template["qfmt"] = "{{" + fields[0] + "}}"
    template["afmt"] = "{{FrontSide}}<hr id=answer>{{" + fields[1] + "}}"
    col.models.add_template(model, template)
    col.models.add(model)


@pytest.fixture
def plugin_vault(tmp_path: Path) -> tuple[Path, Path, dict[str, int]]:
    """A collection as Obsidian_to_Anki left it, and the vault that made it."""
    (tmp_path / "profile").mkdir()
    path = tmp_path / "profile" / "collection.anki2"
    col = Collection(str(path))
    _notetype(col, "Vocab", ("Word", "Meaning"))  # the user's own note type, used by the plugin
    _notetype(col, "Reading log", ("Title", "Notes"))  # another, for notes not from the vault

    def add(notetype: str, deck: str, *values: str, tags=("Obsidian_to_Anki",)) -> int:
        note = col.new_note(col.models.by_name(notetype))
        for index, value in enumerate(values):
            note.fields[index] = value
        note.tags = list(tags)
        col.add_note(note, col.decks.id(deck))
        return note.id

    ids = {
        "nile": add("Basic", "Geography::Rivers", "Longest river in Africa?", "The Nile"),
        "amazon": add(
            "Basic (and reversed card)", "Geography::Rivers", "Amazon", "Largest by discharge"
        ),
        "danube": add("Cloze", "Geography::Rivers", "The Danube ends in the {{c1::Black Sea}}."),
        "seine": add("Basic", "Geography::Rivers", "River through Paris?", "The Seine"),
        "chat": add("Vocab", "Languages::French", "chat", "cat"),
        "chien": add("Vocab", "Languages::French", "chien", "dog"),
        "dune": add("Reading log", "Books", "Dune", "read in 2024", tags=()),
        "other": add("Basic", "Books", "A question of my own", "kept as it is", tags=()),
    }
    for name, interval in (("nile", 12), ("amazon", 30), ("danube", 5), ("seine", 8)):
        review(col, ids[name], interval)
    review(col, ids["chat"], 3)
    review(col, ids["other"], 4)
    chien = col.get_note(ids["chien"]).cards()[0]
    chien.queue = -1  # suspended
    col.update_card(chien)
    for name, flag in (("nile", 1), ("amazon", 3)):
        card = col.get_note(ids[name]).cards()[-1]
        card.flags = flag
        col.update_card(card)
    col.db.execute("update notes set mod = mod - 86400")  # the plugin's last sync, a day ago
    chat = col.get_note(ids["chat"])  # then an edit made in Anki
    chat["Meaning"] = ANKI_EDIT
    col.update_note(chat)
    col.close()
    block = "START\n{type}\n{fields}\n<!--ID: {nid}-->\nEND\n"
    rivers = "TARGET DECK: Geography::Rivers\n\n" + "\n".join(
        block.format(type=kind, fields=fields, nid=ids[name])
        for name, kind, fields in (
            ("nile", "Basic", "Front: Longest river in Africa?\nBack: The Nile"),
            ("amazon", "Basic (and reversed card)", "Front: Amazon\nBack: Largest by discharge"),
            ("danube", "Cloze", "Text: The Danube ends in the {{c1::Black Sea}}."),
            ("seine", "Basic", "Front: River through Paris?\nBack: The Seine"),
        )
    )
    french = "TARGET DECK: Languages::French\n\n" + "\n".join(
        block.format(type="Vocab", fields=fields, nid=ids[name])
        for name, fields in (
            ("chat", "Word: chat\nMeaning: cat"),
            ("chien", "Word: chien\nMeaning: dog"),
        )
    )
    vault = write_vault(
        tmp_path / "vault", {"Geography/Rivers.md": rivers, "Languages/French.md": french}
    )
    return vault, path, ids


def snapshot(path: Path) -> dict[str, object]:
    """Everything an import could change that the story says it must not."""
    col = Collection(str(path))
    try:
        cards = "id, nid, ord, did, ivl, due, reps, lapses, flags, queue, type, factor"
        return {
            "cards": {row[0]: row for row in col.db.all(f"select {cards} from cards")},
            "revlog": sorted(map(tuple, col.db.all("select * from revlog"))),
            "notes": {
                row[0]: row
                for row in col.db.all("select id, guid, mid, mod, flds, tags from notes")
            },
            "notetypes": sorted(
                map(tuple, col.db.all("select id, name, mtime_secs from notetypes"))
            ),
            "fields": sorted(map(tuple, col.db.all("select ntid, ord, name from fields"))),
            "decks": sorted(col.db.list("select name from decks")),
        }
    finally:
        col.close()


def import_all(path: Path, out: Path) -> None:
    col = Collection(str(path))
    try:
        for apkg in sorted(out.glob("*.apkg")):
            ankiutil.import_package(col, apkg)
    finally:
        col.close()


def _build(vault: Path, out: Path, *args: str):
    return cli("build", vault, "-o", out, "--offline", "--cache-dir", out.parent / "cache", *args)


def test_switching_from_obsidian_to_anki(plugin_vault, tmp_path: Path) -> None:
    vault, collection, ids = plugin_vault
    out = tmp_path / "decks"

    # 1. A build before adopting would double every note: refused, in one line.
    refused = _build(vault, out)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert "6 cards" in line and "ankigen adopt" in line and "--new-notes" in line
    assert refused.stdout == ""
    assert not list(out.glob("*.apkg"))

    # 2. Adopt, build, import: the collection does not change at all.
    before = snapshot(collection)
    adopted = cli("adopt", vault, "--collection", collection)
    assert adopted.returncode == 0, adopted.stderr
    assert "adopt: 6 matched, 0 ambiguous, 0 new;" in adopted.stdout
    built = _build(vault, out)
    assert built.returncode == 0, built.stderr
    import_all(collection, out)
    after = snapshot(collection)
    assert after == before  # no duplicate, history, flags, the Anki edit, the rest untouched

    # 3. Edit one card, delete two (a block removed, DELETE above an ID line), add one.
    rivers = vault / "Geography" / "Rivers.md"
    text = rivers.read_text(encoding="utf-8")
    text = text.replace("Back: The Seine", "Back: The Seine, 777 km")
    start = text.index("START\nCloze")
    text = text[:start] + text[text.index("END\n", start) + 4 :]
    text = text.replace(f"<!--ID: {ids['amazon']}-->", f"DELETE\n<!--ID: {ids['amazon']}-->")
    text += "\nSTARTI [Basic] A river not yet in Anki? Back: The Loire ENDI\n"
    rivers.write_text(text, encoding="utf-8")
    built = _build(vault, out)
    assert built.returncode == 0, built.stderr
    assert "2 deleted" in built.stdout
    import_all(collection, out)
    after = snapshot(collection)
    assert set(after["notes"]) - set(before["notes"]) == {_loire(collection)}
    for cid, row in before["cards"].items():
        assert after["cards"][cid] == row  # every card's history, flags and queue
    assert after["revlog"] == before["revlog"]
    col = Collection(str(collection))
    try:
        assert "The Seine, 777 km" in col.get_note(ids["seine"])["Back"]
        assert col.get_note(ids["chat"])["Meaning"] == ANKI_EDIT  # unchanged in the vault: kept
        todo = (out / TODO_FILE).read_text(encoding="utf-8")
        [search] = [line.strip() for line in todo.splitlines() if line.strip().startswith("nid:")]
        assert sorted(col.find_notes(search)) == sorted([ids["danube"], ids["amazon"]])
    finally:
        col.close()
    unrelated = [ids["dune"], ids["other"]]
    assert [after["notes"][n] for n in unrelated] == [before["notes"][n] for n in unrelated]

    # 4. Adopt again: the next import changes nothing.
    settled = snapshot(collection)
    again = cli("adopt", vault, "--collection", collection)
    assert again.returncode == 0, again.stderr
    built = _build(vault, out)
    assert built.returncode == 0, built.stderr
    assert "no card changed" in built.stdout
    import_all(collection, out)
    assert snapshot(collection) == settled


def _loire(path: Path) -> int:
    col = Collection(str(path))
    try:
        [nid] = col.find_notes("Loire")
        return nid
    finally:
        col.close()


def test_doubles_of_an_import_before_adopting_are_found_by_one_search(plugin_vault, tmp_path):
    """The user built with --new-notes and imported, then adopts: one search, the doubles."""
    vault, collection, _ = plugin_vault
    out = tmp_path / "decks"
    built = _build(vault, out, "--new-notes")
    assert built.returncode == 0, built.stderr
    before = set(snapshot(collection)["notes"])
    import_all(collection, out)
    doubles = set(snapshot(collection)["notes"]) - before
    assert len(doubles) == 6  # every card a second time
    adopted = cli("adopt", vault, "--collection", collection)
    assert adopted.returncode == 0, adopted.stderr
    lines = adopted.stdout.splitlines()
    [at] = [i for i, line in enumerate(lines) if "double" in line]
    search = lines[at + 1].strip()
    col = Collection(str(collection))
    try:
        assert set(col.find_notes(search)) == doubles
    finally:
        col.close()
    assert "6 matched" in adopted.stdout  # the plugin's notes, not the doubles


BLOCK = "START\nBasic\nFront: q\nBack: a\n<!--ID: 17-->\nEND\n"


def _options(vault: Path, tmp_path: Path, **options: object) -> BuildOptions:
    media = MediaOptions(cache_dir=tmp_path / "cache", offline=True)
    return BuildOptions(vault=vault, out_dir=tmp_path / "out", media=media, **options)


@pytest.mark.parametrize(
    ("files", "options", "refused"),
    [
        ({"A.md": "START\nBasic\nFront: q\nBack: a\n<!--ID: 1700000000001-->\nEND\n"}, {}, True),
        ({"A.md": "STARTI [Basic] q Back: a ID: 1700000000002 ENDI\n"}, {}, True),
        ({"A.md": "## Largest planet #card\nJupiter\n^1700000000003\n"}, {}, True),
        ({"A.md": "Closest planet #card\nMercury\n^1700000000004\n"}, {}, True),
        ({"A.md": BLOCK}, {"new_notes": True}, False),
        ({"A.md": BLOCK}, {"syntax": ("seed",)}, False),
        ({"D/A.md": BLOCK}, {"exclude": ("D/*",)}, False),
        ({"A.md": "START\nBasic\nFront: q\nBack: a\nEND\n"}, {}, False),  # never synced: no id
        ({"A.md": "```\nSTART\nBasic\nFront: q\n<!--ID: 17-->\nEND\n```\n"}, {}, False),  # code
        ({"A.md": "#Q What is ^1700000000005?\nAnswer: ID: 17\n"}, {}, False),  # text, no card id
        ({"A.md": "DELETE\n<!--ID: 17-->\n", "B.md": "#Q q?\nAnswer: a\n"}, {}, False),
    ],
)  # fmt: skip
def test_build_refuses_plugin_ids_adopt_has_not_seen(tmp_path, files, options, refused) -> None:
    vault = write_vault(tmp_path / "vault", files)
    report = build(_options(vault, tmp_path, **options))
    assert bool(report.refused) is refused
    apkgs = list((tmp_path / "out").glob("*.apkg"))
    if refused:
        assert not apkgs and not (vault / "ankigen.lock").exists()
        assert [d.severity for d in report.diagnostics] == ["error"]
    else:
        assert not any("ankigen adopt" in d.message for d in report.diagnostics)


def test_ids_adopt_saw_build_and_a_broken_adopted_file_refuses(plugin_vault, tmp_path) -> None:
    """Ids adopt has seen (matched or not in the collection) build; without its record the
    build refuses again."""
    vault, collection, _ = plugin_vault
    (vault / "Extra.md").write_text(
        "START\nBasic\nFront: gone from Anki\nBack: x\n<!--ID: 1234567890123-->\nEND\n",
        encoding="utf-8",
    )
    assert build(_options(vault, tmp_path)).refused
    assert cli("adopt", vault, "--collection", collection).returncode == 0
    assert not build(_options(vault, tmp_path)).refused
    (vault / ADOPTED_FILE).write_text("{broken", encoding="utf-8")
    report = build(_options(vault, tmp_path, force=True))
    assert report.refused
    assert re.search(r"\d+ cards \(first \S+:\d+\)", report.refused)
