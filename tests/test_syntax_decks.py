"""Decks a syntax chose (Obsidian_to_Anki's TARGET DECK, a Spaced Repetition flashcard tag, the
Flashcards plugin's cards-deck) are
tracked like folders: when the notes change them, Anki keeps the cards where they were, and the
build tags them and prints the one search that finds them, through the real CLI into Anki."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ankiutil
from conftest import REPO, write_vault
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.identity.lockfile import load_lock
from ankigen.syntax import flashcards
from ankigen.syntax.obsidian_to_anki import PLUGIN_ID
from ankigen.todo import TODO_FILE, deck_moved_tag, moved_tag, quote

FRENCH = (
    "TARGET DECK: Languages::French\n"
    "STARTI [Basic] What is chat? Back: cat ENDI\n\n"
    "STARTI [Basic] What is chien? Back: dog ENDI\n"
)
SKY = "---\ncards-deck: Space::Sky\n---\nWhat is the Sun #card\nA star\n"
WORDS = "#flashcards/lang/words\n\nWhat is hello::bonjour\n\nWhat is bye::au revoir\n"
VAULT = {
    f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps({"settings": {}}),
    "Lang/French.md": FRENCH,
    "Lang/Trees.md": (
        "TARGET DECK: Languages::French\nSTARTI [Basic] What is arbre? Back: tree ENDI\n"
    ),
    "SR/Words.md": WORDS,
    "SR/Yes.md": "#flashcards/lang/words\n\nWhat is yes::oui\n",
    f".obsidian/plugins/{flashcards.PLUGIN_ID}/data.json": "{}",
    "FC/Sun.md": SKY,
    "Seed/Plain.md": "#Q What is a seed card?\nAnswer: One in its folder's deck.\n",
}
MOVED = ("What is chat?", "What is chien?", "What is hello", "What is bye", "What is the Sun")
KEPT = ("What is arbre?", "What is yes", "What is a seed card?")


def _cli(vault: Path, out: Path, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _import_all(col, out: Path) -> None:
    for apkg in sorted(out.glob("*.apkg")):
        ankiutil.import_package(col, apkg)


def _by_question(col) -> dict[str, ankiutil.ImportedNote]:
    found = ankiutil.notes(col)
    by = {}
    for note in found:
        first = note.fields[next(iter(note.fields))]
        [key] = [q for q in (*MOVED, *KEPT) if q in first]
        by[key] = note
    assert len(by) == len(found) == len(MOVED) + len(KEPT)  # no duplicates
    return by


def _reviews(col, nid: int) -> int:
    return col.db.scalar(
        "select count() from revlog where cid in (select id from cards where nid = ?)", nid
    )


def test_a_deck_changed_in_the_notes_is_tracked_as_a_move(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault", VAULT)
    out = tmp_path / "dist"
    _cli(vault, out)
    col = ankiutil.new_collection(tmp_path)
    _import_all(col, out)
    first = _by_question(col)
    assert first["What is chat?"].decks == ["Languages::French"]
    assert first["What is hello"].decks == ["flashcards::lang::words"]
    assert first["What is a seed card?"].decks == ["Seed"]
    assert not any(t.startswith("ankigen::moved") for n in first.values() for t in n.tags)
    for question in ("What is chat?", "What is hello"):
        card = col.get_note(first[question].id).cards()[0]
        card.start_timer()
        col.sched.answerCard(card, 3)

    # The user changes a TARGET DECK, a flashcard tag and a cards-deck.
    (vault / "Lang/French.md").write_text(
        FRENCH.replace("Languages::French", "Languages::Francais"), encoding="utf-8"
    )
    (vault / "SR/Words.md").write_text(WORDS.replace("lang/words", "lang/vocab"), "utf-8")
    (vault / "FC/Sun.md").write_text(SKY.replace("Space::Sky", "Space::Stars"), "utf-8")
    lines = _cli(vault, out)
    assert "moved: Lang/French.md:2 What is chat?" in lines
    assert "moved: SR/Words.md:3 What is hello" in lines
    _import_all(col, out)
    now = _by_question(col)

    french, vocab, stars = "Languages::Francais", "flashcards::lang::vocab", "Space::Stars"
    tags = {deck: deck_moved_tag(deck) for deck in (french, vocab, stars)}
    for question, old_deck, new_deck in (
        ("What is chat?", "Languages::French", french),
        ("What is chien?", "Languages::French", french),
        ("What is hello", "flashcards::lang::words", vocab),
        ("What is bye", "flashcards::lang::words", vocab),
        ("What is the Sun", "Space::Sky", stars),
    ):
        note = now[question]
        assert note.id == first[question].id  # same note, history kept
        assert note.decks == [old_deck]  # Anki's importer never moves a card
        assert [t for t in note.tags if t.startswith("ankigen::moved")] == [tags[new_deck]]
    assert _reviews(col, now["What is chat?"].id) == _reviews(col, now["What is hello"].id) == 1
    for question in KEPT:  # untouched: same fields, tags, deck and modification time
        assert now[question] == first[question]

    # The searches printed and written next to the packages find exactly the moved cards.
    todo = (out / TODO_FILE).read_text(encoding="utf-8")
    lock, _ = load_lock(vault / "ankigen.lock")
    targets = {e.target for entries in lock.notes.values() for e in entries}
    # The decks a syntax chose; Trees.md and Yes.md kept theirs.
    assert targets == {"", "Languages::French", "flashcards::lang::words", french, vocab, stars}
    for deck, questions in ((french, MOVED[:2]), (vocab, MOVED[2:4]), (stars, MOVED[4:])):
        search = f'"tag:{quote(tags[deck])}" (-"deck:{deck}" OR "deck:{deck}::*")'
        assert f"  {search}" in lines and f"    {search}" in todo
        assert f"        → deck {deck}" in todo
        expected = sorted(now[q].id for q in questions)
        assert sorted(col.find_notes(search)) == expected
        # Cards > Change Deck on the search's results: the one step.
        col.set_deck(col.find_cards(search), col.decks.id_for_name(deck))
        assert col.find_cards(search) == []
        for question in questions:
            [card] = col.get_note(now[question].id).cards()
            assert col.decks.name(card.did) == deck
    assert _reviews(col, now["What is chat?"].id) == 1
    after = _by_question(col)
    for question in KEPT:
        assert after[question] == first[question]

    # A fresh collection gets the cards straight into their new decks.
    fresh = ankiutil.new_collection(tmp_path, "fresh.anki2")
    _import_all(fresh, out)
    for question, note in _by_question(fresh).items():
        expected = {"What is chat?": french, "What is chien?": french}.get(question)
        expected = expected or {"What is hello": vocab, "What is bye": vocab}.get(question)
        expected = expected or {"What is the Sun": stars}.get(question)
        assert note.decks == [expected or first[question].decks[0]]
    fresh.close()

    # A folder deck's moved tag is the one it always was: existing users see no change.
    assert moved_tag("Seed.apkg") == "ankigen::moved::Seed"
    col.close()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=5, unique=True))
def test_moved_tags_of_decks_are_distinct_and_safe(decks: list[str]) -> None:
    decks = [*decks, "a::b", "a-b", "a b", 'q"*_\\::x', "Ünïcode::déck"]
    decks = list(dict.fromkeys(decks))
    found = [deck_moved_tag(deck) for deck in decks]
    assert len(set(found)) == len(decks)
    for tag in found:  # one Anki tag: no space, quote, "*" or "::" part left empty
        assert tag.startswith("ankigen::moved::")
        assert all(c.isascii() and (c.isalnum() or c in ":-._") for c in tag)
        assert all(tag.split("::")) and len(tag.split("::")) == 3


def test_a_lock_from_before_syntax_decks_were_tracked_moves_nothing(tmp_path: Path) -> None:
    """Older builds recorded every card under its folder's deck and no target, while Anki put
    it in its syntax's deck: upgrading must not tag those cards as moved."""
    vault = write_vault(tmp_path / "vault", VAULT)
    out = tmp_path / "dist"
    _cli(vault, out)
    lock_path = vault / "ankigen.lock"
    data = json.loads(lock_path.read_text(encoding="utf-8"))
    for rel, entries in data["notes"].items():
        for entry in entries:
            assert "target" in entry
            del entry["target"]
            entry["deck"] = rel.partition("/")[0]  # as the older build wrote it
    lock_path.write_text(json.dumps(data), encoding="utf-8")
    col = ankiutil.new_collection(tmp_path)
    _import_all(col, out)
    first = _by_question(col)

    for force in ((), ("--force",)):  # folders unchanged, then every card identified again
        lines = _cli(vault, out, *force)
        assert not any(line.startswith(("moved:", "in Anki:")) for line in lines)
        assert not (out / TODO_FILE).exists()
        _import_all(col, out)
        assert _by_question(col) == first  # nothing tagged, nothing updated
    lock, _ = load_lock(lock_path)
    assert {e.target for es in lock.notes.values() for e in es} >= {"", "Languages::French"}
    col.close()


def test_a_note_with_its_own_deck_moved_to_another_folder_stays_in_that_deck(
    tmp_path: Path,
) -> None:
    """The deck a syntax chose does not depend on the folder: moving the note moves no card."""
    vault = write_vault(tmp_path / "vault", VAULT)
    out = tmp_path / "dist"
    _cli(vault, out)
    col = ankiutil.new_collection(tmp_path)
    _import_all(col, out)
    first = _by_question(col)
    (vault / "Elsewhere").mkdir()
    (vault / "Lang/French.md").rename(vault / "Elsewhere/French.md")
    lines = _cli(vault, out)
    assert "moved: Lang/French.md → Elsewhere/French.md (its cards keep their history)" in lines
    assert not any(line.startswith("in Anki:") for line in lines)
    _import_all(col, out)
    now = _by_question(col)
    for question in ("What is chat?", "What is chien?"):
        assert now[question].id == first[question].id
        assert now[question].decks == ["Languages::French"]
        assert "Elsewhere/French.md" in now[question].fields["Source"]
        assert not any(t.startswith("ankigen::moved") for t in now[question].tags)
    col.close()


def test_the_moved_search_of_a_deck_with_an_underscore_finds_no_other_deck(tmp_path):
    # "_" is a one-character wildcard in Anki's searches: A_B's tag must not match AxB's cards.
    vault = write_vault(
        tmp_path / "vault",
        {"Old1/n.md": "#Q One?\nAnswer: 1\n", "Old2/m.md": "#Q Two?\nAnswer: 2\n"},
    )
    out = tmp_path / "dist"
    _cli(vault, out, "--offline")
    col = ankiutil.new_collection(tmp_path)
    _import_all(col, out)
    for old, new, name in (("Old1", "A_B", "n.md"), ("Old2", "AxB", "m.md")):
        (vault / new).mkdir()
        (vault / old / name).rename(vault / new / name)
    lines = _cli(vault, out, "--offline")
    _import_all(col, out)
    searches = [line.strip() for line in lines if line.strip().startswith('"tag:')]
    assert len(searches) == 2
    found = sorted(
        tuple(col.get_note(nid)["Question"] for nid in col.find_notes(search))
        for search in searches
    )
    assert found == [("<p>One?</p>\n",), ("<p>Two?</p>\n",)]
