"""`ankigen plan --collection PATH [VAULT] [-o OUT]`: what importing the packages would do.

Builds the packages (an unchanged folder's package is reused) and plays Anki's importer on a
copy of the collection, in memory: per package and in total, notes added, updated, unchanged,
skipped as older, duplicates the import would create, notes and note types in conflict, and the
deletions and moves still to do in Anki. The user's collection is only ever copied, never
opened where it is, so a running Anki is not disturbed and its file never changes.

Anki's importer (default options: update notes and note types when newer), as played here:
a note whose GUID the collection lacks is added; a note whose GUID it has is in conflict when
the two note types differ (another note type, or the package's note type has other field or
template names than the collection's of that id: Anki then imports it as a copy, "ankigen+"),
else updated when the package's modification time is newer, else skipped (unchanged when its
fields and tags are the same, else skipped as older: an edit made in Anki is kept).
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import sys
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .anki_collection import (
    AnkiNotetype,
    CollectionError,
    _current_schema,
    _legacy_schema,
    private_copy,
)
from .diagnostics import printable

if TYPE_CHECKING:
    import argparse

COUNTS = ("added", "updated", "unchanged", "skipped", "duplicates", "conflicts")


@dataclass
class PackagePlan:
    """What importing one package would do."""

    package: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # skipped as older: the collection's note is newer and differs
    duplicates: int = 0  # added notes whose first field equals a note's in the same deck
    conflicts: int = 0  # notes not updated: their note type differs from the collection's
    note_types: list[str] = field(default_factory=list)  # note types in conflict, by name
    duplicate_of: list[str] = field(default_factory=list)  # "deck: first field" of each duplicate


@dataclass
class Plan:
    packages: list[PackagePlan]
    deletions: int = 0  # notes ankigen-todo.txt says to delete that the collection still has
    moves: int = 0  # notes still in the deck they were moved out of
    deletion_search: str = ""
    move_searches: list[str] = field(default_factory=list)

    def total(self) -> dict[str, int]:
        return {name: sum(getattr(p, name) for p in self.packages) for name in COUNTS}

    def as_json(self) -> dict:
        return {
            "packages": [asdict(p) for p in self.packages],
            "total": self.total(),
            "deletions": self.deletions,
            "moves": self.moves,
        }


@dataclass
class _Note:
    notetype: int
    mod: int
    fields: tuple[str, ...]
    tags: frozenset[str]
    decks: frozenset[str]


@dataclass
class _Collection:
    notes: dict[str, _Note]  # by GUID
    ids: dict[int, str]  # note id → GUID
    notetypes: dict[int, AnkiNotetype]
    first_fields: dict[tuple[str, str], int] = field(default_factory=dict)  # (deck, text) → n


# ---------------------------------------------------------------- reading


def _copy_of(path: Path) -> contextlib.AbstractContextManager[sqlite3.Connection]:
    """A connection to a private copy of a collection (a profile file or a .colpkg), read as
    untrusted input exactly as adopt reads it."""
    return private_copy(path)


def _read(db: sqlite3.Connection) -> _Collection:
    tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    if "notes" not in tables or "cards" not in tables:
        raise ValueError("no notes table")
    schema = _current_schema if "notetypes" in tables else _legacy_schema
    notetypes, deck_names = schema(db)
    decks: dict[int, set[str]] = {}
    for nid, did in db.execute("select nid, did from cards"):
        decks.setdefault(int(nid), set()).add(deck_names.get(int(did), ""))
    col = _Collection({}, {}, notetypes)
    rows = db.execute("select id, guid, mid, mod, flds, tags from notes order by id")
    for nid, guid, mid, mod, flds, tags in rows:
        note = _Note(
            int(mid),
            int(mod),
            tuple(_nfc(str(flds)).split("\x1f")),
            frozenset(str(tags).split()),
            frozenset(decks.get(int(nid), ())),
        )
        col.notes[str(guid)] = note
        col.ids[int(nid)] = str(guid)
        _count_first_field(col, note)
    return col


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)  # as Anki stores imported text


_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _first_field(note: _Note) -> str:
    """The first field as Anki compares it for duplicates: text without HTML, spaces folded."""
    text = _TAG.sub(" ", note.fields[0] if note.fields else "").replace("&nbsp;", " ")
    return _SPACE.sub(" ", text).strip()


def _count_first_field(col: _Collection, note: _Note) -> None:
    text = _first_field(note)
    if text:
        for deck in note.decks:
            col.first_fields[deck, text] = col.first_fields.get((deck, text), 0) + 1


# ---------------------------------------------------------------- playing the importer


def _schema(notetype: AnkiNotetype) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return notetype.fields, notetype.templates


def plan_package(col: _Collection, apkg: Path) -> PackagePlan:
    """Play the import of one package on `col` (which then holds its result)."""
    plan = PackagePlan(apkg.name)
    with _copy_of(apkg) as db:
        incoming = _read(db)
    conflicting: set[int] = set()
    for ntid, notetype in sorted(incoming.notetypes.items()):
        existing = col.notetypes.get(ntid)
        if existing is None:
            col.notetypes[ntid] = notetype
        elif _schema(existing) != _schema(notetype):
            conflicting.add(ntid)  # imported as a copy under another id
    for guid, note in incoming.notes.items():  # in the package's order
        old = col.notes.get(guid)
        if old is None:
            plan.added += 1
            text = _first_field(note)
            twins = sorted(deck for deck in note.decks if col.first_fields.get((deck, text)))
            if text and twins:
                plan.duplicates += 1
                plan.duplicate_of.append(f"{twins[0]}: {text}")
            if note.notetype in conflicting:
                note.notetype = -note.notetype  # the copy's id: never the original's
            col.notes[guid] = note  # its first field is not "existing": only the collection's
        elif note.notetype in conflicting or old.notetype != note.notetype:
            plan.conflicts += 1
            found = incoming.notetypes.get(note.notetype)
            name = found.name if found else ""
            if name and name not in plan.note_types:
                plan.note_types.append(name)
        elif note.mod > old.mod:
            plan.updated += 1
            col.notes[guid] = _Note(old.notetype, note.mod, note.fields, note.tags, old.decks)
        elif note.fields == old.fields and note.tags == old.tags:
            plan.unchanged += 1
        else:
            plan.skipped += 1
    return plan


def make_plan(collection: Path, packages: list[Path], todo: object = None) -> Plan:
    """What importing `packages` in order into `collection` would do (the file is only read)."""
    with _copy_of(collection) as db:
        col = _read(db)
    before = dict(col.notes)
    plan = Plan([plan_package(col, apkg) for apkg in packages])
    if todo is not None:
        _still_to_do(plan, todo, before, col)
    return plan


def _still_to_do(plan: Plan, todo, before: dict[str, _Note], col: _Collection) -> None:
    """Deletions and moves ankigen-todo.txt lists that the collection has not had yet."""
    ids = col.ids
    deleted = [card.guid for card in todo.deleted]
    present = [
        guid
        for guid in deleted
        if guid in before or (guid in todo.note_ids and todo.note_ids[guid] in ids)
    ]
    plan.deletions = len(present)
    if present:
        plan.deletion_search = todo.deleted_search()
    for moved in todo.moved:
        waiting = [
            note
            for note in col.notes.values()
            if moved.tag in note.tags and any(not _in_deck(d, moved.deck) for d in note.decks)
        ]
        if waiting:
            plan.moves += len(waiting)
            plan.move_searches.append(f"{moved.search()}  → deck {moved.deck}")


def _in_deck(deck: str, target: str) -> bool:
    return deck.casefold() == target.casefold()


# ---------------------------------------------------------------- command line


def main(argv: list[str], prog: str = "ankigen plan") -> int:
    """The command line; a message and an exit status, never a traceback."""
    from .cli import EXIT_FAILED, EXIT_INTERRUPTED, say

    try:
        return _main(argv, prog)
    except KeyboardInterrupt:
        say("ankigen: interrupted", sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the last guard
        say(f"ankigen: error: internal error: {error!r} (please report it)", sys.stderr)
        return EXIT_FAILED


def _main(argv: list[str], prog: str) -> int:
    from .build import build
    from .cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _repo_prefix, _settle, build_options, say
    from .diagnostics import Formatter, as_record, counts, without_ignored

    p = _parser(prog)
    try:
        args = p.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    args.command = "plan"
    problem = _settle(args, prog)
    if problem is not None:
        return problem
    if not args.collection.is_file():
        say(f"{prog}: error: collection not found: {args.collection}", sys.stderr)
        return EXIT_USAGE
    report = build(build_options(args, args.out))
    if report.refused:  # one line: what to run
        say(f"ankigen: error: {report.refused}", sys.stderr)
        return EXIT_FAILED
    diagnostics = without_ignored(report.diagnostics, args.ignore, args.vault)
    formatter = Formatter(
        args.format, sys.stdout, sys.stderr, verbose=args.verbose, prefix=_repo_prefix(args.vault)
    )
    if args.format != "json":
        formatter.emit(diagnostics)
    packages = [args.out / name for name in sorted((*report.written, *report.unchanged))]
    try:
        plan = make_plan(args.collection, packages, report.todo)
    except CollectionError as error:
        say(f"{prog}: error: {error}", sys.stderr)
        return EXIT_FAILED
    failed = {"error", "warning"} if args.strict else {"error"}
    status = EXIT_FAILED if any(d.severity in failed for d in diagnostics) else EXIT_OK
    if args.format == "json":  # one object: the plan, with the build's diagnostics
        document = {
            **plan.as_json(),
            "diagnostics": [as_record(item) for item in diagnostics],
            "summary": {**counts(diagnostics), "command": "plan", "failed": bool(status)},
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _print_text(plan, args.collection)
    return status


def _parser(prog: str) -> argparse.ArgumentParser:
    """`ankigen plan`: the build's options and the collection to plan against."""
    from .cli import parser as build_parser

    p = build_parser(prog, "plan")
    p.epilog = (
        "Exit status: 0 planned, 1 the collection cannot be read or the build had errors (or "
        "warnings, with --strict), 2 usage error, 130 interrupted."
    )
    p.description = (
        "Say what importing the packages into an Anki collection would do, without importing "
        "and without writing to the collection: notes added, updated, unchanged, skipped as "
        "older, duplicates, note type conflicts, and the deletions and moves still to do. The "
        "packages are built first (unchanged folders reuse theirs)."
    )
    p.add_argument(
        "--collection",
        type=Path,
        required=True,
        metavar="PATH",
        help="the Anki collection (collection.anki2 in the profile folder, or a .colpkg "
        "backup); only a copy is read",
    )
    return p


def _line(counts: PackagePlan | dict) -> str:
    get = counts.get if isinstance(counts, dict) else lambda name: getattr(counts, name)
    text = (
        f"{get('added')} added, {get('updated')} updated, {get('unchanged')} unchanged, "
        f"{get('skipped')} skipped as older, {get('duplicates')} duplicates, "
        f"{get('conflicts')} conflicts"
    )
    return text


def _print_text(plan: Plan, collection: Path) -> None:
    out = sys.stdout
    for package in plan.packages:
        print(printable(f"{package.package}: {_line(package)}"), file=out)
        if package.note_types:
            names = ", ".join(package.note_types)
            print(printable(f"  note types in conflict: {names}"), file=out)
        for twin in package.duplicate_of:
            print(printable(f"  would duplicate a note of the collection, in {twin}"), file=out)
    print(printable(f"total: {_line(plan.total())}"), file=out)
    if plan.deletions:
        print(f"still to delete in Anki: {plan.deletions} notes; Notes > Delete on:", file=out)
        print(printable(f"  {plan.deletion_search}"), file=out)
    for search in plan.move_searches:
        print(printable(f"still to move in Anki: {search}"), file=out)
    print(printable(f"(nothing was imported; {collection} was only read)"), file=out)
