"""The written rule for when a card's modification time moves forward: one test per row of the
README's table "When a re-import replaces a card". Real vaults, real builds, the lock read back.
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

import ankiutil
import pytest
from conftest import write_vault

from ankigen import build as build_module
from ankigen.build import BuildOptions, BuildReport, build
from ankigen.identity.lockfile import load_lock
from ankigen.media import MediaOptions
from ankigen.package import load_card_model
from ankigen.todo import source_search

# Build times after the notes' file times (a new card's time) and after any edit in Anki.
T1 = int(time.time()) + 1_000_000
T2 = T1 + 50_000
NOTE = "AWS/Compute/EC2.md"
TEXT = "# EC2\n\n#Q What is EC2?\nAnswer: Servers.\n\n#Q What is an AMI? #aws\nAnswer: An image.\n"


def png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 220)).save(out, format="PNG")
    return out.getvalue()


class Rule:
    """A vault built at T1, changed, built again at T2; the cards' times read from the lock."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict) -> None:
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.vault = write_vault(tmp_path / "vault", files)
        self.out = tmp_path / "dist"
        self.report = self.build(T1)
        self.before = self.mods()

    def build(self, now: int, **options: object) -> BuildReport:
        self.monkeypatch.setenv("SOURCE_DATE_EPOCH", str(now))
        media = MediaOptions(
            cache_dir=self.tmp / "cache",
            offline=True,
            max_image_width=options.pop("max_image_width", 1600),
        )
        report = build(BuildOptions(vault=self.vault, out_dir=self.out, media=media, **options))
        assert [d for d in report.diagnostics if d.severity == "error"] == []
        return report

    def mods(self) -> dict[str, int]:
        """Each card's mod by its (normalised) question."""
        lock, problems = load_lock(self.vault / "ankigen.lock")
        assert problems == ()
        return {e.question: e.mod for entries in lock.notes.values() for e in entries}

    def guids(self) -> dict[str, str]:
        lock, _ = load_lock(self.vault / "ankigen.lock")
        return {e.question: e.guid for entries in lock.notes.values() for e in entries}

    def rebuild(self, **options: object) -> dict[str, bool]:
        """Build at T2; for each card, whether its time moved forward."""
        self.report = self.build(T2, **options)
        after = self.mods()
        assert all(after[q] >= self.before.get(q, 0) for q in after)
        return {q: after[q] > self.before[q] for q in after if q in self.before}

    def write(self, rel: str, text: str) -> None:
        (self.vault / rel).write_text(text, encoding="utf-8")


def test_rule_answer_edited_moves_that_card_only(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    rule.write(NOTE, TEXT.replace("Servers.", "Virtual servers."))
    assert rule.rebuild() == {"what is ec2": True, "what is an ami": False}
    assert rule.mods()["what is ec2"] == T2


def test_rule_reworded_question_moves_and_keeps_the_guid(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    guid = rule.guids()["what is ec2"]
    rule.write(NOTE, TEXT.replace("What is EC2?", "What is Amazon EC2?"))
    rule.rebuild()
    assert rule.guids()["what is amazon ec2"] == guid
    assert rule.mods()["what is amazon ec2"] == T2
    assert rule.mods()["what is an ami"] == rule.before["what is an ami"]
    assert rule.report.changes.reworded == ("AWS/Compute/EC2.md:3 What is Amazon EC2?",)


def test_rule_context_heading_changed_moves(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    rule.write(NOTE, TEXT.replace("# EC2", "# Elastic Compute Cloud"))
    assert rule.rebuild() == {"what is ec2": True, "what is an ami": True}


def test_rule_tags_changed_moves(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    rule.write(NOTE, TEXT.replace("#aws", "#aws #exam"))
    assert rule.rebuild() == {"what is ec2": False, "what is an ami": True}


def test_rule_picture_changed_moves_the_cards_that_show_it(tmp_path, monkeypatch):
    text = TEXT.replace("An image.", "An image. ![[ami.png]]")
    rule = Rule(tmp_path, monkeypatch, {NOTE: text, "AWS/Compute/ami.png": png(4, 3)})
    (rule.vault / "AWS/Compute/ami.png").write_bytes(png(6, 3))
    assert rule.rebuild() == {"what is ec2": False, "what is an ami": True}


def test_rule_max_image_width_moves_the_cards_whose_picture_it_scales(tmp_path, monkeypatch):
    text = TEXT.replace("An image.", "An image. ![[ami.png]]")
    rule = Rule(tmp_path, monkeypatch, {NOTE: text, "AWS/Compute/ami.png": png(400, 100)})
    assert rule.rebuild(max_image_width=100) == {"what is ec2": False, "what is an ami": True}


def test_rule_renamed_note_moves_and_keeps_its_cards(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    guids = rule.guids()
    (rule.vault / NOTE).rename(rule.vault / "AWS/Compute/EC2 instances.md")
    assert rule.rebuild() == {"what is ec2": True, "what is an ami": True}
    assert rule.guids() == guids
    assert len(rule.report.changes.renamed) == 2 and rule.report.changes.changed == ()


def test_rule_moved_note_moves_keeps_its_cards_and_is_tagged(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT, "AWS/Storage/S3.md": "#Q S3?\nAnswer: o\n"})
    guids = rule.guids()
    (rule.vault / NOTE).rename(rule.vault / "AWS/Storage/EC2.md")
    assert rule.rebuild() == {"what is ec2": True, "what is an ami": True, "s3": False}
    assert rule.guids() == guids
    assert rule.report.changes.moved == (
        "AWS/Storage/EC2.md:3 What is EC2?",
        "AWS/Storage/EC2.md:6 What is an AMI?",
    )
    col = ankiutil.load(tmp_path, rule.out / "AWS-Storage.apkg")
    try:
        moved = [n for n in ankiutil.notes(col) if "ankigen::moved::AWS-Storage" in n.tags]
        assert len(moved) == 2
    finally:
        col.close()


def test_rule_lines_added_above_do_not_move(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    rule.write(NOTE, "Some intro.\n\nMore intro.\n\n" + TEXT)
    assert rule.rebuild() == {"what is ec2": False, "what is an ami": False}
    assert rule.report.changes.changed == ()


def test_rule_template_change_moves_the_note_type_only(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    col = ankiutil.load(tmp_path, rule.out / "AWS-Compute.apkg")
    try:
        note = col.get_note(col.find_notes("")[0])
        note["Answer"] = "edited in Anki"
        col.update_note(note)
        model = replace(
            load_card_model(), css=load_card_model().css + "\n.new-look { color: red }\n"
        )
        monkeypatch.setattr(build_module, "load_card_model", lambda: model)
        assert rule.rebuild() == {"what is ec2": False, "what is an ami": False}
        ankiutil.import_package(col, rule.out / "AWS-Compute.apkg")
        assert all(".new-look" in n.question_html for n in ankiutil.notes(col))
        assert col.get_note(note.id)["Answer"] == "edited in Anki"
    finally:
        col.close()


def test_rule_excluded_then_included_does_not_move(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT, "AWS/Storage/S3.md": "#Q S3?\nAnswer: o\n"})
    guids = rule.guids()
    report = rule.build(T2, exclude=("AWS/Compute",))
    assert report.changes.removed == () and not report.todo.deleted
    assert rule.mods() == rule.before
    assert rule.rebuild() == {"what is ec2": False, "what is an ami": False, "s3": False}
    assert rule.guids() == guids
    assert rule.report.changes.added == ()


def test_rule_deleted_question_is_in_no_package_and_found_by_one_search(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    col = ankiutil.load(tmp_path, rule.out / "AWS-Compute.apkg")
    try:
        guid = rule.guids()["what is ec2"]
        rule.write(NOTE, "# EC2\n\n\n\n\n#Q What is an AMI? #aws\nAnswer: An image.\n")
        assert rule.rebuild() == {"what is an ami": False}
        assert rule.report.changes.removed == ("AWS/Compute/EC2.md:3 What is EC2?",)
        [deleted] = rule.report.todo.deleted
        assert (deleted.guid, deleted.deleted) == (guid, T2)
        search = rule.report.todo.deleted_search()
        assert search == source_search(guid)
        ankiutil.import_package(col, rule.out / "AWS-Compute.apkg")
        assert [col.get_note(n).guid for n in col.find_notes(search)] == [guid]
        (tmp_path / "fresh").mkdir()
        fresh = ankiutil.load(tmp_path / "fresh", rule.out / "AWS-Compute.apkg")
        assert [n.guid for n in ankiutil.notes(fresh)] == [rule.guids()["what is an ami"]]
        assert fresh.find_notes(search) == []
        fresh.close()
    finally:
        col.close()


def test_rule_deleted_cards_are_remembered_for_a_year_or_until_they_come_back(
    tmp_path, monkeypatch
):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    guid = rule.guids()["what is ec2"]
    rule.write(NOTE, "#Q What is an AMI? #aws\nAnswer: An image.\n")
    assert [d.guid for d in rule.build(T2).todo.deleted] == [guid]
    assert [d.guid for d in rule.build(T2 + 364 * 86_400).todo.deleted] == [guid]
    assert rule.build(T2 + 366 * 86_400).todo.deleted == ()
    rule.write(NOTE, "#Q What is an AMI? #aws\nAnswer: An image.\n\n#Q Gone?\nAnswer: soon\n")
    rule.build(T2 + 367 * 86_400)
    gone = rule.guids()["gone"]
    rule.write(NOTE, "#Q What is an AMI? #aws\nAnswer: An image.\n")
    assert [d.guid for d in rule.build(T2 + 368 * 86_400).todo.deleted] == [gone]
    rule.write(NOTE, "#Q What is an AMI? #aws\nAnswer: An image.\n\n#Q Gone?\nAnswer: back\n")
    report = rule.build(T2 + 369 * 86_400)
    assert report.todo.deleted == () and rule.guids()["gone"] == gone  # back, same GUID
    assert not (rule.out / "ankigen-todo.txt").exists()


def test_rule_nothing_changed_does_not_move(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT})
    assert rule.rebuild(force=True) == {"what is ec2": False, "what is an ami": False}


def test_rule_a_note_moved_out_of_an_excluded_folder_keeps_its_cards(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT, "AWS/Storage/S3.md": "#Q S3?\nAnswer: o\n"})
    guids = rule.guids()
    (rule.vault / NOTE).rename(rule.vault / "AWS/Storage/EC2.md")
    report = rule.build(T2, exclude=("AWS/Compute",))
    assert report.moved == (f"{NOTE} → AWS/Storage/EC2.md",) and report.changes.removed == ()
    assert rule.guids() == guids


def test_rule_a_deleted_note_or_folder_is_found_by_the_same_search(tmp_path, monkeypatch):
    rule = Rule(tmp_path, monkeypatch, {NOTE: TEXT, "AWS/Storage/S3.md": "#Q S3?\nAnswer: o\n"})
    col = ankiutil.load(tmp_path, *sorted(rule.out.glob("*.apkg")))
    try:
        gone = {rule.guids()["what is ec2"], rule.guids()["what is an ami"]}
        (rule.vault / NOTE).unlink()
        (rule.vault / "AWS/Compute").rmdir()
        rule.rebuild()
        assert not (rule.out / "AWS-Compute.apkg").exists()
        assert set(rule.report.changes.removed) == {
            "AWS/Compute/EC2.md:3 What is EC2?",
            "AWS/Compute/EC2.md:6 What is an AMI?",
        }
        found = col.find_notes(rule.report.todo.deleted_search())
        assert {col.get_note(nid).guid for nid in found} == gone
    finally:
        col.close()
