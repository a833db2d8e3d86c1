"""Issue 9's story: every everyday change in the notes reaches one real Anki collection.

One vault, one collection, default import options, a rebuild and an import of every package
after each step: review cards, edit cards inside Anki, then edit an answer, reword a question,
add one, delete one, move a note, rename a note, exclude a folder and include it again.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import ankiutil
import pytest
from conftest import write_vault

from ankigen.build import BuildOptions, BuildReport, build
from ankigen.cardid import card_id
from ankigen.discover import package_name
from ankigen.identity.lockfile import load_lock
from ankigen.media import MediaOptions
from ankigen.todo import TODO_FILE, moved_tag, source_search

VAULT = {
    "AWS/Storage/EBS.md": "#Q What is EBS?\nAnswer: Block storage for EC2.\n\n"
    "#Q What is an EBS snapshot?\nAnswer: A point-in-time backup.\n",
    "AWS/Storage/S3.md": "#Q What is S3?\nAnswer: Object storage.\n\n"
    "#Q What is S3 Glacier?\nAnswer: Archive storage.\n",
    "AWS/Network/Route 53.md": "#Q What is Route 53?\nAnswer: DNS.\n\n"
    "#Q What is a hosted zone?\nAnswer: A container for records.\n",
    "AWS/Compute/EC2.md": "#Q What is EC2?\nAnswer: Virtual servers.\n\n"
    "#Q What is an AMI?\nAnswer: A machine image.\n\n"
    "#Q What is a spot instance?\nAnswer: Spare capacity.\n",
}
ANKI_EDIT = "<p>Edited inside Anki.</p>"
_TAGS = re.compile(r"<[^>]+>")


class Story:
    """The vault, the output folder and one Anki collection, step by step."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp_path
        self.vault = write_vault(tmp_path / "vault", VAULT)
        self.out = tmp_path / "dist"
        self.col = ankiutil.new_collection(tmp_path)
        self.monkeypatch = monkeypatch
        # Each build's clock is well after the last edit made inside Anki (which uses the real
        # clock), as it is for a user who edits the notes after reviewing.
        self.clock = int(time.time()) + 100_000
        self.fresh_collections = 0
        self.first_ids: dict[str, int] = {}  # GUID → the Anki note id it first got
        self.reviewed: set[str] = set()  # GUIDs of reviewed cards

    def step(self, **options: object) -> BuildReport:
        """Rebuild and import every package, as a user does after changing the notes."""
        self.clock += 1000
        self.monkeypatch.setenv("SOURCE_DATE_EPOCH", str(self.clock))
        media = MediaOptions(cache_dir=self.tmp / "cache", offline=True)
        report = build(BuildOptions(vault=self.vault, out_dir=self.out, media=media, **options))
        assert [d for d in report.diagnostics if d.severity == "error"] == []
        for apkg in sorted(self.out.glob("*.apkg")):
            ankiutil.import_package(self.col, apkg)
        self.check_collection()
        self.check_fresh_collection()
        return report

    def check_collection(self) -> None:
        """After every import, for every card: the same note id for the same GUID, review
        history kept, the tag and deck the lock says, and no note Anki holds that is neither a
        card nor a remembered deleted card (found by the printed search)."""
        lock, problems = load_lock(self.vault / "ankigen.lock")
        assert problems == ()
        entries = {e.guid: (rel, e) for rel, es in lock.notes.items() for e in es}
        deleted = {card.guid for card in lock.deleted}
        for note in self.notes().values():
            assert self.first_ids.setdefault(note.guid, note.id) == note.id
            assert note.guid in entries or note.guid in deleted  # no orphan left unmarked
            if note.guid in self.reviewed:
                assert self.reviews_of(note.id) == 1
            if note.guid in entries:
                rel, entry = entries[note.guid]
                deck = rel.rpartition("/")[0].replace("/", "::")
                moved = [t for t in note.tags if t.startswith("ankigen::moved")]
                tag = moved_tag(package_name(deck.split("::")))
                assert moved == ([] if entry.deck == deck else [tag])
                assert note.decks in ([entry.deck], [deck])
        assert set(entries) <= {n.guid for n in self.notes().values()}  # every card is there

    def check_fresh_collection(self) -> None:
        """The packages as they are now, imported into an empty collection: no deleted card."""
        self.fresh_collections += 1
        col = ankiutil.new_collection(self.tmp, f"fresh-{self.fresh_collections}.anki2")
        try:
            for apkg in sorted(self.out.glob("*.apkg")):
                ankiutil.import_package(col, apkg)
            live = self.live_guids()
            assert {n.guid for n in ankiutil.notes(col)} <= live
            lock, _ = load_lock(self.vault / "ankigen.lock")
            for card in lock.deleted:
                assert col.find_notes(f"Source:*{card_id(card.guid)}*") == []
        finally:
            col.close()

    def live_guids(self) -> set[str]:
        lock, problems = load_lock(self.vault / "ankigen.lock")
        assert problems == ()
        return {e.guid for entries in lock.notes.values() for e in entries}

    def notes(self) -> dict[str, ankiutil.ImportedNote]:
        """Anki's notes by their question's text; no question is there twice."""
        found = ankiutil.notes(self.col)
        by_question = {_TAGS.sub("", n.fields["Question"]).strip(): n for n in found}
        assert len(by_question) == len(found) == len({n.guid for n in found})  # no duplicates
        return by_question

    def edit_in_anki(self, question: str) -> None:
        note = self.col.get_note(self.notes()[question].id)
        note["Answer"] = ANKI_EDIT
        self.col.update_note(note)

    def review(self, question: str) -> None:
        note = self.notes()[question]
        card = self.col.get_note(note.id).cards()[0]
        card.start_timer()
        self.col.sched.answerCard(card, 3)
        self.reviewed.add(note.guid)

    def reviews(self, question: str) -> int:
        return self.reviews_of(self.notes()[question].id)

    def reviews_of(self, nid: int) -> int:
        return self.col.db.scalar(
            "select count() from revlog where cid in (select id from cards where nid = ?)", nid
        )

    def write(self, rel: str, text: str) -> None:
        (self.vault / rel).write_text(text, encoding="utf-8")

    def move(self, old: str, new: str) -> None:
        (self.vault / new).parent.mkdir(parents=True, exist_ok=True)
        (self.vault / old).rename(self.vault / new)

    def source_paths_exist(self) -> None:
        """No Source link of a live card points to a file that is gone."""
        live = self.live_guids()
        for note in self.notes().values():
            if note.guid in live:
                path = re.search(r">([^<>]+\.md):\d+</a>", note.fields["Source"]).group(1)
                assert (self.vault / path).is_file(), note.fields["Source"]
                assert card_id(note.guid) in note.fields["Source"]


@pytest.fixture
def story(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    s = Story(tmp_path, monkeypatch)
    yield s
    s.col.close()


def test_every_change_in_the_notes_reaches_one_anki_collection(story: Story) -> None:
    # 1. First build and import; the user reviews four cards and edits three inside Anki.
    report = story.step()
    assert report.changes is not None and len(report.changes.added) == 9
    first = story.notes()
    assert len(first) == 9
    assert first["What is EBS?"].decks == ["AWS::Storage"]
    reviewed = ["What is EC2?", "What is EBS?", "What is Route 53?", "What is S3?"]
    for question in reviewed:
        story.review(question)
    for question in ("What is a spot instance?", "What is a hosted zone?", "What is S3 Glacier?"):
        story.edit_in_anki(question)
    edited = story.notes()

    # 2. An answer edited in the vault: that note is updated in place, nothing else moves.
    story.write("AWS/Compute/EC2.md", VAULT["AWS/Compute/EC2.md"].replace("A machine", "An"))
    report = story.step()
    assert report.changes.changed == ("AWS/Compute/EC2.md:4 What is an AMI?",)
    now = story.notes()
    assert now["What is an AMI?"].id == first["What is an AMI?"].id
    assert now["What is an AMI?"].fields["Answer"] == "<p>An image.</p>\n"
    assert now["What is a spot instance?"].fields["Answer"] == ANKI_EDIT  # unchanged: kept
    for question, note in now.items():
        if question != "What is an AMI?":
            assert note.mod == edited[question].mod and note.fields == edited[question].fields

    # 3. A question reworded (same answer): same note, same review history.
    ec2 = (
        "#Q What is Amazon EC2?\nAnswer: Virtual servers.\n\n#Q What is an AMI?\nAnswer: An "
        "image.\n\n#Q What is a spot instance?\nAnswer: Spare capacity.\n"
    )
    story.write("AWS/Compute/EC2.md", ec2)
    report = story.step()
    assert report.changes.reworded == ("AWS/Compute/EC2.md:1 What is Amazon EC2?",)
    now = story.notes()
    assert "What is EC2?" not in now
    assert now["What is Amazon EC2?"].id == first["What is EC2?"].id
    assert story.reviews("What is Amazon EC2?") == 1

    # 4. A question added: a new note in the folder's deck.
    story.write("AWS/Compute/EC2.md", ec2 + "\n#Q What is an instance type?\nAnswer: A size.\n")
    report = story.step()
    assert report.changes.added == ("AWS/Compute/EC2.md:10 What is an instance type?",)
    assert story.notes()["What is an instance type?"].decks == ["AWS::Compute"]

    # 5. A question deleted: Anki keeps its card, but one printed search finds it and no other.
    story.write("AWS/Storage/EBS.md", "#Q What is EBS?\nAnswer: Block storage for EC2.\n")
    report = story.step()
    assert report.changes.removed == ("AWS/Storage/EBS.md:4 What is an EBS snapshot?",)
    deleted_search = report.todo.deleted_search()
    assert story.col.find_notes(deleted_search) == [first["What is an EBS snapshot?"].id]
    assert deleted_search in (story.out / TODO_FILE).read_text(encoding="utf-8")

    # 6. A note moved to another folder: same notes, Source updated, tagged for its new deck;
    #    Anki's importer leaves the cards in the old deck, and one search finds them.
    story.move("AWS/Storage/EBS.md", "AWS/Compute/EBS.md")
    report = story.step()
    assert report.moved == ("AWS/Storage/EBS.md → AWS/Compute/EBS.md",)
    assert report.changes.moved == ("AWS/Compute/EBS.md:1 What is EBS?",)
    ebs = story.notes()["What is EBS?"]
    assert ebs.id == first["What is EBS?"].id and story.reviews("What is EBS?") == 1
    assert "AWS/Compute/EBS.md:1" in ebs.fields["Source"]
    assert ebs.decks == ["AWS::Storage"]  # Anki never moves an existing card
    assert "ankigen::moved::AWS-Compute" in ebs.tags
    [moved] = report.todo.moved
    assert moved.deck == "AWS::Compute"
    cards = story.col.find_cards(moved.search())
    assert story.col.find_notes(moved.search()) == [ebs.id]
    story.col.set_deck(cards, story.col.decks.id_for_name("AWS::Compute"))  # the one step
    assert story.notes()["What is EBS?"].decks == ["AWS::Compute"]
    assert story.col.find_cards(moved.search()) == []

    # 7. A note renamed in its folder: same notes and history; Source and Context follow the
    #    new name, so (the written rule) the note counts as changed and the edit made inside
    #    Anki is replaced, exactly as for a move.
    story.move("AWS/Network/Route 53.md", "AWS/Network/Route 53 DNS.md")
    report = story.step()
    assert report.changes.renamed == (
        "AWS/Network/Route 53 DNS.md:1 What is Route 53?",
        "AWS/Network/Route 53 DNS.md:4 What is a hosted zone?",
    )
    now = story.notes()
    for question in ("What is Route 53?", "What is a hosted zone?"):
        assert now[question].id == first[question].id
        assert now[question].decks == ["AWS::Network"]
        assert "Route 53 DNS" in now[question].fields["Context"]
        assert "AWS/Network/Route 53 DNS.md" in now[question].fields["Source"]
        assert not any(tag.startswith("ankigen::moved") for tag in now[question].tags)
    assert now["What is a hosted zone?"].fields["Answer"] == "<p>A container for records.</p>\n"
    assert story.reviews("What is Route 53?") == 1

    # 8. A folder excluded for one build: its package is gone, its cards are not forgotten.
    lock_before, _ = load_lock(story.vault / "ankigen.lock")
    s3_entries = lock_before.notes["AWS/Storage/S3.md"]
    report = story.step(exclude=("AWS/Storage/*",))
    assert report.changes.removed == () and report.changes.added == ()
    assert not (story.out / "AWS-Storage.apkg").exists()
    lock_excluded, _ = load_lock(story.vault / "ankigen.lock")
    assert lock_excluded.notes["AWS/Storage/S3.md"] == s3_entries
    assert report.todo.deleted_search() == deleted_search  # nothing new to delete

    # 9. ... and included again: the same GUIDs and mod times, so Anki keeps its edit.
    report = story.step()
    assert report.changes.added == () and report.changes.removed == ()
    lock_after, _ = load_lock(story.vault / "ankigen.lock")
    assert lock_after.notes["AWS/Storage/S3.md"] == s3_entries
    now = story.notes()
    assert now["What is S3 Glacier?"].fields["Answer"] == ANKI_EDIT
    assert now["What is S3?"].id == first["What is S3?"].id and story.reviews("What is S3?") == 1

    # The end: every card once, history kept, no Source link to a gone file, and the only
    # notes that are not cards any more are exactly those the deleted-card search finds.
    story.source_paths_exist()
    live = story.live_guids()
    orphans = sorted(n.id for n in story.notes().values() if n.guid not in live)
    assert orphans == sorted(story.col.find_notes(report.todo.deleted_search()))
    assert orphans == [first["What is an EBS snapshot?"].id]
    story.col.remove_notes(orphans)  # the one step for deleted cards
    assert {n.guid for n in story.notes().values()} == live
    assert len(live) == 9  # 9 first, one added, one deleted
    for question in reviewed:
        renamed = "What is Amazon EC2?" if question == "What is EC2?" else question
        assert story.reviews(renamed) == 1
    assert story.notes()["What is a spot instance?"].fields["Answer"] == ANKI_EDIT


def test_the_summary_names_each_card_and_prints_the_searches_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    from conftest import REPO

    vault = write_vault(
        tmp_path / "vault",
        {
            "A/a.md": "#Q First?\nAnswer: one\n\n#Q Second?\nAnswer: two\n",
            "B/Notes 1.md": "#Q Third?\nAnswer: three\n",
            "B/other.md": "#Q Fourth?\nAnswer: four\n",
        },
    )
    out = tmp_path / "dist"

    def cli(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(out), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli()
    (vault / "A/a.md").write_text("#Q First, reworded?\nAnswer: one\n", encoding="utf-8")
    (vault / "C").mkdir()
    (vault / "B/Notes 1.md").rename(vault / "C/Notes 1.md")
    (vault / "B/other.md").rename(vault / "B/renamed.md")
    stdout = cli()
    lines = stdout.splitlines()
    assert "reworded: A/a.md:1 First, reworded?" in lines
    assert "deleted: A/a.md:4 Second?" in lines
    assert "moved: B/Notes 1.md → C/Notes 1.md (its cards keep their history)" in lines
    assert "moved: C/Notes 1.md:1 Third?" in lines
    assert "renamed: B/renamed.md:1 Fourth?" in lines
    lock, _ = load_lock(vault / "ankigen.lock")
    [deleted] = lock.deleted
    search = source_search(deleted.guid)
    assert f"  {search}" in lines
    assert '  "tag:ankigen::moved::C" (-"deck:C" OR "deck:C::*")' in lines
    todo = (out / TODO_FILE).read_text(encoding="utf-8")
    assert search in todo and '"tag:ankigen::moved::C" (-"deck:C" OR "deck:C::*")' in todo
    assert "A/a.md:4 Second?  (deleted" in todo
    # Nothing new: the searches stay in the file, the summary does not repeat them ...
    stdout = cli()
    assert search not in stdout and "1 deleted" not in stdout
    assert (out / TODO_FILE).read_text(encoding="utf-8") == todo
    # ... unless asked.
    assert search in cli("-v")


@pytest.mark.parametrize("folder", ["Big_Data 2", 'Say "hi"', "Star*s", "Back\\slash"])
def test_the_moved_search_finds_cards_for_decks_with_odd_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    story = Story(tmp_path, monkeypatch)
    try:
        (story.vault / folder).mkdir()
        story.write(f"{folder}/x.md", "#Q Odd?\nAnswer: yes\n")
        story.write("AWS/Storage/y.md", "#Q Even?\nAnswer: no\n")
        story.step()
        story.move(f"{folder}/x.md", "AWS/Storage/x.md")
        story.move("AWS/Storage/y.md", f"{folder}/y.md")
        report = story.step()
        by_deck = {moved.deck: moved for moved in report.todo.moved}
        odd, even = story.notes()["Odd?"], story.notes()["Even?"]
        assert story.col.find_notes(by_deck["AWS::Storage"].search()) == [odd.id]
        assert story.col.find_notes(by_deck[folder].search()) == [even.id]
        sub = story.col.decks.id(f"{folder}::sub")  # a sub-deck is not the deck
        story.col.set_deck(story.col.find_cards(by_deck[folder].search()), sub)
        assert story.col.find_notes(by_deck[folder].search()) == [even.id]
        target = story.col.decks.id_for_name(folder)
        story.col.set_deck(story.col.find_cards(by_deck[folder].search()), target)
        assert story.col.find_notes(by_deck[folder].search()) == []
        assert story.notes()["Even?"].decks == [folder]
    finally:
        story.col.close()
