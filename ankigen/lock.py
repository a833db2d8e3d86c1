"""Card identity and the lock file: which Anki note each card is, and when it last changed.

A card's GUID comes from its note's vault path and its normalised question, so it survives
re-builds on any machine. Anki's importer (default options) only updates a note whose incoming
modification time is newer, so a card's `mod` must move forward exactly when its content changed.
The lock file (JSON, meant to be committed next to the vault) remembers, per card, its GUID,
content hash, answer hash, position, line, first deck and mod; with it, a card whose question was
reworded keeps its GUID, and so its review history. It also remembers deleted cards for
REMEMBER_DELETED_DAYS, so the user can be told how to find them in Anki (todo.py).

Everything read from the lock is checked: a bad entry is dropped or repaired with a message that
names ankigen.lock and its line, never trusted and never fatal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import unicodedata
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeGuard

from . import atomic
from .cardid import with_card_id
from .records import AnkiNote, CardDraft, Diagnostic

LOCK_VERSION = 1
# The content hash `ankigen adopt` writes: this, then the card's fields.source_hash when adopted;
# the entry keeps the collection's modification time until that text changes.
ADOPTED = "adopted:"
LOCK_FILENAME = "ankigen.lock"
# How long a deleted card is remembered (and listed in the search for deleted cards).
REMEMBER_DELETED_DAYS = 365
# Latest modification time accepted from outside (the lock, SOURCE_DATE_EPOCH): 9999-12-31.
# Larger numbers overflow Python's dates and Anki's integer columns.
MAX_TIME = 253_402_300_799


# ---------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)  # one per card: no __dict__
class LockEntry:
    """What the lock remembers about one card; its position is its index in its note's list."""

    guid: str
    question: str  # normalised question, also for people reading the lock's diff
    content: str  # hash of the fields and tags Anki receives, and of the note's path
    answer: str  # hash of the answer's normalised Markdown
    mod: int
    line: int = 0  # where the card was at the last build (0: not known)
    deck: str = ""  # the deck the card was first built for: where Anki keeps it ("" unknown)
    text: str = ""  # the question's first line as written, for messages ("" unknown)
    # The deck a syntax chose for it at the last build ("" = its folder's; None = not known: an
    # entry from before decks chosen by a syntax were tracked, whose `deck` is its folder's).
    target: str | None = None


@dataclass(frozen=True)
class DeletedCard:
    """A card whose question was deleted from the notes, remembered for REMEMBER_DELETED_DAYS."""

    guid: str
    note: str  # the note it was in
    line: int  # its line there at the last build that had it (0: not known)
    question: str  # normalised
    deck: str  # where Anki keeps it
    mod: int  # its last modification time
    deleted: int  # when a build first found it gone
    text: str = ""  # the question as written ("" unknown)

    def where(self) -> str:
        return f"{self.note}:{self.line}" if self.line else self.note

    def shown(self) -> str:
        """ "path:line question" for messages, the question as it was written when known."""
        return f"{self.where()} {self.text or self.question}"


def deleted_card(entry: LockEntry, note: str, deck: str, now: int) -> DeletedCard:
    """The record of a lock entry whose card is gone (found gone at `now`)."""
    return DeletedCard(
        entry.guid, note, entry.line, entry.question, entry.deck or deck, entry.mod, now, entry.text
    )


@dataclass(frozen=True)
class ModelStamp:
    """The note type's fingerprint and the mod time Anki last received for it."""

    fingerprint: str
    mod: int


@dataclass(frozen=True)
class Lock:
    """Cards by note path, in card order. Immutable: every update returns a new Lock."""

    notes: Mapping[str, tuple[LockEntry, ...]] = field(default_factory=lambda: MappingProxyType({}))
    model: ModelStamp | None = None
    deleted: tuple[DeletedCard, ...] = ()
    # The vault's name (its root deck, the obsidian:// links), recorded at its first build so
    # that a checkout under another folder name builds the same packages ("" = not recorded).
    vault: str = ""

    def updated(self, part: Lock) -> Lock:
        """This lock with the notes of `part` replaced by part's entries (none → dropped)."""
        notes = dict(self.notes)
        for rel, entries in part.notes.items():
            if entries:
                notes[rel] = entries
            else:
                notes.pop(rel, None)
        return Lock(
            MappingProxyType(dict(sorted(notes.items()))),
            part.model or self.model,
            self.deleted,
            self.vault,
        )

    def pruned(self, existing_notes: Iterable[str]) -> tuple[Lock, tuple[str, ...]]:
        """Drop notes that are no longer in the vault; also return their cards, for reports."""
        keep = set(existing_notes)
        removed = tuple(
            f"{rel}: {entry.question}"
            for rel, entries in self.notes.items()
            if rel not in keep
            for entry in entries
        )
        notes = {rel: entries for rel, entries in self.notes.items() if rel in keep}
        return Lock(MappingProxyType(notes), self.model, self.deleted, self.vault), removed

    def with_model(self, fingerprint: str, now: int) -> tuple[Lock, int]:
        """Stamp the note type: (new lock, the mod to give it). The mod moves forward only
        when the templates or CSS changed, so Anki's importer updates them exactly then."""
        old = self.model
        if old is not None and old.fingerprint == fingerprint:
            return self, old.mod
        mod = now if old is None else max(now, old.mod + 1)
        return Lock(self.notes, ModelStamp(fingerprint, mod), self.deleted, self.vault), mod

    def with_deleted(self, new: Iterable[DeletedCard], now: int) -> Lock:
        """This lock remembering the `new` deleted cards as well, and forgetting deleted cards
        whose GUID is a card again (a question written back) or older than the time limit."""
        live = {entry.guid for entries in self.notes.values() for entry in entries}
        oldest = now - REMEMBER_DELETED_DAYS * 86_400
        kept: dict[str, DeletedCard] = {}
        for card in (*self.deleted, *new):
            if card.guid not in live and card.deleted >= oldest:
                kept.setdefault(card.guid, card)  # the first time it was found gone counts
        deleted = tuple(sorted(kept.values(), key=lambda c: (c.note, c.line, c.guid)))
        return Lock(self.notes, self.model, deleted, self.vault)


@dataclass(frozen=True)
class Changes:
    """What this build changed, one "path:line question" string per card."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    reworded: tuple[str, ...] = ()
    moved: tuple[
        str, ...
    ] = ()  # its note moved to another folder, or its syntax chose another deck
    renamed: tuple[str, ...] = ()  # its note was renamed in the same folder
    removed: tuple[str, ...] = ()  # "path:line question", the line where it was last
    unchanged: tuple[str, ...] = ()
    # Not built this time, its question still in the note (filtered by --syntax, unreadable
    # settings, a note type not resolved…): kept in the lock as it was, never deleted.
    kept: tuple[str, ...] = ()

    KINDS = ("added", "changed", "reworded", "moved", "renamed", "removed", "unchanged", "kept")

    def summary(self) -> str:
        return ", ".join(f"{len(getattr(self, kind))} {kind}" for kind in self.KINDS)


@dataclass(frozen=True)
class Identified:
    """Notes for Anki (in draft order), the lock entries of their notes and what changed."""

    notes: tuple[AnkiNote, ...]
    lock: Lock  # only the notes in scope; merge with `Lock.updated`
    changes: Changes
    diagnostics: tuple[Diagnostic, ...] = ()
    deleted: tuple[DeletedCard, ...] = ()  # cards of the notes in scope that are gone


# ---------------------------------------------------------------- identity


# No "[" inside: each try stops at the next bracket, so a line of "[[[[" is linear, not quadratic.
_LINK = re.compile(r"!?\[([^\[\]]*+)\]\([^)\[]*+\)")  # [text](url) → text
_WIKILINK = re.compile(r"!?\[\[(?:[^\[\]|]*+\|)?([^\[\]]*+)\]\]")  # [[target|alias]] → alias
_MARKUP = re.compile(r"[*_`~=]+")  # emphasis, code, strike-through, highlight
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
_SPACE = re.compile(r"\s+")
_TRAILING_CHARS = " ?.!:;,"  # after the spaces are collapsed


def normalise_question(markdown: str) -> str:
    """The question as compared: link text only, no emphasis marks, spaces collapsed, case
    folded, no trailing punctuation. "What is **AMI**? " and "what is AMI" are the same."""
    text = unicodedata.normalize("NFKC", markdown).translate(_QUOTES)
    text = _WIKILINK.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _MARKUP.sub("", text)
    text = _SPACE.sub(" ", text).strip().casefold()
    return text.rstrip(_TRAILING_CHARS)  # a regex "[…]+$" is quadratic on a long run of "?"


def _genanki_guid(*values: object) -> str:
    # Imported on first use: genanki takes ~60 ms to import, which a rebuild with no card to
    # identify does not need.
    from genanki.util import guid_for as genanki_guid_for

    return genanki_guid_for(*values)


def guid_for(note_rel: str, question_key: str) -> str:
    """The card's natural GUID: its note's vault path and normalised question, not the answer."""
    return _genanki_guid("ankigen", note_rel, normalise_question(question_key))


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _content_hash(draft: CardDraft, tags: tuple[str, ...]) -> str:
    # The rule for when a card's mod moves forward (README, "When a re-import replaces a card"):
    # every field and tag Anki receives, and the note's path (a moved or renamed note must not
    # leave a Source link to a gone file). Not the Source field's line: lines added above a
    # card are no change to the card.
    return _hash(*draft.fields[:-1], "\x1e", *tags, "\x1e", draft.note_rel)


def _answer_hash(draft: CardDraft) -> str:
    return answer_hash(draft.answer_key)


def answer_hash(markdown: str) -> str:
    """The hash of an answer's Markdown, spaces collapsed: a reworded card is recognised by it."""
    return _hash(_SPACE.sub(" ", markdown).strip())


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


@dataclass(frozen=True)
class FolderContext:
    """What the identity stage knows of the folder whose drafts it identifies."""

    deck: str = ""  # "AWS::Compute"
    moved_tag: str = ""  # the tag for cards Anki keeps in another deck (todo.moved_tag)
    # The same for cards whose syntax chose a deck (todo.deck_moved_tag): deck → tag.
    moved_tags: Mapping[str, str] = field(default_factory=dict)
    moved_from: Mapping[str, str] = field(default_factory=dict)  # new note path → old
    # GUIDs of other notes' cards (GUID → note): a new card never takes one of them.
    taken: Mapping[str, str] = field(default_factory=dict)
    # Whether a note's text still holds a card (note path, its lock entry): a card not built
    # whose question is still written is kept, not deleted. None: every card not built is
    # deleted (the caller read every card of the note).
    still_written: Callable[[str, LockEntry], bool] | None = None


def assign_identities(
    drafts: Sequence[CardDraft],
    lock: Lock,
    fallback_mod: Callable[[str], int],
    now: int,
    *,
    scope: Iterable[str] | None = None,
    context: FolderContext = FolderContext(),
) -> Identified:
    """Give every draft a GUID and mod, using and updating the lock.

    `scope` names the notes this call is authoritative for (default: the notes of the drafts);
    lock entries of notes in scope that have no draft any more are reported as removed. Notes
    outside the scope are neither read nor returned, so folders can be done separately and
    merged with `lock.updated(result.lock)`.
    """
    by_note: dict[str, list[int]] = defaultdict(list)
    for index, draft in enumerate(drafts):
        by_note[draft.note_rel].append(index)
    scope_notes = sorted(set(by_note) | set(scope or ()))
    deleted: dict[str, list[DeletedCard]] = defaultdict(list)
    for card in lock.deleted:
        deleted[card.note].append(card)

    notes: list[AnkiNote | None] = [None] * len(drafts)
    part: dict[str, tuple[LockEntry, ...]] = {}
    changes: dict[str, list[str]] = defaultdict(list)
    diagnostics: list[Diagnostic] = []
    gone: list[DeletedCard] = []
    for rel in scope_notes:
        indices = by_note.get(rel, [])
        old = lock.notes.get(rel, ())
        result = _identify_note(
            rel,
            [drafts[i] for i in indices],
            old,
            _NoteClock(fallback_mod, now),
            context,
            deleted[rel],
        )
        for i, note in zip(indices, result.notes, strict=True):
            notes[i] = note
        part[rel] = result.entries
        for kind, items in result.changes.items():
            changes[kind].extend(items)
        diagnostics.extend(result.diagnostics)
        gone.extend(result.gone)

    return Identified(
        notes=tuple(n for n in notes if n is not None),
        lock=Lock(MappingProxyType(part), None),
        changes=Changes(**{kind: tuple(items) for kind, items in changes.items()}),
        diagnostics=tuple(diagnostics),
        deleted=tuple(gone),
    )


@dataclass(frozen=True)
class _NoteClock:
    fallback_mod: Callable[[str], int]
    now: int


@dataclass
class _NoteResult:
    notes: list[AnkiNote]
    entries: tuple[LockEntry, ...]
    changes: dict[str, list[str]]
    diagnostics: list[Diagnostic]
    gone: list[DeletedCard]


def _folder_of(rel: str) -> str:
    return rel.rpartition("/")[0]


def _identify_note(
    rel: str,
    drafts: list[CardDraft],
    old: tuple[LockEntry, ...],
    clock: _NoteClock,
    context: FolderContext,
    deleted: list[DeletedCard],
) -> _NoteResult:
    now = clock.now
    keys = [normalise_question(d.question_key) for d in drafts]
    answers = [_answer_hash(d) for d in drafts]
    diagnostics = _duplicate_warnings(rel, drafts, keys)
    match = _match(keys, answers, old)
    exact = {i for i, j in match.items() if old[j].question == keys[i]}
    kept = _not_built(rel, old, set(match.values()), context)

    # Identities: matched cards keep their GUID; new ones take their natural GUID, suffixed
    # when it is taken (a duplicate question, an old GUID now worn by a reworded card, or a
    # GUID of another note's card), or the GUID of the same question deleted from this note
    # before (it is back).
    taken = {old[j].guid for j in (*match.values(), *kept)}

    def foreign(guid: str) -> str | None:
        owner = context.taken.get(guid, rel)
        return owner if owner != rel else None

    revivable = {c.question: c for c in deleted if c.guid not in taken and not foreign(c.guid)}
    revived: dict[int, DeletedCard] = {}  # before any new GUID is chosen, so none takes theirs
    for i in range(len(drafts)):
        if i not in match and keys[i] in revivable:
            revived[i] = revivable.pop(keys[i])
            taken.add(revived[i].guid)
    moved_from = context.moved_from.get(rel)
    tried: dict[tuple[str, bool], int] = {}
    old_by_guid = {e.guid: e for e in old}
    notes: list[AnkiNote] = []
    entries: list[LockEntry] = []
    changes: dict[str, list[str]] = defaultdict(list)
    for i, draft in enumerate(drafts):
        text = _first_line(draft.question_key)
        where = f"{rel}:{draft.line} {text}"
        back = None
        if i in match and foreign(old[match[i]].guid):
            diagnostics.append(_guid_clash(rel, draft.line, old[match[i]].guid, foreign))
            del match[i]
        target = draft.deck or context.deck  # where the card belongs now
        if i in match:
            entry = old[match[i]]
            guid, deck = entry.guid, entry.deck or target
            if entry.target is None and deck == context.deck:
                deck = target  # the build that wrote the entry put the card in its syntax's deck
        else:
            back = revived.get(i)
            if back:
                guid, deck = back.guid, back.deck
            else:
                natural = _free_guid(rel, keys[i], taken, _no_owner, tried)
                guid = _free_guid(rel, keys[i], taken, foreign, tried)
                if guid != natural:
                    diagnostics.append(_guid_clash(rel, draft.line, natural, foreign))
                deck = target
        tags = draft.tags
        if deck != target:  # Anki keeps the card in `deck` (see todo.py)
            tag = context.moved_tag if target == context.deck else context.moved_tags.get(target)
            tags = (*tags, tag) if tag else tags
        content = _content_hash(draft, tags)
        if i in match:
            if i not in exact:
                kind, mod = "reworded", max(now, entry.mod + 1)
            elif entry.content.startswith(ADOPTED):
                # Adopted: Anki's note (and any edit made there) stays as it is until the
                # card's text in the notes changes since `ankigen adopt`.
                same = entry.content == ADOPTED + draft.source and deck == target
                kind, mod = (
                    ("unchanged", entry.mod) if same else ("changed", max(now, entry.mod + 1))
                )
            elif entry.content != content:
                kind, mod = "changed", max(now, entry.mod + 1)
                if moved_from is not None:
                    kind = "moved" if _folder_of(moved_from) != _folder_of(rel) else "renamed"
                elif entry.target is not None and (entry.target or context.deck) != target:
                    kind = "moved"  # the deck its syntax chose changed
            else:
                kind, mod = "unchanged", entry.mod
        else:
            kind, mod = "added", clock.fallback_mod(rel)
            # A GUID Anki may already hold (a question back, or a free GUID an unmatched card
            # of this note had): newer than that card, or Anki would keep the old content.
            earlier = back or old_by_guid.get(guid)
            if earlier:
                mod = max(mod, earlier.mod + 1)
        taken.add(guid)
        changes[kind].append(where)
        chosen = target if target != context.deck else ""
        entries.append(
            LockEntry(guid, keys[i], content, answers[i], mod, draft.line, deck, text, chosen)
        )
        fields = (*draft.fields[:-1], with_card_id(draft.fields[-1], guid))
        card = (draft.note_type, draft.deck, draft.schedule)  # as read, for the package
        notes.append(AnkiNote(guid, fields, tags, mod, f"{rel}:{draft.line}", *card,
                              note_rel=rel, line=draft.line, named=draft.named))  # fmt: skip

    matched_old = set(match.values())
    gone = [
        deleted_card(e, rel, context.deck, now)
        for j, e in enumerate(old)
        if j not in matched_old and j not in kept and e.guid not in taken  # not worn by a new card
    ]
    changes["removed"] = [card.shown() for card in gone]
    if kept:  # as they were, among the built cards by their last line
        changes["kept"] = [f"{rel}:{old[j].line} {old[j].text or old[j].question}" for j in kept]
        built = list(zip([d.line for d in drafts], range(len(entries)), entries, strict=True))
        built += [(old[j].line, -1, old[j]) for j in kept]
        entries = [entry for _, _, entry in sorted(built, key=lambda row: row[:2])]
    return _NoteResult(notes, tuple(entries), changes, diagnostics, gone)


def _not_built(
    rel: str, old: tuple[LockEntry, ...], matched: set[int], context: FolderContext
) -> list[int]:
    """The old entries no card matched whose question the note's text still holds."""
    if context.still_written is None:
        return []
    return [
        j
        for j, entry in enumerate(old)
        if j not in matched
        and context.taken.get(entry.guid, rel) == rel
        and context.still_written(rel, entry)
    ]


_CLOZE_OPEN = re.compile(r"\{+(?:c?\d+(?:::|[:|]))?")  # {{c1:: {2: {c2| {
_CLOZE_HINT = re.compile(r"::[^:{}\n]*+\}\}")  # ::hint}}
_PREFIXES = ("cloze: ", "use case: ")  # of question keys (rendered.question_key), normalised


def text_words(text: str) -> str:
    """A note's text (or a normalised question) as its words only, the way questions are
    compared with notes: clozes read as their answers, no markup, case folded."""
    text = _CLOZE_OPEN.sub(" ", _CLOZE_HINT.sub(" ", text))
    return " ".join(_WORDS.findall(normalise_question(text)))


def written_in(question: str, words_of_text: str) -> bool:
    """Whether a card's normalised question stands in a note (given as text_words()): its words,
    in order and whole. A question without words cannot be told gone: it counts as written."""
    for prefix in _PREFIXES:
        if question.startswith(prefix) or question == prefix.rstrip(": "):  # a bare use case
            question = question[len(prefix) :]
            break
    words = text_words(question)
    return not words or f" {words} " in f" {words_of_text} "


_WORDS = re.compile(r"\w+")


def _match(keys: list[str], answers: list[str], old: tuple[LockEntry, ...]) -> dict[int, int]:
    """Which old entry each new card is: draft index → old entry index."""
    # 1. Same question (the k-th card with a question matches the k-th entry with it).
    match: dict[int, int] = {}
    old_by_key: dict[str, deque[int]] = defaultdict(deque)
    for j, entry in enumerate(old):
        old_by_key[entry.question].append(j)
    for i, key in enumerate(keys):
        if old_by_key.get(key):
            match[i] = old_by_key[key].popleft()

    # 2. Reworded, same answer: only when that answer is unambiguous on both sides.
    exact_old = set(match.values())
    free_old = [j for j in range(len(old)) if j not in exact_old]
    free_new = [i for i in range(len(keys)) if i not in match]
    old_answers = Counter(old[j].answer for j in free_old)
    new_answers = Counter(answers[i] for i in free_new)
    old_by_answer = {old[j].answer: j for j in free_old}
    for i in free_new:
        answer = answers[i]
        if old_answers[answer] == 1 and new_answers[answer] == 1:
            match[i] = old_by_answer[answer]

    # 3. Reworded, same place: the only unmatched card between the same matched neighbours.
    matched_old = {j: i for i, j in match.items()}
    free_old = [j for j in range(len(old)) if j not in matched_old]
    free_new = [i for i in range(len(keys)) if i not in match]
    old_gaps = _gaps(len(old), free_old, lambda j: old[j].guid if j in matched_old else None)
    new_gaps = _gaps(len(keys), free_new, lambda i: old[match[i]].guid if i in match else None)
    for gap, new_members in new_gaps.items():
        old_members = old_gaps.get(gap, [])
        if len(new_members) == 1 and len(old_members) == 1:
            match[new_members[0]] = old_members[0]
    return match


def _first_line(markdown: str) -> str:
    lines = markdown.strip().splitlines()
    return lines[0][:200] if lines else ""


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


def _no_owner(_: str) -> str | None:
    return None


def _free_guid(
    rel: str,
    key: str,
    taken: set[str],
    foreign: Callable[[str], str | None] = _no_owner,
    tried: dict[tuple[str, bool], int] | None = None,
) -> str:
    """The first of the key's GUIDs (natural, then suffixed 2, 3, …) not taken. `tried`
    remembers, per key, the suffixes found taken before in this note: `taken` only grows, so
    they stay taken, and n copies of one question cost n GUIDs, not n²/2."""
    memo = (key, foreign is not _no_owner)
    n = tried.get(memo, 1) if tried is not None else 1
    guid = _genanki_guid("ankigen", rel, key, *((n,) if n > 1 else ()))
    while guid in taken or foreign(guid):
        n += 1
        guid = _genanki_guid("ankigen", rel, key, n)
    if tried is not None:
        tried[memo] = n
    return guid


def _guid_clash(rel: str, line: int, guid: str, foreign: Callable[[str], str | None]) -> Diagnostic:
    message = (
        f"GUID {guid!r} already belongs to a card of {foreign(guid)} (ankigen.lock); "
        "this card gets another, so that no two cards share one"
    )
    return Diagnostic(rel, line, "warning", message)


def _duplicate_warnings(rel: str, drafts: list[CardDraft], keys: list[str]) -> list[Diagnostic]:
    first_line: dict[str, int] = {}
    warnings = []
    for draft, key in zip(drafts, keys, strict=True):
        if key in first_line:
            warnings.append(
                Diagnostic(
                    rel,
                    draft.line,
                    "warning",
                    f"duplicate question; same as line {first_line[key]}, "
                    "the cards are told apart by their order in the note",
                )
            )
        else:
            first_line[key] = draft.line
    return warnings


# ---------------------------------------------------------------- file


def lock_location(root: Path) -> tuple[Path | None, tuple[Diagnostic, ...]]:
    """Where the vault's lock is read and written. None (with a warning) when `ankigen.lock`
    is a symbolic link that leads out of the vault, or not a regular file (a folder, a pipe):
    it is then neither read nor replaced."""
    path = root / LOCK_FILENAME
    if path.is_symlink():
        try:
            target = path.resolve(strict=False)
            inside = target.is_relative_to(root.resolve())
        except (OSError, RuntimeError):  # a link loop
            target, inside = path, False
        if not inside or target == path:
            return None, (_lock_warning("is a symbolic link out of the vault"),)
        path = target
    if path.exists() and not path.is_file():
        return None, (_lock_warning("is not a regular file"),)
    return path, ()


def vault_name_ok(name: str) -> bool:
    """A name usable as the vault's: one printable line, no folder separator, not too long."""
    return 0 < len(name) <= 255 and name.isprintable() and "/" not in name and name == name.strip()


# The vault's name as a top-level key ("vault" is no key of a card's entry, and a quote inside
# a text is escaped): lock_text() writes it near the end, a hand edit may put it first.
_VAULT_KEY = re.compile(r'(?<!\\)"vault"\s{0,9}:\s{0,9}("[^"\\\n]*(?:\\.[^"\\\n]*)*")')
_VAULT_WINDOW = 1 << 16


def recorded_vault_name(root: Path) -> str:
    """The vault's name recorded in its lock, "" when none. Read before the vault is walked,
    from the first and last 64 KiB of the file only (a lock may hold 30 MB)."""
    path, _ = lock_location(root)
    if path is None:
        return ""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a pipe never hangs
    except OSError:
        return ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return ""
        size = info.st_size
        head = os.pread(fd, _VAULT_WINDOW, 0)
        tail = os.pread(fd, _VAULT_WINDOW, max(len(head), size - _VAULT_WINDOW))
    except OSError:
        return ""
    finally:
        os.close(fd)
    for part in (tail, head):
        found = _VAULT_KEY.findall(part.decode("utf-8", "replace"))
        if found:
            with contextlib.suppress(ValueError):
                name = json.loads(found[-1])
                return name if isinstance(name, str) and vault_name_ok(name) else ""
    return ""


def vault_name_from_entries(root: Path) -> str:
    """For a lock from before the vault's name was recorded: the deck its cards of notes at the
    vault root were first built for, which was the vault's name then ("" when none)."""
    path, _ = lock_location(root)
    if path is None:
        return ""
    lock, _ = load_lock(path)
    decks = Counter(
        entry.deck
        for rel, entries in lock.notes.items()
        if "/" not in rel
        for entry in entries
        if entry.deck and not entry.target and "::" not in entry.deck
    )
    found = [name for name, _ in decks.most_common() if vault_name_ok(name)]
    return found[0] if found else ""


def _lock_warning(what: str) -> Diagnostic:
    message = f"{what}: not read and not written; every card is treated as new"
    return Diagnostic(LOCK_FILENAME, 0, "warning", message)


def load_lock(path: Path) -> tuple[Lock, tuple[Diagnostic, ...]]:
    """Read the lock file: missing → empty lock; unreadable → empty lock and an error
    diagnostic (every card is then treated as new; review history is kept by GUID anyway).
    Entries that do not check out are dropped or repaired, each with a warning."""
    try:
        if not path.is_file():  # a folder or a pipe: reading would fail or hang
            if path.exists():
                return Lock(), (_lock_problem(path, "cannot read lock file: not a regular file"),)
            return Lock(), ()
        text = atomic.read_regular(path).decode("utf-8")  # should it turn into a pipe meanwhile
    except FileNotFoundError:
        return Lock(), ()
    except (OSError, UnicodeDecodeError) as error:
        return Lock(), (_lock_problem(path, f"cannot read lock file: {error}"),)
    try:
        reader = _LockReader(path.name, text)
        return reader.read(json.loads(text)), tuple(reader.problems)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        message = f"ignoring corrupt lock file ({error}); cards keep GUIDs but rewording is lost"
        return Lock(), (_lock_problem(path, message),)


def _lock_problem(path: Path, message: str) -> Diagnostic:
    return Diagnostic(path.name, 0, "error", message)


def valid_time(value: object) -> TypeGuard[int]:
    """A modification time ankigen accepts from outside: a whole number in [0, MAX_TIME]."""
    return type(value) is int and 0 <= value <= MAX_TIME


class _LockReader:
    """Turns the lock's JSON into a Lock, checking every value it reads."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.problems: list[Diagnostic] = []

    def warn(self, near: str, message: str) -> None:
        """A warning at the line of the lock that holds `near` (its first line if not found)."""
        found = self.text.find(json.dumps(near, ensure_ascii=False)) if near else -1
        line = self.text.count("\n", 0, found) + 1 if found >= 0 else 1
        self.problems.append(Diagnostic(self.name, line, "warning", message))

    def read(self, data: object) -> Lock:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("version") != LOCK_VERSION:
            raise ValueError(f"unknown lock version {data.get('version')!r}")
        raw_notes = data.get("notes")
        if not isinstance(raw_notes, dict):
            raise ValueError('"notes" is not an object')
        notes: dict[str, tuple[LockEntry, ...]] = {}
        owner: dict[str, str] = {}  # GUID → the note whose card has it
        for rel, raw_entries in sorted(raw_notes.items()):
            if not isinstance(raw_entries, list):
                self.warn(rel, f"entries of {rel!r} are not a list; dropped")
                continue
            entries = []
            for raw in raw_entries:
                entry = self.entry(rel, raw)
                if entry is None:
                    continue
                if entry.guid in owner:
                    self.warn(
                        entry.guid,
                        f"GUID {entry.guid!r} is used by several cards ({owner[entry.guid]} and "
                        f"{rel}); kept for the first, the other card gets a new GUID",
                    )
                    continue
                owner[entry.guid] = rel
                entries.append(entry)
            if entries:
                notes[rel] = tuple(entries)
        deleted = self.deleted(data.get("deleted", []), owner)
        vault = data.get("vault", "")
        if not isinstance(vault, str) or (vault and not vault_name_ok(vault)):
            self.warn("vault", "the vault's name is not valid; the folder's name is used")
            vault = ""
        return Lock(MappingProxyType(notes), self.model(data.get("model")), deleted, vault)

    def entry(self, rel: str, raw: object) -> LockEntry | None:
        if not isinstance(raw, dict) or not _guid_like(raw.get("guid")):
            self.warn(rel, f"a card of {rel!r} has no valid GUID; dropped")
            return None
        guid = raw["guid"]
        question, content, answer = (raw.get(key) for key in ("question", "content", "answer"))
        if not (isinstance(question, str) and isinstance(content, str) and isinstance(answer, str)):
            self.warn(guid, f"card {guid!r} of {rel!r} is incomplete; dropped")
            return None
        mod = raw.get("mod")
        if not valid_time(mod):
            self.warn(
                guid,
                f"mod {_short(mod)} of card {guid!r} of {rel!r} is not a time between 0 and "
                f"{MAX_TIME}; the card counts as changed",
            )
            mod, content = 0, ""
        line = raw.get("line", 0)
        line = line if type(line) is int and 0 <= line <= 10**9 else 0
        deck, text, target = raw.get("deck", ""), raw.get("text", ""), raw.get("target")
        return LockEntry(
            guid,
            question,
            content,
            answer,
            mod,
            line,
            deck if isinstance(deck, str) else "",
            text if isinstance(text, str) else "",
            target if isinstance(target, str) else None,
        )

    def model(self, raw: object) -> ModelStamp | None:
        if raw is None:
            return None
        if (
            isinstance(raw, dict)
            and isinstance(raw.get("fingerprint"), str)
            and valid_time(raw.get("mod"))
        ):
            return ModelStamp(raw["fingerprint"], raw["mod"])
        self.warn("model", "the note type's stamp is not valid; it is stamped again")
        return None

    def deleted(self, raw: object, live: Mapping[str, str]) -> tuple[DeletedCard, ...]:
        if not isinstance(raw, list):
            self.warn("deleted", '"deleted" is not a list; deleted cards are forgotten')
            return ()
        cards: dict[str, DeletedCard] = {}
        for item in raw:
            try:
                card = DeletedCard(
                    item["guid"],
                    item["note"],
                    item["line"],
                    item["question"],
                    item["deck"],
                    item["mod"],
                    item["deleted"],
                    item.get("text", ""),
                )
            except (TypeError, KeyError, AttributeError):
                card = None
            if (
                card is None
                or not _guid_like(card.guid)
                or not all(
                    isinstance(v, str) for v in (card.note, card.question, card.deck, card.text)
                )
                or not all(valid_time(v) for v in (card.mod, card.deleted))
                or type(card.line) is not int
                or not 0 <= card.line <= 10**9
            ):
                near = item.get("guid", "") if isinstance(item, dict) else ""
                self.warn(
                    near if isinstance(near, str) else "",
                    "a deleted card's record is not valid; forgotten",
                )
                continue
            if card.guid not in live:
                cards.setdefault(card.guid, card)
        return tuple(cards.values())


def _guid_like(value: object) -> bool:
    """ankigen's GUIDs are 10 printable ASCII characters; a GUID is printed in messages."""
    return isinstance(value, str) and value.isprintable() and 0 < len(value) <= 64


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def lock_text(lock: Lock) -> str:
    """The lock as the file holds it: sorted keys, one card per line, stable formatting."""
    return "".join(_lock_pieces(lock))


def _lock_pieces(lock: Lock) -> Iterator[str]:
    """lock_text() in pieces (a note's lines each), so that a big lock is written without
    being held whole in memory (30 MB at 100,000 cards, twice: as text and as bytes)."""
    lines = ["{"]
    if lock.deleted:
        lines.append('  "deleted": [')
        for k, d in enumerate(lock.deleted):
            row = (
                f'{{"deck": {_string(d.deck)}, "deleted": {int(d.deleted)}, '
                f'"guid": {_string(d.guid)}, "line": {int(d.line)}, "mod": {int(d.mod)}, '
                f'"note": {_string(d.note)}, "question": {_string(d.question)}, '
                f'"text": {_string(d.text)}}}'
            )
            lines.append(f"    {row}{',' if k < len(lock.deleted) - 1 else ''}")
        lines.append("  ],")
    if lock.model is not None:
        model = {"fingerprint": lock.model.fingerprint, "mod": lock.model.mod}
        lines.append(f'  "model": {_compact(model)},')
    lines.append('  "notes": {')
    notes = [(rel, entries) for rel, entries in sorted(lock.notes.items()) if entries]
    for n, (rel, entries) in enumerate(notes):
        lines.append(f"    {json.dumps(rel, ensure_ascii=False)}: [")
        if len(lines) > 1:  # hand out what is ready: a note's lines at a time
            yield "\n".join(lines[:-1]) + "\n"
            del lines[:-1]
        for k, e in enumerate(entries):
            # Written by hand (keys in sorted order): json.dumps per card costs 10 µs each.
            row = (
                f'{{"answer": {_string(e.answer)}, "content": {_string(e.content)}, '
                f'"deck": {_string(e.deck)}, "guid": {_string(e.guid)}, "line": {int(e.line)}, '
                f'"mod": {int(e.mod)}, "question": {_string(e.question)}, '
                f"{_target(e.target)}"
                f'"text": {_string(e.text)}}}'
            )
            lines.append(f"      {row}{',' if k < len(entries) - 1 else ''}")
        lines.append(f"    ]{',' if n < len(notes) - 1 else ''}")
    lines.append("  },")
    if lock.vault:
        lines.append(f'  "vault": {_string(lock.vault)},')
    lines.extend([f'  "version": {LOCK_VERSION}', "}", ""])
    yield "\n".join(lines)


def _target(deck: str | None) -> str:
    """The entry's "target" key, when known."""
    return "" if deck is None else f'"target": {_string(deck)}, '


_string = json.encoder.encode_basestring  # C speed-up, no ASCII-only


def _compact(value: dict) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def save_lock(path: Path, lock: Lock) -> bool:
    """Write the lock atomically, only when its text changed; return whether it was written."""
    try:
        if path.is_file() and _holds(atomic.read_regular(path), _lock_pieces(lock)):
            return False
    except OSError:
        pass
    with atomic.writer(path) as out:
        for piece in _lock_pieces(lock):
            out.write(piece.encode("utf-8"))
    return True


def _holds(data: bytes, pieces: Iterable[str]) -> bool:
    """Whether `data` is exactly the UTF-8 of the pieces put together (compared piece by
    piece; equal bytes are equal text, as UTF-8 has one encoding for each text)."""
    view = memoryview(data)
    at = 0
    for piece in pieces:
        chunk = piece.encode("utf-8")
        if view[at : at + len(chunk)] != chunk:
            return False
        at += len(chunk)
    return at == len(data)
