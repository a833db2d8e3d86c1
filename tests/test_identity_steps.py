"""Properties of the identity stage's small pure steps (ankigen/identity/matching.py, keys.py,
deletions.py): matching pairs drafts and old entries one to one, a GUID is never given twice in
a folder nor taken from another note, a card's mod never goes back, deleted cards are each
remembered once."""

from __future__ import annotations

import os
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.identity.deletions import (
    REMEMBER_DELETED_DAYS,
    DeletedCard,
    remembered,
    text_words,
    written_in,
)
from ankigen.identity.identify import FolderContext, assign_identities
from ankigen.identity.keys import answer_hash, genanki_guid, normalise_question, short_hash
from ankigen.identity.lockfile import ADOPTED, Lock, LockEntry
from ankigen.identity.matching import (
    classify_change,
    free_guid,
    match_cards,
    new_card_mod,
    new_guid,
    no_owner,
)
from ankigen.records import CardDraft

# A few hundred examples in all, the same each run; `ANKIGEN_FUZZ_EXAMPLES=5000` for more.
EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
NOW = 1_700_000_000

# Few distinct words: questions and answers repeat, so every matching step has work.
QUESTIONS = st.sampled_from(["q1", "q2", "q3", "q4", "Q1?", "what is x"])
ANSWERS = st.sampled_from(["a", "b", "c", "a  "])


def _entry(question: str, answer: str, k: int, mod: int = NOW - 100) -> LockEntry:
    return LockEntry(f"g{k}", normalise_question(question), "c", answer_hash(answer), mod)


@SETTINGS
@given(
    new=st.lists(st.tuples(QUESTIONS, ANSWERS), max_size=8),
    old=st.lists(st.tuples(QUESTIONS, ANSWERS), max_size=8),
)
def test_matching_pairs_drafts_and_old_entries_one_to_one(new, old) -> None:
    keys = [normalise_question(q) for q, _ in new]
    answers = [answer_hash(a) for _, a in new]
    entries = [_entry(q, a, k) for k, (q, a) in enumerate(old)]
    match = match_cards(keys, answers, entries)
    assert all(0 <= i < len(new) and 0 <= j < len(old) for i, j in match.items())
    assert len(set(match.values())) == len(match)  # no old entry is two cards
    # A question found on both sides is matched as often as it can be, in order.
    for key in set(keys):
        drafts = [i for i, k in enumerate(keys) if k == key]
        olds = [j for j, e in enumerate(entries) if e.question == key]
        same = [(i, match[i]) for i in drafts if i in match and entries[match[i]].question == key]
        assert len(same) == min(len(drafts), len(olds))
        assert same == list(zip(drafts, olds, strict=False))


@SETTINGS
@given(
    key=QUESTIONS,
    taken=st.sets(st.integers(1, 6), max_size=5),
    foreign=st.sets(st.integers(1, 6), max_size=5),
    memo=st.booleans(),
)
def test_a_new_guid_is_the_first_free_of_this_note_and_of_others(key, taken, foreign, memo):
    """new_guid skips the second search when the natural GUID is free of other notes: the
    GUID is the same as the one search over both (suffix n: the key's n-th GUID)."""

    def nth(n: int) -> str:
        return genanki_guid("ankigen", "n.md", key, *((n,) if n > 1 else ()))

    taken_guids = {nth(n) for n in taken}
    owners = {nth(n): "other.md" for n in foreign}
    tried: dict[tuple[str, bool], int] = {}
    if memo:  # an earlier card of this note with the same question
        free_guid("n.md", key, set(taken_guids), owners.get, tried)
    guid, natural = new_guid("n.md", key, taken_guids, owners.get, tried)
    assert guid == free_guid("n.md", key, taken_guids, owners.get)  # without the memo
    assert natural == free_guid("n.md", key, taken_guids, no_owner)
    assert guid not in taken_guids and guid not in owners
    assert (guid == natural) == (natural not in owners)


DRAFTS = st.lists(
    st.tuples(st.sampled_from(["A.md", "B.md", "C.md"]), QUESTIONS, ANSWERS), max_size=10
)


def _drafts(rows: list[tuple[str, str, str]]) -> list[CardDraft]:
    return [
        CardDraft(rel, line, q, a, (q, a, f"{rel}:{line}"), ())
        for line, (rel, q, a) in enumerate(rows, 1)
    ]


@SETTINGS
@given(first=DRAFTS, second=DRAFTS, others=st.lists(st.tuples(QUESTIONS, st.booleans())))
def test_a_guid_is_never_given_twice_in_a_folder_nor_taken_from_another_note(
    first, second, others
) -> None:
    """Builds in sequence, with other notes' cards wearing some of the GUIDs these questions
    would take (naturally or suffixed): each card has its own GUID, none of another note's."""
    taken = {
        genanki_guid("ankigen", rel, normalise_question(q), *((2,) if suffixed else ())): "X.md"
        for q, suffixed in others
        for rel in ("A.md", "B.md")
    }
    context = FolderContext(taken=taken)
    built = assign_identities(_drafts(first), Lock(), lambda _: NOW - 10, NOW, context=context)
    lock = Lock().updated(built.lock)
    again = assign_identities(_drafts(second), lock, lambda _: NOW, NOW + 60, context=context)
    for result in (built, again):
        guids = [note.guid for note in result.notes]
        assert len(set(guids)) == len(guids)
        assert not set(guids) & set(taken)
        entries = [e.guid for entries in result.lock.notes.values() for e in entries]
        assert sorted(entries) == sorted(guids)


KINDS = st.sampled_from(["c", "other", ADOPTED + "s", ADOPTED + "t"])


@SETTINGS
@given(
    mod=st.integers(0, 2 * NOW),
    content=KINDS,
    new_content=KINDS,
    exact=st.booleans(),
    in_place=st.booleans(),
    moved=st.sampled_from([None, "moved", "renamed"]),
)
def test_a_cards_mod_moves_forward_exactly_when_it_changed(
    mod, content, new_content, exact, in_place, moved
) -> None:
    entry = LockEntry("g", "q", content, "a", mod)
    kind, new_mod = classify_change(
        entry,
        exact=exact,
        content=new_content,
        source="s",
        in_place=in_place,
        moved=moved,
        now=NOW,
    )
    if kind == "unchanged":
        assert new_mod == mod and exact
    else:
        assert new_mod > mod and new_mod >= NOW
        assert kind in ("changed", "reworded", "moved", "renamed")
    assert (kind == "reworded") == (not exact)


@SETTINGS
@given(fallback=st.integers(0, 2 * NOW), earlier=st.none() | st.integers(0, 2 * NOW))
def test_a_new_card_is_newer_than_the_card_that_wore_its_guid(fallback, earlier) -> None:
    before = None if earlier is None else LockEntry("g", "q", "c", "a", earlier)
    mod = new_card_mod(fallback, before)
    assert mod >= fallback
    if earlier is not None:
        assert mod > earlier


_SPACE = re.compile(r"\s+")
WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()] + ["\u3000", "\ufeff"]


@SETTINGS
@given(st.text(st.sampled_from([*WHITESPACE, "a", "é", "*", "\n"]), max_size=30) | st.text())
def test_an_answers_hash_collapses_exactly_the_spaces_the_pattern_did(markdown) -> None:
    assert answer_hash(markdown) == short_hash(_SPACE.sub(" ", markdown).strip())


@SETTINGS
@given(
    cards=st.lists(
        st.tuples(
            st.sampled_from(["g1", "g2", "g3", "g4"]),
            st.integers(0, 5),
            st.integers(NOW - 2 * REMEMBER_DELETED_DAYS * 86_400, NOW),
        ),
        max_size=8,
    ),
    live=st.sets(st.sampled_from(["g1", "g2", "g3", "g4"])),
)
def test_deleted_cards_are_remembered_once_for_a_year_unless_written_back(cards, live) -> None:
    deleted = [DeletedCard(g, "n.md", line, "q", "D", 1, when) for g, line, when in cards]
    kept = remembered(deleted, live, NOW)
    guids = [card.guid for card in kept]
    assert len(set(guids)) == len(guids) and not set(guids) & live
    assert all(card.deleted >= NOW - REMEMBER_DELETED_DAYS * 86_400 for card in kept)
    assert list(kept) == sorted(kept, key=lambda c: (c.note, c.line, c.guid))
    oldest = NOW - REMEMBER_DELETED_DAYS * 86_400
    for card in kept:  # the first record of a GUID counts
        assert card == next(d for d in deleted if d.guid == card.guid and d.deleted >= oldest)
    assert set(guids) == {d.guid for d in deleted if d.deleted >= oldest} - live


WORD = st.text("abcxyz", min_size=1, max_size=4)


@SETTINGS
@given(
    before=st.lists(WORD, max_size=4),
    question=st.lists(WORD, min_size=1, max_size=4),
    after=st.lists(WORD, max_size=4),
)
def test_a_question_is_written_in_a_note_that_holds_it_and_not_in_one_without_it(
    before, question, after
) -> None:
    text = " ".join(question)
    note = "\n".join([" ".join(before), f"**{text}**?", " ".join(after)])
    assert written_in(normalise_question(text), text_words(note))
    others = " ".join(w for w in (*before, *after) if w not in question)
    assert not written_in(normalise_question(text), text_words(others))


_WIKILINK = re.compile(r"!?\[\[(?:[^\[\]|]*+\|)?([^\[\]]*+)\]\]")
_LINK = re.compile(r"!?\[([^\[\]]*+)\]\([^)\[]*+\)")
_CURLY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def _normalised_as_before(markdown: str) -> str:
    """normalise_question as it was written before its fast paths (every step a pattern)."""
    text = unicodedata.normalize("NFKC", markdown).translate(_CURLY)
    text = _LINK.sub(r"\1", _WIKILINK.sub(r"\1", text))
    text = re.sub(r"[*_`~=]+", "", text)
    return _SPACE.sub(" ", text).strip().casefold().rstrip(" ?.!:;,")


PIECES = ["[[", "]]", "[", "](", ")", "|", "!", "**", "==", "`", "?", ". ", "ab", "Cd", "ﬁ", "ẞ"]
PIECES += ["[[ab]]", "[[ab|Cd]]", "![[p.png]]", "[Cd](u)", "[**ab**](x y)"]  # whole links
QUESTION_TEXT = st.lists(
    st.sampled_from([*PIECES, *WHITESPACE, "‘", "’", "“", "”"]), max_size=16
).map("".join)


@SETTINGS
@given(QUESTION_TEXT | st.text(max_size=40))
def test_a_question_is_normalised_as_before_its_fast_paths(markdown) -> None:
    assert normalise_question(markdown) == _normalised_as_before(markdown)
