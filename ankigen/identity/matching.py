"""Matching: small pure steps that decide which old lock entry each card is, which GUID a new
card takes, what kind of change a card went through and its modification time.

Anki's importer (default options) only updates a note whose incoming modification time is
newer, so a card's `mod` must move forward exactly when its content changed.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from ..records import CardDraft
from .deletions import DeletedCard
from .keys import genanki_guid, normalise_question
from .lockfile import ADOPTED, Lock, LockEntry

Owner = Callable[[str], "str | None"]  # GUID → the other note whose card wears it, if any


# ---------------------------------------------------------------- cards to old entries


def match_cards(
    keys: Sequence[str], answers: Sequence[str], old: Sequence[LockEntry]
) -> dict[int, int]:
    """Which old entry each new card is: draft index → old entry index (one-to-one).
    `keys` are the drafts' normalised questions, `answers` their answer hashes."""
    match = _same_question(keys, old)
    _same_answer(answers, old, match)
    _same_place(len(keys), old, match)
    return match


def _same_question(keys: Sequence[str], old: Sequence[LockEntry]) -> dict[int, int]:
    """Same question: the k-th card with a question matches the k-th entry with it."""
    match: dict[int, int] = {}
    old_by_key: dict[str, deque[int]] = defaultdict(deque)
    for j, entry in enumerate(old):
        old_by_key[entry.question].append(j)
    for i, key in enumerate(keys):
        if old_by_key.get(key):
            match[i] = old_by_key[key].popleft()
    return match


def _same_answer(answers: Sequence[str], old: Sequence[LockEntry], match: dict[int, int]) -> None:
    """Reworded, same answer: only when that answer is unambiguous on both sides."""
    exact_old = set(match.values())
    free_old = [j for j in range(len(old)) if j not in exact_old]
    free_new = [i for i in range(len(answers)) if i not in match]
    old_answers = Counter(old[j].answer for j in free_old)
    new_answers = Counter(answers[i] for i in free_new)
    old_by_answer = {old[j].answer: j for j in free_old}
    for i in free_new:
        answer = answers[i]
        if old_answers[answer] == 1 and new_answers[answer] == 1:
            match[i] = old_by_answer[answer]


def _same_place(count: int, old: Sequence[LockEntry], match: dict[int, int]) -> None:
    """Reworded, same place: the only unmatched card between the same matched neighbours."""
    matched_old = {j: i for i, j in match.items()}
    free_old = [j for j in range(len(old)) if j not in matched_old]
    free_new = [i for i in range(count) if i not in match]
    if not free_old or not free_new:  # nothing left to pair
        return
    old_gaps = _gaps(len(old), free_old, lambda j: old[j].guid if j in matched_old else None)
    new_gaps = _gaps(count, free_new, lambda i: old[match[i]].guid if i in match else None)
    for gap, new_members in new_gaps.items():
        old_members = old_gaps.get(gap, [])
        if len(new_members) == 1 and len(old_members) == 1:
            match[new_members[0]] = old_members[0]


def _gaps(
    count: int, free: list[int], anchor: Callable[[int], str | None]
) -> dict[tuple[str | None, str | None], list[int]]:
    """Group the free positions by (previous anchor, next anchor) GUIDs."""
    previous: list[str | None] = []
    last: str | None = None
    for k in range(count):
        previous.append(last)
        last = anchor(k) or last
    following: list[str | None] = [None] * count
    last = None
    for k in reversed(range(count)):
        following[k] = last
        last = anchor(k) or last
    groups: dict[tuple[str | None, str | None], list[int]] = defaultdict(list)
    for k in free:
        groups[(previous[k], following[k])].append(k)
    return groups


# ---------------------------------------------------------------- notes to gone notes


def adopt_moved_notes(
    lock: Lock, orphans: dict[str, tuple[LockEntry, ...]], drafts: Sequence[CardDraft]
) -> tuple[Lock, list[tuple[str, str]]]:
    """Keep the GUIDs of a note file that was renamed or moved.

    `orphans` are the lock entries of notes that are gone from the vault. A note of the drafts
    that has no lock entries takes over those of the gone note that shares the most of its
    questions, when at least half of them. Adopted notes are removed from `orphans`. Returns the
    lock with the adopted entries and (old path, new path) for each move.
    """
    if not orphans:  # no gone note to take over (a first build): nothing to compare
        return lock, []
    adopted, moves = moved_notes(lock.notes, orphans, drafts, orphan_index(orphans))
    if not adopted:
        return lock, moves
    return lock.updated(Lock(MappingProxyType(adopted), None)), moves


def orphan_index(orphans: Mapping[str, tuple[LockEntry, ...]]) -> dict[str, set[str]]:
    """Question → the gone notes that had it: made once per build, so that finding where a
    note came from costs its own questions, not a comparison with every gone note."""
    index: dict[str, set[str]] = defaultdict(set)
    for rel, entries in orphans.items():
        for entry in entries:
            index[entry.question].add(rel)
    return index


def moved_notes(
    notes: Mapping[str, tuple[LockEntry, ...]],
    orphans: dict[str, tuple[LockEntry, ...]],
    drafts: Sequence[CardDraft],
    index: Mapping[str, set[str]],
) -> tuple[dict[str, tuple[LockEntry, ...]], list[tuple[str, str]]]:
    """adopt_moved_notes' work: (new path → adopted entries, moves); `index` from
    orphan_index (notes adopted since are skipped: they are no longer in `orphans`)."""
    if not orphans:
        return {}, []
    questions: dict[str, set[str]] = defaultdict(set)
    for draft in drafts:
        if draft.note_rel not in notes:
            questions[draft.note_rel].add(normalise_question(draft.question_key))
    adopted: dict[str, tuple[LockEntry, ...]] = {}
    moves = []
    for rel, keys in sorted(questions.items()):
        shared: Counter[str] = Counter(
            old for key in keys for old in index.get(key, ()) if old in orphans
        )
        if not shared:
            continue
        most = max(shared.values())
        best = min(old for old, count in shared.items() if count == most)  # as sorted first
        if 2 * most >= len(keys):
            adopted[rel] = orphans.pop(best)
            moves.append((best, rel))
    return adopted, moves


# ---------------------------------------------------------------- GUIDs


def no_owner(_: str) -> str | None:
    """No other note wears any GUID."""
    return None


def free_guid(
    rel: str,
    key: str,
    taken: set[str],
    foreign: Owner = no_owner,
    tried: dict[tuple[str, bool], int] | None = None,
) -> str:
    """The first of the key's GUIDs (natural, then suffixed 2, 3, …) not taken. `tried`
    remembers, per key, the suffixes found taken before in this note: `taken` only grows, so
    they stay taken, and n copies of one question cost n GUIDs, not n²/2."""
    memo = (key, foreign is not no_owner)
    n = tried.get(memo, 1) if tried is not None else 1
    guid = genanki_guid("ankigen", rel, key, *((n,) if n > 1 else ()))
    while guid in taken or foreign(guid):
        n += 1
        guid = genanki_guid("ankigen", rel, key, n)
    if tried is not None:
        tried[memo] = n
    return guid


def new_guid(
    rel: str, key: str, taken: set[str], foreign: Owner, tried: dict[tuple[str, bool], int]
) -> tuple[str, str]:
    """(the GUID a new card takes, its natural GUID): the first of the key's GUIDs that no card
    of this note took and no other note's card wears. They differ when another note wears it."""
    natural = free_guid(rel, key, taken, no_owner, tried)
    # The first GUID free of both comes no earlier than the first free of `taken`: when another
    # note does not wear that one, it is the answer (and the second search, the cost of a GUID
    # each, is saved).
    if not foreign(natural):
        return natural, natural
    return free_guid(rel, key, taken, foreign, tried), natural


def revivals(
    keys: Sequence[str],
    match: Mapping[int, int],
    deleted: Sequence[DeletedCard],
    taken: set[str],
    foreign: Owner,
) -> dict[int, DeletedCard]:
    """New cards whose question was deleted from this note before (it is back): they take the
    deleted card's GUID, unless a card wears it again. Their GUIDs are added to `taken` before
    any new GUID is chosen, so that none takes theirs."""
    revivable = {c.question: c for c in deleted if c.guid not in taken and not foreign(c.guid)}
    revived: dict[int, DeletedCard] = {}
    for i, key in enumerate(keys):
        if i not in match and key in revivable:
            revived[i] = revivable.pop(key)
            taken.add(revived[i].guid)
    return revived


# ---------------------------------------------------------------- changes and times


def kept_deck(entry: LockEntry, target: str, folder_deck: str) -> str:
    """Where Anki keeps a matched card: the deck it was first built for."""
    deck = entry.deck or target
    if entry.target is None and deck == folder_deck:
        deck = target  # the build that wrote the entry put the card in its syntax's deck
    return deck


def classify_change(
    entry: LockEntry,
    *,
    exact: bool,
    content: str,
    source: str,
    in_place: bool,
    moved: str | None,
    now: int,
) -> tuple[str, int]:
    """(kind of change, mod) of a matched card. `exact`: same question; `content` its new
    content hash; `source` its source hash (for adopted cards); `in_place`: Anki keeps it in
    the deck it belongs in; `moved`: "moved"/"renamed"/None, what happened to its note or to
    the deck its syntax chose."""
    later = max(now, entry.mod + 1)
    if not exact:
        return "reworded", later
    if entry.content.startswith(ADOPTED):
        # Adopted: Anki's note (and any edit made there) stays as it is until the card's text
        # in the notes changes since `ankigen adopt`.
        same = entry.content == ADOPTED + source and in_place
        return ("unchanged", entry.mod) if same else ("changed", later)
    if entry.content == content:
        return "unchanged", entry.mod
    return moved or "changed", later


def how_moved(
    rel: str, moved_from: str | None, entry: LockEntry, folder_deck: str, target: str
) -> str | None:
    """What a changed card's move was: its note moved to another folder ("moved") or renamed
    in its folder ("renamed"), or its syntax chose another deck ("moved"); None: no move."""
    if moved_from is not None:
        return "moved" if _folder_of(moved_from) != _folder_of(rel) else "renamed"
    if entry.target is not None and (entry.target or folder_deck) != target:
        return "moved"
    return None


def _folder_of(rel: str) -> str:
    return rel.rpartition("/")[0]


def new_card_mod(fallback: int, earlier: LockEntry | DeletedCard | None) -> int:
    """A new card's mod: its note's time, and newer than the card that wore its GUID before
    when there is one (a question back, or a free GUID an unmatched card of this note had):
    Anki may still hold that card, and would keep the old content."""
    return max(fallback, earlier.mod + 1) if earlier else fallback
