"""A folder's cards against the lock, note by note: every draft gets a GUID and a modification
time, and the note's lock entries are written anew (matching.py decides each step)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ..cardid import with_card_id
from ..records import AnkiNote, CardDraft, Diagnostic
from .deletions import DeletedCard, deleted_card, not_built
from .keys import answer_hash, content_hash, first_line, normalise_question
from .lockfile import Lock, LockEntry
from .matching import (
    classify_change,
    how_moved,
    kept_deck,
    match_cards,
    new_card_mod,
    new_guid,
    revivals,
)


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

    def tags(self, tags: tuple[str, ...], deck: str, target: str) -> tuple[str, ...]:
        """A card's tags, with the moved tag when Anki keeps it in `deck`, not `target`."""
        if deck == target:
            return tags
        tag = self.moved_tag if target == self.deck else self.moved_tags.get(target)
        return (*tags, tag) if tag else tags  # see todo.py


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
    deleted: dict[str, list[DeletedCard]] = defaultdict(list)
    for card in lock.deleted:
        deleted[card.note].append(card)

    notes: list[AnkiNote | None] = [None] * len(drafts)
    part: dict[str, tuple[LockEntry, ...]] = {}
    changes: dict[str, list[str]] = defaultdict(list)
    diagnostics: list[Diagnostic] = []
    gone: list[DeletedCard] = []
    for rel in sorted(set(by_note) | set(scope or ())):
        indices = by_note.get(rel, [])
        note = _Note(rel, lock.notes.get(rel, ()), context, fallback_mod, now)
        result = note.identify([drafts[i] for i in indices], deleted[rel])
        for i, anki_note in zip(indices, result.notes, strict=True):
            notes[i] = anki_note
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


@dataclass
class _NoteResult:
    notes: list[AnkiNote]
    entries: tuple[LockEntry, ...]
    changes: dict[str, list[str]]
    diagnostics: list[Diagnostic]
    gone: list[DeletedCard]


class _Note:
    """One note's drafts identified against its old lock entries."""

    def __init__(
        self,
        rel: str,
        old: tuple[LockEntry, ...],
        context: FolderContext,
        fallback_mod: Callable[[str], int],
        now: int,
    ) -> None:
        self.rel = rel
        self.old = old
        self.context = context
        self.fallback_mod = fallback_mod
        self.now = now
        self.moved_from = context.moved_from.get(rel)
        self.taken: set[str] = set()  # GUIDs worn by this note's cards
        self.tried: dict[tuple[str, bool], int] = {}  # matching.free_guid's memo
        self.diagnostics: list[Diagnostic] = []
        self.changes: dict[str, list[str]] = defaultdict(list)
        self.by_guid: dict[str, LockEntry] | None = None

    def foreign(self, guid: str) -> str | None:
        """The other note whose card wears `guid`, if any."""
        owner = self.context.taken.get(guid, self.rel)
        return owner if owner != self.rel else None

    def identify(self, drafts: list[CardDraft], deleted: list[DeletedCard]) -> _NoteResult:
        """Matched cards keep their GUID; new ones take the GUID of the same question deleted
        from this note before (it is back), else their natural GUID, suffixed when it is taken
        (a duplicate question, an old GUID now worn by a reworded card, or a GUID of another
        note's card)."""
        old = self.old
        keys = [normalise_question(d.question_key) for d in drafts]
        answers = [answer_hash(d.answer_key) for d in drafts]
        self.diagnostics = _duplicate_warnings(self.rel, drafts, keys)
        match = match_cards(keys, answers, old)
        exact = {i for i, j in match.items() if old[j].question == keys[i]}
        context = self.context
        kept = not_built(self.rel, old, set(match.values()), context.taken, context.still_written)
        self.taken = {old[j].guid for j in (*match.values(), *kept)}
        revived = revivals(keys, match, deleted, self.taken, self.foreign)
        notes: list[AnkiNote] = []
        entries: list[LockEntry] = []
        for i, draft in enumerate(drafts):
            entry = self._matched(draft, i, match)
            note, row = self._card(draft, keys[i], answers[i], entry, i in exact, revived.get(i))
            notes.append(note)
            entries.append(row)
        return self._finish(drafts, notes, entries, set(match.values()), kept)

    def _matched(self, draft: CardDraft, i: int, match: dict[int, int]) -> LockEntry | None:
        """The old entry the draft matched, unless another note's card wears its GUID (the
        lock held it twice): then the match is dropped and the card gets another GUID."""
        j = match.get(i)
        if j is None:
            return None
        entry = self.old[j]
        if self.foreign(entry.guid):
            self.diagnostics.append(self._clash(draft.line, entry.guid))
            del match[i]
            return None
        return entry

    def _card(
        self,
        draft: CardDraft,
        key: str,
        answer: str,
        entry: LockEntry | None,
        exact: bool,
        back: DeletedCard | None,
    ) -> tuple[AnkiNote, LockEntry]:
        """The draft's Anki note and lock entry; what changed is noted in self.changes."""
        context = self.context
        target = draft.deck or context.deck  # where the card belongs now
        if entry is not None:
            guid, deck = entry.guid, kept_deck(entry, target, context.deck)
        elif back is not None:
            guid, deck = back.guid, back.deck
        else:
            guid, deck = self._new_guid(draft, key), target
        tags = context.tags(draft.tags, deck, target)
        content = content_hash(draft, tags)
        if entry is not None:
            moved = how_moved(self.rel, self.moved_from, entry, context.deck, target)
            kind, mod = classify_change(
                entry,
                exact=exact,
                content=content,
                source=draft.source,
                in_place=deck == target,
                moved=moved,
                now=self.now,
            )
        else:
            earlier = back or self._old_by_guid().get(guid)
            kind, mod = "added", new_card_mod(self.fallback_mod(self.rel), earlier)
        self.taken.add(guid)
        text = first_line(draft.question_key)
        self.changes[kind].append(f"{self.rel}:{draft.line} {text}")
        chosen = target if target != context.deck else ""
        row = LockEntry(guid, key, content, answer, mod, draft.line, deck, text, chosen)
        return _anki_note(draft, guid, tags, mod), row

    def _new_guid(self, draft: CardDraft, key: str) -> str:
        guid, natural = new_guid(self.rel, key, self.taken, self.foreign, self.tried)
        if guid != natural:
            self.diagnostics.append(self._clash(draft.line, natural))
        return guid

    def _old_by_guid(self) -> dict[str, LockEntry]:
        """The note's old entries by GUID (made on first use: only new cards ask)."""
        if self.by_guid is None:
            self.by_guid = {e.guid: e for e in self.old}
        return self.by_guid

    def _clash(self, line: int, guid: str) -> Diagnostic:
        message = (
            f"GUID {guid!r} already belongs to a card of {self.foreign(guid)} (ankigen.lock); "
            "this card gets another, so that no two cards share one"
        )
        return Diagnostic(self.rel, line, "warning", message)

    def _finish(
        self,
        drafts: list[CardDraft],
        notes: list[AnkiNote],
        entries: list[LockEntry],
        matched: set[int],
        kept: list[int],
    ) -> _NoteResult:
        """The note's result: cards gone (matched by no card, not kept, their GUID not worn by
        a new card) are deleted; cards not built this time are kept as they were, among the
        built cards by their last line."""
        old, rel = self.old, self.rel
        gone = [
            deleted_card(e, rel, self.context.deck, self.now)
            for j, e in enumerate(old)
            if j not in matched and j not in kept and e.guid not in self.taken
        ]
        self.changes["removed"] = [card.shown() for card in gone]
        if kept:
            self.changes["kept"] = [
                f"{rel}:{old[j].line} {old[j].text or old[j].question}" for j in kept
            ]
            built = list(zip([d.line for d in drafts], range(len(entries)), entries, strict=True))
            built += [(old[j].line, -1, old[j]) for j in kept]
            entries = [entry for _, _, entry in sorted(built, key=lambda row: row[:2])]
        return _NoteResult(notes, tuple(entries), self.changes, self.diagnostics, gone)


def _anki_note(draft: CardDraft, guid: str, tags: tuple[str, ...], mod: int) -> AnkiNote:
    """The note Anki receives for a draft: its fields, the Source field marked with the card's
    id, its tags and mod."""
    fields = (*draft.fields[:-1], with_card_id(draft.fields[-1], guid))
    return AnkiNote(
        guid,
        fields,
        tags,
        mod,
        f"{draft.note_rel}:{draft.line}",
        draft.note_type,
        draft.deck,
        draft.schedule,
        note_rel=draft.note_rel,
        line=draft.line,
        named=draft.named,
    )


def _duplicate_warnings(rel: str, drafts: list[CardDraft], keys: list[str]) -> list[Diagnostic]:
    first_line_of: dict[str, int] = {}
    warnings = []
    for draft, key in zip(drafts, keys, strict=True):
        if key in first_line_of:
            warnings.append(
                Diagnostic(
                    rel,
                    draft.line,
                    "warning",
                    f"duplicate question; same as line {first_line_of[key]}, "
                    "the cards are told apart by their order in the note",
                )
            )
        else:
            first_line_of[key] = draft.line
    return warnings
