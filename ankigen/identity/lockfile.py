"""The lock file: per card, its GUID, content hash, answer hash, position, line, first deck and
mod; the note type's stamp; the cards deleted lately; the vault's name.

The lock (JSON, meant to be committed next to the vault) makes a card whose question was
reworded keep its GUID, and so its review history. Anki's importer (default options) only
updates a note whose incoming modification time is newer, so a card's `mod` moves forward
exactly when its content changed.

Everything read from the lock is checked: a bad entry is dropped or repaired with a message that
names ankigen.lock and its line, never trusted and never fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeGuard

from .. import atomic
from ..records import Diagnostic
from .deletions import DeletedCard, remembered

LOCK_VERSION = 1
# The content hash `ankigen adopt` writes: this, then the card's fields.source_hash when adopted;
# the entry keeps the collection's modification time until that text changes.
ADOPTED = "adopted:"
LOCK_FILENAME = "ankigen.lock"
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
        deleted = remembered((*self.deleted, *new), live, now)
        return Lock(self.notes, self.model, deleted, self.vault)


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
