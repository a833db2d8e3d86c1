"""`ankigen adopt --collection PATH`: take over the notes a plugin already put into Anki.

Obsidian_to_Anki and Flashcards add notes through AnkiConnect, with random GUIDs, and write
each note's id into the Markdown (`<!--ID: n-->`, `^n`). Built from the same notes, ankigen's
packages would duplicate every card. Adopting reads the user's collection (a copy: it is never
written), finds each card's Anki note (by its id; for cards without one by an exact first-field
match within the card's deck) and records that note's GUID in `ankigen.lock`, so the next build
gives the card that GUID and Anki's importer updates the note in place, review history kept.
An adopted card keeps the collection's modification time until its text in the notes changes
(lockfile.ADOPTED), so an edit made in Anki survives; adopting again leaves adopted cards as they
are. Adoption also finds ankigen's notes that double an adopted one (a package imported before
adopting) and gives the one Browser search that selects them; the build refuses plugin note
ids adoption has not seen (`unadopted_ids`).

Anki's importer only updates a note whose note type is the same as in the collection (else it
skips it as "conflicting"). So adoption also remembers each adopted note's Anki note type
(`ankigen.adopted`, next to the lock): the build writes adopted notes with that note type, same
id, fields and templates, with the card's fields filled in by field name.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import atomic
from .adoption_file import Adopted, load_adopted, save_adopted
from .anki_collection import (
    AnkiCollection,
    CollectionError,
    CollectionNote,
    read_collection,
)
from .discover import LOCK_FILE, discover_vault
from .fields import source_hash
from .htmltext import html_to_text
from .identity.deletions import DeletedCard
from .identity.keys import answer_hash, guid_for, normalise_question
from .identity.lockfile import ADOPTED, Lock, LockEntry, load_lock, lock_location, save_lock
from .records import CLOZE, CardSource, Diagnostic, Folder, ParsedNote
from .shown import shows_nothing
from .syntax import NoteText, SyntaxSettings, load_syntax_settings, read_note, reader_names
from .syntax.cloze import plain_text


@dataclass(frozen=True)
class Outcome:
    """What adoption decided for one card."""

    path: str
    line: int
    status: str  # "matched", "ambiguous" or "new"
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.status}: {self.detail}"


@dataclass(frozen=True)
class AdoptReport:
    outcomes: tuple[Outcome, ...]
    diagnostics: tuple[Diagnostic, ...]
    lock_written: bool
    # Anki note ids of ankigen's own notes that double an adopted note (an import before
    # adopting): the Browser search `doubles_search()` selects exactly them.
    doubles: tuple[int, ...] = ()

    def doubles_search(self) -> str:
        return f"nid:{','.join(str(n) for n in self.doubles)}" if self.doubles else ""

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> str:
        text = (
            f"{self.count('matched')} matched, {self.count('ambiguous')} ambiguous, "
            f"{self.count('new')} new"
        )
        for status, words in (("deleted", "marked DELETE"), ("ankigen", "already ankigen's")):
            if self.count(status):
                text += f", {self.count(status)} {words}"
        return text


def adopt(
    vault_root: Path,
    collection_path: Path,
    syntax: Iterable[str] = (),
    exclude: tuple[str, ...] = (),
    write: bool = True,
) -> AdoptReport:
    """Match the vault's cards to the collection's notes; record the GUIDs (when `write`).

    Raises anki_collection.CollectionError when the collection cannot be read."""
    collection = read_collection(collection_path)
    vault, diagnostics = discover_vault(vault_root, exclude)
    settings, problems = load_syntax_settings(vault.root, tuple(syntax))
    diagnostics.extend([*problems, *settings.problems])
    lock_path, where = lock_location(vault.root)  # never through a link out of the vault
    diagnostics.extend(where)
    lock, lock_problems = load_lock(lock_path) if lock_path else (Lock(), ())
    diagnostics.extend(lock_problems)
    from .syntax.obsidian_to_anki import deletions  # the build imports adopt, reads no note

    matcher = _Matcher(collection)
    found = _Found(now=int(time.time()))
    for folder in vault.folders:
        for note_file in folder.notes:
            text, problems = _read_text(note_file.path, note_file.rel)
            diagnostics.extend(problems)
            if text is None:
                continue
            parsed, messages = read_note(note_file.rel, text, settings, shows_nothing)
            diagnostics.extend(messages)
            for line, nid in deletions(NoteText(note_file.rel, text), settings):
                found.deleted(note_file.rel, line, nid, collection)
            old = {e.question: e for e in lock.notes.get(note_file.rel, ())}
            found.note(note_file.rel, folder.deck, parsed, old, matcher)
    previous = load_adopted(vault.root)[0]
    updated = lock.updated(Lock(notes=found.lock)).with_deleted(found.gone, found.now)
    written = False
    if write and lock_path is not None and (found.lock or found.gone or found.seen):
        _record(vault.root, lock_path, previous, updated, found, collection)
        written = True
    outcomes = tuple(sorted(found.outcomes, key=lambda o: (o.path, o.line)))
    doubles = _doubles(collection, {**previous.note_ids, **found.ids}, updated)
    return AdoptReport(outcomes, tuple(sorted(set(diagnostics))), written, doubles)


def _record(
    root: Path,
    lock_path: Path,
    previous: Adopted,
    updated: Lock,
    found: _Found,
    collection: AnkiCollection,
) -> None:
    """Write ankigen.adopted, then the lock: on its own the first changes nothing."""
    notes = {**previous.notes, **found.notes}
    used = set(notes.values())
    notetypes = {
        ntid: notetype
        for ntid, notetype in {**previous.notetypes, **collection.notetypes}.items()
        if ntid in used
    }
    ids = {**previous.note_ids, **found.ids}
    save_adopted(root, Adopted(notetypes, notes, ids, previous.seen | found.seen))
    save_lock(lock_path, updated)


def _doubles(collection: AnkiCollection, adopted: Mapping[str, int], lock: Lock) -> tuple[int, ...]:
    """ankigen's own notes that double an adopted note: same first field, same deck, and a
    GUID no card of the lock has (a card adopted after its package was imported)."""
    live = {entry.guid for entries in lock.notes.values() for entry in entries}
    wanted: set[tuple[str, str]] = set()
    for nid in adopted.values():
        note = collection.notes.get(nid)
        if note is not None and note.fields:
            wanted.update((deck, _plain(note.fields[0])) for deck in note.decks)
    found = []
    for note in collection.notes.values():
        notetype = collection.notetypes.get(note.notetype)
        if notetype is None or not _ours(notetype.name) or note.guid in live or not note.fields:
            continue
        first = _plain(note.fields[0])
        if any((deck, first) in wanted for deck in note.decks):
            found.append(note.id)
    return tuple(sorted(found))


def _ours(notetype_name: str) -> bool:
    return notetype_name == "ankigen" or notetype_name.startswith("ankigen ")


@dataclass
class _Found:
    """What adoption found, note by note."""

    now: int
    outcomes: list[Outcome] = field(default_factory=list)
    lock: dict[str, tuple[LockEntry, ...]] = field(default_factory=dict)  # adopted notes' entries
    notes: dict[str, int] = field(default_factory=dict)  # GUID → note type id
    ids: dict[str, int] = field(default_factory=dict)  # GUID → Anki note id
    gone: list[DeletedCard] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)  # every plugin note id in the notes

    def note(
        self,
        rel: str,
        folder_deck: str,
        parsed: ParsedNote,
        old: Mapping[str, LockEntry],
        matcher: _Matcher,
    ) -> None:
        """Match one note's cards; its lock entries when one of them was found in Anki."""
        from .render_stage import question_key  # here: the build imports this module

        entries = []
        matched = False
        read: set[str] = set()
        for card in parsed.cards:
            if card.anki_id:
                self.seen.add(card.anki_id)
            outcome, note = matcher.match(rel, card, card.deck or folder_deck)
            self.outcomes.append(outcome)
            key = question_key(card)  # as the build's identity stage sees it
            question = normalise_question(key)
            read.add(question)
            # The lock's deck is where the card belongs, as the build records a new card's.
            deck = card.deck or folder_deck
            target = card.deck if card.deck != folder_deck else ""
            prior = old.get(question)
            if note is not None:
                matched = True
                self.notes[note.guid] = note.notetype
                self.ids[note.guid] = note.id
                if prior is not None and prior.guid == note.guid and prior.content:
                    entries.append(prior)  # adopted before: as it is, its time too
                    continue  # (no content: adopted by an older ankigen, never built since)
                # Anki's note keeps its time (and any edit made there) until the card's text
                # in the notes changes (lockfile.ADOPTED).
                content = ADOPTED + source_hash(card, parsed.tags)
                answer = answer_hash(card.answer)
                entries.append(
                    LockEntry(note.guid, question, content, answer, note.mod, card.line, deck,
                              target=target)
                )  # fmt: skip
            elif prior is not None:
                entries.append(prior)
            else:
                guid = guid_for(rel, key)
                entries.append(LockEntry(guid, question, "", "", 0, card.line, deck, target=target))
        if matched:
            # Cards not read this time (another --syntax) keep their entries.
            guids = {entry.guid for entry in entries}
            entries += [e for e in old.values() if e.question not in read and e.guid not in guids]
            self.lock[rel] = tuple(sorted(entries, key=lambda e: e.line))

    def deleted(self, rel: str, line: int, nid: int, collection: AnkiCollection) -> None:
        """A note the plugin's DELETE mark asks to delete: remembered as a deleted card."""
        self.seen.add(nid)
        note = collection.notes.get(nid)
        if note is None:
            detail = f"note id {nid} is marked DELETE and is not in the collection"
            self.outcomes.append(Outcome(rel, line, "deleted", detail))
            return
        self.notes[note.guid] = note.notetype
        self.ids[note.guid] = nid
        first = _plain(note.fields[0]) if note.fields else ""
        deck = note.decks[0] if note.decks else ""
        self.gone.append(DeletedCard(note.guid, rel, line, first, deck, 0, self.now))
        detail = f"note id {nid} is marked DELETE: listed with the deleted cards"
        self.outcomes.append(Outcome(rel, line, "deleted", detail))


class _Matcher:
    """Finds a card's note in the collection: by id, else by its first field in its deck."""

    def __init__(self, collection: AnkiCollection) -> None:
        self.collection = collection
        self.taken: dict[int, str] = {}  # note id → "path:line" of the card that took it
        self._by_first_field: dict[tuple[str, str], list[int]] | None = None

    def match(self, rel: str, card: CardSource, deck: str) -> tuple[Outcome, CollectionNote | None]:
        if card.anki_id:
            note = self.collection.notes.get(card.anki_id)
            if note is None:
                detail = f"note id {card.anki_id} is not in the collection; the card is new"
                return Outcome(rel, card.line, "new", detail), None
            return self._take(rel, card, note, "by its id")
        key = (deck, _plain(_first_field_html(card)))
        found = [nid for nid in self.first_fields().get(key, []) if nid not in self.taken]
        if len(found) == 1:
            return self._take(rel, card, self.collection.notes[found[0]], "by its first field")
        if len(found) > 1:
            ids = ", ".join(str(n) for n in sorted(found)[:5])
            detail = f"{len(found)} notes in deck '{deck}' have this first field ({ids}); new"
            return Outcome(rel, card.line, "ambiguous", detail), None
        return Outcome(rel, card.line, "new", f"no note in deck '{deck}' matches"), None

    def _take(
        self, rel: str, card: CardSource, note: CollectionNote, how: str
    ) -> tuple[Outcome, CollectionNote | None]:
        if note.id in self.taken:
            detail = f"note {note.id} is already taken by {self.taken[note.id]}; new"
            return Outcome(rel, card.line, "ambiguous", detail), None
        self.taken[note.id] = f"{rel}:{card.line}"
        notetype = self.collection.notetypes.get(note.notetype)
        if notetype is None:
            detail = f"Anki note {note.id} has no note type in the collection; new"
            return Outcome(rel, card.line, "new", detail), None
        if _ours(notetype.name):
            detail = f"Anki note {note.id} is already ankigen's own; nothing to adopt"
            return Outcome(rel, card.line, "ankigen", detail), None
        kind = f"'{notetype.name}'"
        detail = f"Anki note {note.id} ({kind} in '{', '.join(note.decks)}'), {how}"
        return Outcome(rel, card.line, "matched", detail), note

    def first_fields(self) -> dict[tuple[str, str], list[int]]:
        if self._by_first_field is None:
            index: dict[tuple[str, str], list[int]] = {}
            for note in self.collection.notes.values():
                first = _plain(note.fields[0]) if note.fields else ""
                for deck in note.decks:
                    index.setdefault((deck, first), []).append(note.id)
            self._by_first_field = index
        return self._by_first_field


def _first_field_html(card: CardSource) -> str:
    markdown = card.fields[0][1] if card.fields else card.question
    if card.note_type == CLOZE:
        markdown = plain_text(markdown)
    from .render import render_markdown  # here: the build imports this module

    return render_markdown(markdown)


_ANKI_CLOZE = re.compile(r"\{\{c\d+::(.*?)(?:::[^}]*)?\}\}", re.DOTALL)


def _plain(field_html: str) -> str:
    """A field as plain text: cloze answers, no tags, entities decoded, spaces collapsed."""
    return html_to_text(_ANKI_CLOZE.sub(r"\1", field_html))


_ANY_ID = re.compile(r"(?:ID: |\^)(\d{1,18})")  # Obsidian_to_Anki's and Flashcards' ids, and more


def unadopted_ids(
    folders: Iterable[Folder], settings: SyntaxSettings, adopted: Adopted
) -> list[tuple[str, int, int]]:
    """(note path, line, note id) of every card that carries a plugin's Anki note id
    (`<!--ID: n-->`, `^n`) that `ankigen adopt` has not seen: built as it is, its package
    would add a second note beside the plugin's."""
    found: list[tuple[str, int, int]] = []
    for folder in folders:
        for note_file in folder.notes:
            try:
                text = atomic.read_regular(note_file.path).decode("utf-8-sig", errors="replace")
            except OSError:
                continue  # the build says so
            # Every id a card can carry is one of these: when adopt has seen them all (or
            # there are none), the note needs no reading.
            ids = {int(n) for n in _ANY_ID.findall(text)}
            if all(adopted.accounts_for(n) for n in ids):
                continue
            try:
                parsed, _ = read_note(note_file.rel, text, settings, shows_nothing)
            except Exception:  # the build reports it and skips the note
                continue
            found.extend(
                (note_file.rel, card.line, card.anki_id)
                for card in parsed.cards
                if card.anki_id and not adopted.accounts_for(card.anki_id)
            )
    return found


def refusal(vault: Path, found: list[tuple[str, int, int]]) -> str:
    """The one line a build that would double the user's notes says instead."""
    rel, line, _ = found[0]
    count = len(found)
    return (
        f"{count} card{'s' * (count != 1)} (first {rel}:{line}) carr{'ies' if count == 1 else 'y'} "
        "the Anki note id Obsidian_to_Anki or Flashcards wrote, not adopted: importing would "
        f"add {'it' if count == 1 else 'them'} a second time; run `ankigen adopt "
        f"{shlex.quote(str(vault))} --collection PATH/TO/collection.anki2` first, or build "
        "them as new notes on purpose with --new-notes; no package written"
    )


def _read_text(path: Path, rel: str) -> tuple[str | None, list[Diagnostic]]:
    """A note's text as the build reads it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, [Diagnostic(rel, 0, "error", f"cannot read note: {error}")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), []


# ---------------------------------------------------------------- ankigen.adopted


# ---------------------------------------------------------------- command line


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Take over the notes Obsidian_to_Anki or Flashcards put into Anki: find each "
        "card's note in your collection (read-only) and record its GUID in the vault's "
        "ankigen.lock, so importing ankigen's packages updates those notes in place, review "
        "history kept, instead of adding duplicates. Run it once, before the first import.",
        epilog="Exit status: 0 done, 1 the collection cannot be read, 2 usage error.",
    )
    p.add_argument("vault", type=Path, help="the Obsidian vault folder")
    p.add_argument(
        "--collection",
        type=Path,
        required=True,
        metavar="PATH",
        help="your Anki collection: the profile's collection.anki2 (Anki may stay open) or a "
        ".colpkg backup; it is copied and never written",
    )
    p.add_argument(
        "--syntax",
        action="append",
        default=[],
        metavar="NAMES",
        help="read only these flashcard syntaxes, comma-separated (default: all)",
    )
    p.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip vault paths"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="report what would be adopted; write nothing"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="list every card's outcome")
    return p


def main(argv: list[str], prog: str = "ankigen adopt") -> int:
    try:
        args = parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if not args.vault.is_dir():
        print(f"{prog}: error: vault folder not found: {args.vault}", file=sys.stderr)
        return 2
    syntax = tuple(n.strip() for names in args.syntax for n in names.split(",") if n.strip())
    unknown = sorted(set(syntax) - set(reader_names()))
    if unknown:
        known = ", ".join(reader_names())
        print(
            f"{prog}: error: unknown syntax {', '.join(unknown)}; choose from {known}",
            file=sys.stderr,
        )
        return 2
    from .interrupts import Interrupts

    # Ctrl-C, SIGTERM or SIGHUP: KeyboardInterrupt, so that the copy of the collection in the
    # temporary folder is removed on the way out (a copy left by SIGKILL goes at the next run).
    interrupts = Interrupts(message=f"{prog}: interrupted")
    try:
        report = adopt(
            args.vault, args.collection, syntax, tuple(args.exclude), write=not args.dry_run
        )
        if interrupts.fired:  # swallowed on the way (inside SQLite's progress handler)
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupts.report()
        return 130
    except (CollectionError, OSError) as error:  # OSError: the lock cannot be written
        if interrupts.fired:
            interrupts.report()
            return 130
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: one line, never a traceback
        print(f"{prog}: internal error, nothing adopted: {error!r}", file=sys.stderr)
        return 1
    finally:
        interrupts.restore()
    for diagnostic in report.diagnostics:
        print(str(diagnostic).translate(_CONTROL), file=sys.stderr)
    for outcome in report.outcomes:
        if args.verbose or outcome.status != "matched":
            print(str(outcome).translate(_CONTROL))
    where = "nothing written (dry run)" if args.dry_run else (
        f"GUIDs recorded in {LOCK_FILE}" if report.lock_written else "nothing to record"
    )  # fmt: skip
    print(f"adopt: {report.summary()}; {where}")
    if report.doubles:
        count = len(report.doubles)
        print(
            f"adopt: {count} note{'s' * (count != 1)} of ankigen's double{'s' * (count == 1)} "
            "an adopted note (a package imported before adopting); in Anki: Browse, search "
            "for the line below, select all, Notes > Delete:"
        )
        print(f"  {report.doubles_search()}")
    return 0


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if c not in (0x09,)}
