"""Read an Anki collection without ever writing to it: notes, their decks and note types.

Accepts a profile's `collection.anki2` (also `.anki21`) and a `.colpkg` backup (its
`collection.anki21b` is a zstd-compressed SQLite file; older ones hold `collection.anki21` or
`collection.anki2`). The file is copied to a temporary folder first and only the copy is opened,
so a running Anki is never disturbed and the user's file is never touched. Both the current
schema (tables `notetypes`, `fields`, `templates`, `decks`) and the legacy one (JSON in `col`)
are read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from .interrupts import pid_alive

# A collection is untrusted input: the work spent on it is bounded by its size.
MAX_COLLECTION_BYTES = 8 << 30  # a collection (or the one inside a .colpkg), after unpacking
# A .colpkg's collection unpacks to at most this many times the backup's size (SQLite text
# compresses some 3 to 10 times), and never beyond MAX_COLLECTION_BYTES.
MAX_UNPACK_RATIO = 100
MIN_UNPACK_BYTES = 256 << 20  # a small backup may still unpack to this much
MAX_VALUE_BYTES = 256 << 20  # one value (a note's fields, a JSON column): SQLite refuses more
MAX_CONFIG_BYTES = 1 << 20  # a note type's configuration (a protobuf message)
# SQLite virtual-machine steps allowed per byte of collection (reading a real one takes a few).
WORK_PER_BYTE = 100
_COLPKG_NAMES = ("collection.anki21b", "collection.anki21", "collection.anki2")
SQLITE_MAGIC = b"SQLite format 3\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a file's header; an empty archive's
TEMP_PREFIX = "ankigen-adopt-"


class CollectionError(Exception):
    """The file is not a readable Anki collection; the message says why."""


@dataclass(frozen=True)
class AnkiNotetype:
    """An Anki note type as the importer compares it: id, fields and templates by name."""

    id: int
    name: str
    cloze: bool
    fields: tuple[str, ...]
    templates: tuple[str, ...]
    mod: int  # seconds since the epoch


@dataclass(frozen=True)
class CollectionNote:
    id: int
    guid: str
    notetype: int
    fields: tuple[str, ...]  # HTML as Anki keeps it
    decks: tuple[str, ...]  # full deck names of its cards ("A::B")
    mod: int = 0  # its modification time in the collection, seconds since the epoch


@dataclass(frozen=True)
class AnkiCollection:
    notes: dict[int, CollectionNote]
    notetypes: dict[int, AnkiNotetype]


def read_collection(path: Path) -> AnkiCollection:
    """The collection's notes and note types; CollectionError when it cannot be read (read
    from a private copy as private_copy says). A plain function, not the generator of
    private_copy: a signal while the copy is made or read unwinds through the temporary
    folder at once, so no copy outlives it."""
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-") as temp:
        copy = _private_copy_file(path, Path(temp))
        with _checked(path, copy) as db:
            return _read(db)


@contextlib.contextmanager
def private_copy(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a private copy of the collection; CollectionError when it
    cannot be read. plan reads through it; adopt through read_collection.

    What is read is decided by the file's first bytes (a SQLite database or a zip), never by
    its name or by bytes found further in; a .colpkg is unpacked within MAX_UNPACK_RATIO of
    its size; the copy is read with SQLite's limits set, a work budget by its size, and plain
    tables only. The copy is gone when the block ends."""
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-") as temp:
        copy = _private_copy_file(path, Path(temp))
        with _checked(path, copy) as db:
            yield db


def _private_copy_file(path: Path, folder: Path) -> Path:
    """The collection copied (or unpacked) into `folder`, decided by its first bytes."""
    sweep_stale_copies()
    try:
        info = path.stat()
    except OSError as error:
        raise CollectionError(f"no such file: {path}") from error
    if not stat.S_ISREG(info.st_mode):
        raise CollectionError(f"no such file: {path}")
    head = _head(path)
    copy = folder / "collection.sqlite"
    try:
        if head.startswith(_ZIP_MAGICS):
            _extract_colpkg(path, copy, _unpack_limit(info.st_size))
        elif head.startswith(SQLITE_MAGIC):
            _copy_sqlite(path, copy, info.st_size)
        else:
            raise CollectionError(
                f"{path} is not an Anki collection: it is neither a SQLite database "
                "(collection.anki2) nor a zip (.colpkg backup)"
            )
    except OSError as error:
        raise CollectionError(f"cannot read {path}: {error}") from error
    return copy


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise CollectionError(f"cannot read {path}: {error}") from error


def _unpack_limit(packed_size: int) -> int:
    return min(MAX_COLLECTION_BYTES, max(MIN_UNPACK_BYTES, MAX_UNPACK_RATIO * packed_size))


def _copy_sqlite(path: Path, copy: Path, size: int) -> None:
    wal = path.with_name(path.name + "-wal")  # changes Anki has not checkpointed yet
    wal_size = wal.stat().st_size if wal.is_file() else 0
    if size + wal_size > MAX_COLLECTION_BYTES:
        raise CollectionError(f"{path} is implausibly large for an Anki collection")
    shutil.copyfile(path, copy)
    if wal_size:
        shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))


@contextlib.contextmanager
def _checked(path: Path, copy: Path) -> Iterator[sqlite3.Connection]:
    size = sum(p.stat().st_size for p in copy.parent.iterdir())
    budget = _Budget(WORK_PER_BYTE * size + 10_000_000)
    try:
        db = sqlite3.connect(copy)
        try:
            _limit(db, budget)
            _check_schema(db)
            yield db
        finally:
            db.close()
    except CollectionError as error:
        raise CollectionError(f"{path} is not an Anki collection: {error}") from None
    except (sqlite3.Error, ValueError, KeyError, TypeError, RecursionError) as error:
        if budget.spent:
            raise CollectionError(
                f"{path} is not an Anki collection: reading it takes far more work than its "
                "size; refused"
            ) from None
        raise CollectionError(f"{path} is not an Anki collection ({error})") from error


class _Budget:
    """SQLite's progress handler: stops a query that does more work than the file's size
    allows (a crafted file can make one query loop for ever)."""

    STEP = 1000  # virtual-machine instructions between calls

    def __init__(self, instructions: int) -> None:
        self.left = instructions // self.STEP
        self.spent = False

    def __call__(self) -> int:
        self.left -= 1
        if self.left < 0:
            self.spent = True
            return 1  # non-zero: SQLite interrupts the query
        return 0


def _limit(db: sqlite3.Connection, budget: _Budget) -> None:
    db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    db.set_progress_handler(budget, _Budget.STEP)
    db.execute("pragma query_only = on")
    db.execute("pragma trusted_schema = off")  # no SQL function runs from the schema


def _check_schema(db: sqlite3.Connection) -> None:
    """Plain tables only: Anki's own schema has no view, trigger, virtual table or generated
    column, and one of those in a collection is a trap (a view can loop for ever or build a
    gigabyte value), so any is refused before a row is read."""
    for kind, name, sql in db.execute("select type, name, sql from sqlite_master"):
        if kind in ("view", "trigger"):
            raise CollectionError(f"it holds a {kind} ({name!r}), which Anki never writes")
        if kind == "table" and str(sql or "").lstrip()[:20].upper().startswith("CREATE VIRTUAL"):
            raise CollectionError(f"it holds a virtual table ({name!r}), which Anki never writes")
    tables = [row[0] for row in db.execute("select name from sqlite_master where type='table'")]
    for table in tables:
        for name, hidden in db.execute("select name, hidden from pragma_table_xinfo(?)", (table,)):
            if hidden in (2, 3):  # 2: a virtual generated column, 3: a stored one
                raise CollectionError(
                    f"its table {table!r} has a generated column ({name!r}), "
                    "which Anki never writes"
                )


def _extract_colpkg(path: Path, out: Path, limit: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = {info.filename: info for info in archive.infolist()}
            name = next((n for n in _COLPKG_NAMES if n in names), None)
            if name is None:
                raise CollectionError(f"{path} holds no collection (not a .colpkg backup)")
            if names[name].file_size > limit:  # as the archive says: checked before unpacking
                raise CollectionError(f"{path}: the collection inside is implausibly large")
            with archive.open(name) as source, out.open("wb") as target:
                if name.endswith("b"):
                    import zstandard

                    head = source.read(18)  # a zstd frame header is at most 18 bytes
                    if not head.startswith(ZSTD_MAGIC):
                        raise CollectionError(f"{path}: {name} is not zstd-compressed")
                    declared = zstandard.frame_content_size(head)
                    if declared > limit:  # -1 when the frame does not say
                        raise CollectionError(f"{path}: the collection inside is implausibly large")
                    decompressor = zstandard.ZstdDecompressor(max_window_size=1 << 27)
                    reader = decompressor.stream_reader(cast(IO[bytes], _Prefixed(head, source)))
                    _copy_limited(reader, target, limit, path)
                else:
                    _copy_limited(source, target, limit, path)
    except (zipfile.BadZipFile, ImportError) as error:
        raise CollectionError(f"cannot open {path}: {error}") from error
    except Exception as error:
        if isinstance(error, CollectionError | OSError):
            raise
        raise CollectionError(f"cannot unpack {path}: {error}") from error


class _Prefixed:
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self.head = head
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:size], self.head[size:]
            return data
        return self.rest.read(size)


def _copy_limited(source: Any, target: Any, limit: int, path: Path) -> None:
    """Copy at most `limit` bytes (never written beyond it); the copy must be SQLite."""
    total = 0
    head = b""
    while chunk := source.read(1 << 20):
        if len(head) < len(SQLITE_MAGIC):  # the first bytes, however the reads fall
            head += chunk[: len(SQLITE_MAGIC) - len(head)]
            if not SQLITE_MAGIC.startswith(head):
                raise CollectionError(f"{path} holds no SQLite collection (not a .colpkg backup)")
        total += len(chunk)
        if total > limit:
            raise CollectionError(
                f"{path}: the collection inside unpacks to more than {limit >> 20} MB, "
                f"{MAX_UNPACK_RATIO} times the backup; refused"
            )
        target.write(chunk)
    if len(head) < len(SQLITE_MAGIC):
        raise CollectionError(f"{path} holds no SQLite collection (not a .colpkg backup)")


def sweep_stale_copies() -> None:
    """Remove the temporary copies a killed `adopt` left behind (its process is gone)."""
    root = Path(tempfile.gettempdir())
    try:
        entries = list(root.glob(f"{TEMP_PREFIX}*"))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or pid_alive(int(pid_text)):
            continue
        try:
            info = entry.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            shutil.rmtree(entry, ignore_errors=True)


def _read(db: sqlite3.Connection) -> AnkiCollection:
    tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    if "notes" not in tables or "cards" not in tables:
        raise ValueError("no notes table")
    if "notetypes" in tables:
        notetypes, decks = _current_schema(db)
    else:
        notetypes, decks = _legacy_schema(db)
    card_decks: dict[int, set[str]] = {}
    for nid, did in db.execute("select nid, did from cards"):
        card_decks.setdefault(int(nid), set()).add(decks.get(int(did), ""))
    notes = {}
    for nid, guid, mid, flds, mod in db.execute("select id, guid, mid, flds, mod from notes"):
        notes[int(nid)] = CollectionNote(
            id=int(nid),
            guid=str(guid),
            notetype=int(mid),
            fields=tuple(str(flds).split("\x1f")),
            decks=tuple(sorted(d for d in card_decks.get(int(nid), ()) if d)),
            mod=int(mod),
        )
    return AnkiCollection(notes, notetypes)


def _current_schema(db: sqlite3.Connection) -> tuple[dict[int, AnkiNotetype], dict[int, str]]:
    fields: dict[int, list[str]] = {}
    for ntid, name in db.execute("select ntid, name from fields order by ntid, ord"):
        fields.setdefault(int(ntid), []).append(str(name))
    templates: dict[int, list[str]] = {}
    for ntid, name in db.execute("select ntid, name from templates order by ntid, ord"):
        templates.setdefault(int(ntid), []).append(str(name))
    notetypes = {}
    for ntid, kind, size in db.execute("select id, typeof(config), length(config) from notetypes"):
        # Sizes and types first: an integer or a huge value where the protobuf message
        # belongs is refused before a byte of it is decoded.
        if kind not in ("blob", "null") or (size or 0) > MAX_CONFIG_BYTES:
            raise CollectionError(
                f"note type {ntid}'s configuration is not a protobuf message ({kind}, {size} bytes)"
            )
    for ntid, name, mtime, config in db.execute(
        "select id, name, mtime_secs, config from notetypes"
    ):
        ntid = int(ntid)
        notetypes[ntid] = AnkiNotetype(
            id=ntid,
            name=str(name),
            cloze=_protobuf_varint(bytes(config or b""), 1) == 1,  # NotetypeConfig.kind
            fields=tuple(fields.get(ntid, ())),
            templates=tuple(templates.get(ntid, ())),
            mod=int(mtime),
        )
    decks = {int(did): str(name).replace("\x1f", "::") for did, name in db.execute(
        "select id, name from decks"
    )}  # fmt: skip
    return notetypes, decks


def _legacy_schema(db: sqlite3.Connection) -> tuple[dict[int, AnkiNotetype], dict[int, str]]:
    models_json, decks_json = db.execute("select models, decks from col").fetchone()
    notetypes = {}
    for key, model in json.loads(models_json).items():
        ntid = int(model.get("id", key))
        notetypes[ntid] = AnkiNotetype(
            id=ntid,
            name=str(model["name"]),
            cloze=model.get("type") == 1,
            fields=tuple(str(f["name"]) for f in sorted(model["flds"], key=lambda f: f["ord"])),
            templates=tuple(str(t["name"]) for t in sorted(model["tmpls"], key=lambda t: t["ord"])),
            mod=int(model.get("mod", 0)),
        )
    decks = {int(key): str(deck["name"]) for key, deck in json.loads(decks_json).items()}
    return notetypes, decks


def _protobuf_varint(data: bytes, number: int) -> int:
    """The value of varint field `number` at the top level of a protobuf message (0 if absent)."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            if field == number:
                return value
        elif wire == 2:
            length, i = _varint(data, i)
            i += length
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            return 0
    return 0


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while i < len(data):
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            break
    raise ValueError("malformed note type configuration")
