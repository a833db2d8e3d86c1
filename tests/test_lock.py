"""Card identity and the lock file, and what they do to a real Anki collection on re-import."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ankiutil import import_package, load, new_collection, notes

from ankigen.cardid import card_id
from ankigen.identity.identify import assign_identities
from ankigen.identity.keys import guid_for, normalise_question
from ankigen.identity.lockfile import Lock, load_lock, lock_text, save_lock
from ankigen.identity.matching import adopt_moved_notes
from ankigen.package import write_package
from ankigen.records import CardDraft, DeckPackage

NOTE = "AWS/AMI.md"
FALLBACK = 1_600_000_000  # "the note's last commit"
NOW = 1_700_000_000
LATER = 1_700_100_000


def fallback(rel: str) -> int:
    return FALLBACK


def draft(question: str, answer: str, line: int = 1, rel: str = NOTE, **kw: object) -> CardDraft:
    fields = (f"<p>{question}</p>", f"<p>{answer}</p>", "AMI", "", "", f"{rel}:{line}")
    values: dict = {
        "note_rel": rel,
        "line": line,
        "question_key": question,
        "answer_key": answer,
        "fields": fields,
        "tags": ("aws",),
    }
    values.update(kw)
    return CardDraft(**values)


CARDS = (
    draft("What are AMIs used for?", "Customised EC2 images.", 5),
    draft("What is AMI Image Builder?", "It automates building AMIs.", 14),
    draft("How to snapshot without reboot?", "Use the no-reboot option.", 40),
    draft("How to block unapproved AMIs?", "Tag them and check tags in IAM.", 46),
)


def build(drafts, lock: Lock = Lock(), now: int = NOW):  # noqa: B008 (Lock is immutable)
    return assign_identities(drafts, lock, fallback, now)


def guids(result) -> list[str]:
    return [n.guid for n in result.notes]


# ---------------------------------------------------------------- GUIDs


def test_guid_depends_on_path_and_normalised_question_only() -> None:
    guid = guid_for(NOTE, "What are AMIs used for?")
    assert guid == guid_for(NOTE, "  what are **AMIs**   used for ")
    assert guid == guid_for(NOTE, "What are [[AMI|AMIs]] used for?")
    assert guid != guid_for("AWS/EC2.md", "What are AMIs used for?")
    assert guid != guid_for(NOTE, "What are AMIs not used for?")
    # Stable across releases and machines (a change would orphan every user's review history).
    assert guid == "j-hHQ-,I}k"
    assert guid.isascii() and " " not in guid


def test_normalise_question() -> None:
    assert normalise_question("Use `no reboot` *option*?") == "use no reboot option"
    assert normalise_question("An [EC2 UG](https://x.org/a) thing.") == "an ec2 ug thing"
    assert normalise_question("“Quoted”  ==mark==") == '"quoted" mark'


def test_same_question_in_two_files_are_two_notes() -> None:
    result = build([draft("What is S3?", "Storage."), draft("What is S3?", "Same.", rel="B.md")])
    assert len(set(guids(result))) == 2
    assert result.diagnostics == ()


def test_duplicate_question_in_one_file_gets_distinct_guid_and_warning() -> None:
    first = draft("What is S3?", "Storage.", 3)
    second = draft("what is **S3**", "Buckets.", 9)
    result = build([first, second])
    assert guids(result)[0] == guid_for(NOTE, "What is S3?")
    assert guids(result)[1] != guids(result)[0]
    [warning] = result.diagnostics
    assert (warning.path, warning.line, warning.severity) == (NOTE, 9, "warning")
    assert warning.message.startswith("duplicate question; same as line 3")
    # Deterministic: the same build gives the same GUIDs.
    assert guids(build([first, second])) == guids(result)


# ---------------------------------------------------------------- mod times


def test_new_cards_get_the_fallback_mod() -> None:
    result = build(CARDS)
    assert [n.mod for n in result.notes] == [FALLBACK] * 4
    assert len(result.changes.added) == 4
    assert result.changes.added[0] == "AWS/AMI.md:5 What are AMIs used for?"
    # The Source field carries the card's id, which Anki's Browser can search for.
    for note, card in zip(result.notes, CARDS, strict=True):
        assert note.fields[:-1] == card.fields[:-1]
        assert note.fields[-1] == f'<span title="{card_id(note.guid)}">{card.fields[-1]}</span>'
    assert [n.source for n in result.notes] == [
        "AWS/AMI.md:5",
        "AWS/AMI.md:14",
        "AWS/AMI.md:40",
        "AWS/AMI.md:46",
    ]


def test_only_changed_cards_move_forward() -> None:
    v1 = build(CARDS)
    edited = list(CARDS)
    edited[1] = replace(CARDS[1], fields=(*CARDS[1].fields[:1], "<p>new</p>", *CARDS[1].fields[2:]))
    edited[3] = replace(CARDS[3], tags=("aws", "exam::tip"))
    v2 = build(edited, Lock().updated(v1.lock), now=LATER)
    assert guids(v2) == guids(v1)
    assert [n.mod for n in v2.notes] == [FALLBACK, LATER, FALLBACK, LATER]
    assert len(v2.changes.changed) == 2
    assert len(v2.changes.unchanged) == 2
    # A clock behind the lock (SOURCE_DATE_EPOCH fixed) still moves mod forward by one.
    v3 = build(CARDS, Lock().updated(v2.lock), now=NOW)
    assert [n.mod for n in v3.notes] == [FALLBACK, LATER + 1, FALLBACK, LATER + 1]


# ---------------------------------------------------------------- rewording


def test_reworded_question_with_same_answer_keeps_guid() -> None:
    v1 = build(CARDS)
    reworded = list(CARDS)
    reworded[0] = replace(CARDS[0], question_key="What is an AMI for?")
    reworded.reverse()  # also moved: the answer still says which card it is
    v2 = build(reworded, Lock().updated(v1.lock), now=LATER)
    assert guids(v2)[3] == guids(v1)[0]
    assert v2.notes[3].mod == LATER
    assert v2.changes.reworded == ("AWS/AMI.md:5 What is an AMI for?",)
    assert v2.changes.added == v2.changes.removed == ()


def test_reworded_question_and_answer_in_place_keeps_guid() -> None:
    v1 = build(CARDS)
    reworded = list(CARDS)
    reworded[2] = draft("How to create an AMI without a reboot?", "Use no reboot.", 40)
    v2 = build(reworded, Lock().updated(v1.lock), now=LATER)
    assert guids(v2) == guids(v1)
    assert len(v2.changes.reworded) == 1


def test_two_cards_replaced_side_by_side_are_new() -> None:
    v1 = build(CARDS)
    replaced = [CARDS[0], draft("Q one?", "A one.", 14), draft("Q two?", "A two.", 40), CARDS[3]]
    v2 = build(replaced, Lock().updated(v1.lock), now=LATER)
    assert guids(v2)[1:3] != guids(v1)[1:3]
    assert len(v2.changes.added) == 2
    assert len(v2.changes.removed) == 2
    assert v2.changes.removed[0] == "AWS/AMI.md:14 What is AMI Image Builder?"
    assert [(d.note, d.line, d.mod, d.deleted) for d in v2.deleted] == [
        (NOTE, 14, FALLBACK, LATER),
        (NOTE, 40, FALLBACK, LATER),
    ]


def test_new_card_with_a_reworded_cards_old_question_gets_a_free_guid() -> None:
    v1 = build(CARDS[:2])
    renamed = [replace(CARDS[0], question_key="Renamed?"), CARDS[1]]
    v2 = build(renamed, Lock().updated(v1.lock))
    assert guids(v2) == guids(v1)
    again = draft(CARDS[0].question_key, "Something else.", 60)
    v3 = build([*renamed, again], Lock().updated(v2.lock))
    assert guids(v3)[:2] == guids(v1)
    assert len(set(guids(v3))) == 3
    assert len(v3.changes.added) == 1


def test_without_lock_a_reworded_card_is_new() -> None:
    reworded = [replace(CARDS[0], question_key="What is an AMI for?"), *CARDS[1:]]
    assert guids(build(reworded))[0] != guids(build(CARDS))[0]


# ---------------------------------------------------------------- the lock as a whole


def test_scope_removes_deleted_cards_and_leaves_other_notes_alone() -> None:
    other = draft("What is S3?", "Storage.", 2, rel="AWS/S3.md")
    full = build([*CARDS, other])
    lock = Lock().updated(full.lock)
    # Only AMI.md is rebuilt; it lost all its cards but the last.
    part = assign_identities([CARDS[3]], lock, fallback, LATER, scope=[NOTE])
    assert len(part.changes.removed) == 3
    merged = lock.updated(part.lock)
    assert [e.guid for e in merged.notes[NOTE]] == [guids(full)[3]]
    assert merged.notes["AWS/S3.md"] == lock.notes["AWS/S3.md"]
    # A note whose cards are all gone disappears from the lock.
    empty = assign_identities([], merged, fallback, LATER, scope=[NOTE])
    assert NOTE not in merged.updated(empty.lock).notes
    # A deleted note file is pruned.
    pruned, removed = merged.pruned(["AWS/S3.md"])
    assert list(pruned.notes) == ["AWS/S3.md"]
    assert removed == ("AWS/AMI.md: how to block unapproved amis",)


def test_model_stamp_moves_only_when_fingerprint_changes() -> None:
    lock, mod = Lock().with_model("aaa", NOW)
    assert mod == NOW
    same, mod = lock.with_model("aaa", LATER)
    assert (same, mod) == (lock, NOW)
    changed, mod = lock.with_model("bbb", NOW)
    assert mod == NOW + 1
    assert changed.model is not None and changed.model.fingerprint == "bbb"


def test_lock_file_round_trip_and_stable_text(tmp_path: Path) -> None:
    path = tmp_path / "ankigen.lock"
    assert load_lock(path) == (Lock(), ())
    lock, _ = Lock().updated(build(CARDS).lock).with_model("f00", NOW)
    assert lock_text(lock).index('"model"') < lock_text(lock).index('"version"')
    assert save_lock(path, lock) is True
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["version"] == 1
    assert data["model"] == {"fingerprint": "f00", "mod": NOW}
    assert list(data["notes"]) == [NOTE]
    entry = data["notes"][NOTE][0]
    assert list(entry) == sorted(entry)
    assert entry["question"] == "what are amis used for" and entry["mod"] == FALLBACK
    assert load_lock(path) == (lock, ())
    # Unchanged content → the file is not rewritten.
    stamp = path.stat().st_mtime_ns
    assert save_lock(path, load_lock(path)[0]) is False
    assert path.stat().st_mtime_ns == stamp
    assert lock_text(load_lock(path)[0]) == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ankigen.lock"]


def test_lock_written_a_note_at_a_time_is_the_whole_text(tmp_path: Path) -> None:
    """save_lock streams the lock and compares the old file piece by piece: the file is
    exactly lock_text(), and any other file (a prefix, longer, one byte off) is rewritten."""
    path = tmp_path / "ankigen.lock"
    drafts = [
        draft(f"Qu'est-ce que « {n} » ✓ {k}?", f"Réponse {n}", 3 * k + 1, rel=f"d/n{n}é.md")
        for n in range(5)
        for k in range(3)
    ]
    lock, _ = Lock().updated(build(drafts).lock).with_model("f00", NOW)
    text = lock_text(lock)
    assert save_lock(path, lock) is True
    assert path.read_bytes() == text.encode("utf-8")
    assert save_lock(path, lock) is False
    data = text.encode("utf-8")
    for other in (data[:-1], data + b"\n", data[:-2] + b"X\n", b"", b"\xff" + data[1:]):
        path.write_bytes(other)
        assert save_lock(path, lock) is True
        assert path.read_bytes() == data


def test_corrupt_lock_gives_empty_lock_and_a_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "ankigen.lock"
    for text in ("{not json", '{"version": 1, "notes": []}', "[]", "[" * 100_000):
        path.write_text(text, encoding="utf-8")
        lock, [problem] = load_lock(path)
        assert lock == Lock()
        assert problem.path == "ankigen.lock" and problem.severity == "error"
        assert "corrupt lock file" in problem.message


# ---------------------------------------------------------------- with Anki


def package(result, out: Path) -> Path:
    out.mkdir(exist_ok=True)
    pkg = DeckPackage("AWS::Compute", "AWS-Compute.apkg", result.notes)
    return write_package(pkg, out, created=NOW)


def test_reimport_updates_only_the_edited_note(tmp_path: Path) -> None:
    lock_path = tmp_path / "ankigen.lock"
    v1 = build(CARDS)
    save_lock(lock_path, Lock().updated(v1.lock))
    col = load(tmp_path, package(v1, tmp_path / "v1"))
    try:
        before = {n.guid: n for n in notes(col)}
        edited = list(CARDS)
        edited[1] = draft(CARDS[1].question_key, "It builds, tests and shares AMIs.", 14)
        lock, _ = load_lock(lock_path)
        v2 = build(edited, lock, now=LATER)
        import_package(col, package(v2, tmp_path / "v2"))
        after = {n.guid: n for n in notes(col)}
        assert after.keys() == before.keys()
        changed = guids(v1)[1]
        assert after[changed].fields["Answer"] == "<p>It builds, tests and shares AMIs.</p>"
        assert after[changed].mod == LATER
        for guid in after.keys() - {changed}:
            assert after[guid].mod == before[guid].mod == FALLBACK
            assert after[guid].fields == before[guid].fields
    finally:
        col.close()


def test_reworded_question_updates_the_same_note(tmp_path: Path) -> None:
    v1 = build(CARDS)
    col = new_collection(tmp_path)
    try:
        import_package(col, package(v1, tmp_path / "v1"))
        reworded = list(CARDS)
        reworded[0] = draft("What is an Amazon Machine Image for?", CARDS[0].answer_key, 5)
        v2 = build(reworded, Lock().updated(v1.lock), now=LATER)
        import_package(col, package(v2, tmp_path / "v2"))
        imported = notes(col)
        assert len(imported) == len(CARDS)
        assert imported[0].guid == guids(v1)[0]
        assert imported[0].fields["Question"] == "<p>What is an Amazon Machine Image for?</p>"
    finally:
        col.close()


def test_a_moved_note_adopts_the_entries_of_the_note_it_was() -> None:
    first = build(CARDS).lock
    orphans = dict(first.notes)  # NOTE is gone from the vault
    moved = [replace(d, note_rel="Archive/AMI.md") for d in CARDS[:3]]  # one card dropped too
    unrelated = [draft("Something else entirely?", "yes", rel="Other.md")]
    lock, moves = adopt_moved_notes(Lock(), orphans, [*moved, *unrelated])
    assert moves == [(NOTE, "Archive/AMI.md")]
    assert orphans == {} and "Other.md" not in lock.notes
    result = assign_identities(moved, lock, fallback, NOW)
    assert guids(result) == [e.guid for e in first.notes[NOTE][:3]]


def test_a_new_note_sharing_few_questions_is_not_a_move() -> None:
    orphans = dict(build(CARDS).lock.notes)
    new = [draft(q, "a", rel="New.md") for q in ("What are AMIs used for?", "q2", "q3", "q4")]
    lock, moves = adopt_moved_notes(Lock(), orphans, new)
    assert moves == [] and NOTE in orphans and lock.notes == {}
