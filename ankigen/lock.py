"""Card identity and the lock file: which Anki note each card is, and when it last changed.

A card's GUID comes from its note's vault path and its normalised question, so it survives
re-builds on any machine. Anki's importer (default options) only updates a note whose incoming
modification time is newer, so a card's `mod` must move forward exactly when its content changed.
The lock file (JSON, meant to be committed next to the vault) remembers, per card, its GUID,
content hash, answer hash, position and mod; with it, a card whose question was reworded keeps
its GUID, and so its review history.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from genanki.util import guid_for as _genanki_guid

from . import atomic
from .model import AnkiNote, Diagnostic

LOCK_VERSION = 1
LOCK_FILENAME = "ankigen.lock"


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class CardDraft:
    """A card with its final HTML fields, before it has an identity."""

    note_rel: str  # "AWS/AMI.md"
    line: int
    question_key: str  # the question's Markdown, tags removed; normalised here
    answer_key: str  # the answer's Markdown, to recognise a reworded card
    fields: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class LockEntry:
    """What the lock remembers about one card; its position is its index in its note's list."""

    guid: str
    question: str  # normalised question, also for people reading the lock's diff
    content: str  # hash of the fields and tags Anki receives
    answer: str  # hash of the answer's normalised Markdown
    mod: int


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

    def updated(self, part: Lock) -> Lock:
        """This lock with the notes of `part` replaced by part's entries (none → dropped)."""
        notes = dict(self.notes)
        for rel, entries in part.notes.items():
            if entries:
                notes[rel] = entries
            else:
                notes.pop(rel, None)
        return Lock(MappingProxyType(dict(sorted(notes.items()))), part.model or self.model)

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
        return Lock(MappingProxyType(notes), self.model), removed

    def with_model(self, fingerprint: str, now: int) -> tuple[Lock, int]:
        """Stamp the note type: (new lock, the mod to give it). The mod moves forward only
        when the templates or CSS changed, so Anki's importer updates them exactly then."""
        old = self.model
        if old is not None and old.fingerprint == fingerprint:
            return self, old.mod
        mod = now if old is None else max(now, old.mod + 1)
        return Lock(self.notes, ModelStamp(fingerprint, mod)), mod


@dataclass(frozen=True)
class Changes:
    """What this build changed, one "path:line question" string per card."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    reworded: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # "path: question" (the line is gone)
    unchanged: tuple[str, ...] = ()

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.reworded)} reworded, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged"
        )


@dataclass(frozen=True)
class Identified:
    """Notes for Anki (in draft order), the lock entries of their notes and what changed."""

    notes: tuple[AnkiNote, ...]
    lock: Lock  # only the notes in scope; merge with `Lock.updated`
    changes: Changes
    diagnostics: tuple[Diagnostic, ...] = ()


# ---------------------------------------------------------------- identity


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](url) → text
_WIKILINK = re.compile(r"!?\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")  # [[target|alias]] → alias
_MARKUP = re.compile(r"[*_`~=]+")  # emphasis, code, strike-through, highlight
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
_SPACE = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?.!:;,]+$")


def normalise_question(markdown: str) -> str:
    """The question as compared: link text only, no emphasis marks, spaces collapsed, case
    folded, no trailing punctuation. "What is **AMI**? " and "what is AMI" are the same."""
    text = unicodedata.normalize("NFKC", markdown).translate(_QUOTES)
    text = _WIKILINK.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _MARKUP.sub("", text)
    text = _SPACE.sub(" ", text).strip().casefold()
    return _TRAILING.sub("", text)


def guid_for(note_rel: str, question_key: str) -> str:
    """The card's natural GUID: its note's vault path and normalised question, not the answer."""
    return _genanki_guid("ankigen", note_rel, normalise_question(question_key))


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _content_hash(draft: CardDraft) -> str:
    # The last field (Source) names the card's line, which moves whenever lines are added above
    # the card: that alone is no change to the card, so it does not move the card's mod.
    return _hash(*draft.fields[:-1], "\x1e", *draft.tags)


def _answer_hash(draft: CardDraft) -> str:
    return _hash(_SPACE.sub(" ", draft.answer_key).strip())


def adopt_moved_notes(
    lock: Lock, orphans: dict[str, tuple[LockEntry, ...]], drafts: Sequence[CardDraft]
) -> tuple[Lock, list[str]]:
    """Keep the GUIDs of a note file that was renamed or moved.

    `orphans` are the lock entries of notes that are gone from the vault. A note of the drafts
    that has no lock entries takes over those of the gone note that shares the most of its
    questions, when at least half of them. Adopted notes are removed from `orphans`. Returns the
    lock with the adopted entries and "old path → new path" for each move.
    """
    questions: dict[str, set[str]] = defaultdict(set)
    for draft in drafts:
        if draft.note_rel not in lock.notes:
            questions[draft.note_rel].add(normalise_question(draft.question_key))
    adopted: dict[str, tuple[LockEntry, ...]] = {}
    moves = []
    for rel, keys in sorted(questions.items()):
        shared = {old: len(keys & {e.question for e in orphans[old]}) for old in sorted(orphans)}
        best = max(shared, key=lambda old: shared[old], default=None)
        if best is not None and shared[best] and 2 * shared[best] >= len(keys):
            adopted[rel] = orphans.pop(best)
            moves.append(f"{best} → {rel}")
    if not adopted:
        return lock, moves
    return lock.updated(Lock(MappingProxyType(adopted), None)), moves


def assign_identities(
    drafts: Sequence[CardDraft],
    lock: Lock,
    fallback_mod: Callable[[str], int],
    now: int,
    *,
    scope: Iterable[str] | None = None,
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

    notes: list[AnkiNote | None] = [None] * len(drafts)
    part: dict[str, tuple[LockEntry, ...]] = {}
    changes: dict[str, list[str]] = defaultdict(list)
    diagnostics: list[Diagnostic] = []
    for rel in scope_notes:
        indices = by_note.get(rel, [])
        old = lock.notes.get(rel, ())
        result = _identify_note(rel, [drafts[i] for i in indices], old, fallback_mod, now)
        for i, note in zip(indices, result.notes, strict=True):
            notes[i] = note
        part[rel] = result.entries
        for kind, items in result.changes.items():
            changes[kind].extend(items)
        diagnostics.extend(result.diagnostics)

    return Identified(
        notes=tuple(n for n in notes if n is not None),
        lock=Lock(MappingProxyType(part), None),
        changes=Changes(**{kind: tuple(items) for kind, items in changes.items()}),
        diagnostics=tuple(diagnostics),
    )


@dataclass
class _NoteResult:
    notes: list[AnkiNote]
    entries: tuple[LockEntry, ...]
    changes: dict[str, list[str]]
    diagnostics: list[Diagnostic]


def _identify_note(
    rel: str,
    drafts: list[CardDraft],
    old: tuple[LockEntry, ...],
    fallback_mod: Callable[[str], int],
    now: int,
) -> _NoteResult:
    keys = [normalise_question(d.question_key) for d in drafts]
    answers = [_answer_hash(d) for d in drafts]
    diagnostics = _duplicate_warnings(rel, drafts, keys)

    # 1. Same question (the k-th card with a question matches the k-th entry with it).
    match: dict[int, int] = {}  # draft index → old entry index
    old_by_key: dict[str, list[int]] = defaultdict(list)
    for j, entry in enumerate(old):
        old_by_key[entry.question].append(j)
    for i, key in enumerate(keys):
        if old_by_key.get(key):
            match[i] = old_by_key[key].pop(0)
    exact = set(match)

    # 2. Reworded, same answer: only when that answer is unambiguous on both sides.
    exact_old = set(match.values())
    free_old = [j for j in range(len(old)) if j not in exact_old]
    free_new = [i for i in range(len(drafts)) if i not in match]
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
    free_new = [i for i in range(len(drafts)) if i not in match]
    old_gaps = _gaps(len(old), free_old, lambda j: old[j].guid if j in matched_old else None)
    new_gaps = _gaps(len(drafts), free_new, lambda i: old[match[i]].guid if i in match else None)
    for gap, new_members in new_gaps.items():
        old_members = old_gaps.get(gap, [])
        if len(new_members) == 1 and len(old_members) == 1:
            match[new_members[0]] = old_members[0]

    # Identities: matched cards keep their GUID; new ones take their natural GUID, suffixed
    # when it is taken (a duplicate question, or an old GUID now worn by a reworded card).
    taken = {old[j].guid for j in match.values()}
    notes: list[AnkiNote] = []
    entries: list[LockEntry] = []
    changes: dict[str, list[str]] = defaultdict(list)
    for i, draft in enumerate(drafts):
        content = _content_hash(draft)
        where = f"{rel}:{draft.line} {draft.question_key.strip().splitlines()[0]}"
        if i in match:
            entry = old[match[i]]
            guid = entry.guid
            if i not in exact:
                kind, mod = "reworded", max(now, entry.mod + 1)
            elif entry.content != content:
                kind, mod = "changed", max(now, entry.mod + 1)
            else:
                kind, mod = "unchanged", entry.mod
        else:
            guid = _free_guid(rel, keys[i], taken)
            kind, mod = "added", fallback_mod(rel)
        taken.add(guid)
        changes[kind].append(where)
        entries.append(LockEntry(guid, keys[i], content, answers[i], mod))
        notes.append(AnkiNote(guid, draft.fields, draft.tags, mod, f"{rel}:{draft.line}"))

    matched_old = set(match.values())
    changes["removed"] = [f"{rel}: {e.question}" for j, e in enumerate(old) if j not in matched_old]
    return _NoteResult(notes, tuple(entries), changes, diagnostics)


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


def _free_guid(rel: str, key: str, taken: set[str]) -> str:
    guid = _genanki_guid("ankigen", rel, key)
    n = 2
    while guid in taken:
        guid = _genanki_guid("ankigen", rel, key, n)
        n += 1
    return guid


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


def load_lock(path: Path) -> tuple[Lock, tuple[Diagnostic, ...]]:
    """Read the lock file: missing → empty lock; unreadable → empty lock and an error
    diagnostic (every card is then treated as new; review history is kept by GUID anyway)."""
    try:
        text = atomic.read_regular(path).decode("utf-8")  # a named pipe never blocks
    except FileNotFoundError:
        return Lock(), ()
    except (OSError, UnicodeDecodeError) as error:
        return Lock(), (_lock_problem(path, f"cannot read lock file: {error}"),)
    try:
        return _lock_from_json(json.loads(text)), ()
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        message = f"ignoring corrupt lock file ({error}); cards keep GUIDs but rewording is lost"
        return Lock(), (_lock_problem(path, message),)


def _lock_problem(path: Path, message: str) -> Diagnostic:
    return Diagnostic(path.name, 0, "error", message)


def _lock_from_json(data: dict) -> Lock:
    if data.get("version") != LOCK_VERSION:
        raise ValueError(f"unknown lock version {data.get('version')!r}")
    notes = {
        str(rel): tuple(
            LockEntry(
                str(e["guid"]), str(e["question"]), str(e["content"]), str(e["answer"]), e["mod"]
            )
            for e in entries
        )
        for rel, entries in data["notes"].items()
    }
    for entries in notes.values():
        for entry in entries:
            if not isinstance(entry.mod, int):
                raise ValueError(f"mod of {entry.guid!r} is not an integer")
    model = data.get("model")
    stamp = ModelStamp(str(model["fingerprint"]), int(model["mod"])) if model else None
    return Lock(MappingProxyType(dict(sorted(notes.items()))), stamp)


def lock_text(lock: Lock) -> str:
    """The lock as the file holds it: sorted keys, one card per line, stable formatting."""
    lines = ["{"]
    if lock.model is not None:
        model = {"fingerprint": lock.model.fingerprint, "mod": lock.model.mod}
        lines.append(f'  "model": {_compact(model)},')
    lines.append('  "notes": {')
    notes = [(rel, entries) for rel, entries in sorted(lock.notes.items()) if entries]
    for n, (rel, entries) in enumerate(notes):
        lines.append(f"    {json.dumps(rel, ensure_ascii=False)}: [")
        for k, e in enumerate(entries):
            # Written by hand (keys in sorted order): json.dumps per card costs 10 µs each.
            row = (
                f'{{"answer": {_string(e.answer)}, "content": {_string(e.content)}, '
                f'"guid": {_string(e.guid)}, "mod": {int(e.mod)}, '
                f'"question": {_string(e.question)}}}'
            )
            lines.append(f"      {row}{',' if k < len(entries) - 1 else ''}")
        lines.append(f"    ]{',' if n < len(notes) - 1 else ''}")
    lines.extend(["  },", f'  "version": {LOCK_VERSION}', "}", ""])
    return "\n".join(lines)


_string = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C speed-up, no ASCII-only


def _compact(value: dict) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def save_lock(path: Path, lock: Lock) -> bool:
    """Write the lock atomically, only when its text changed; return whether it was written."""
    text = lock_text(lock)
    try:
        if atomic.read_regular(path).decode("utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic.write_text(path, text)
    return True
