"""Read an Anki collection without ever writing to it: notes, their decks and note types.

Accepts a profile's `collection.anki2` (also `.anki21`) and a `.colpkg` backup (its
`collection.anki21b` is a zstd-compressed SQLite file; older ones hold `collection.anki21` or
`collection.anki2`). The file is copied to a temporary folder first and only the copy is opened,
so a running Anki is never disturbed and the user's file is never touched. Both the current
schema (tables `notetypes`, `fields`, `templates`, `decks`) and the legacy one (JSON in `col`)
are read.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

# A .colpkg is untrusted input: never inflate it beyond this.
MAX_COLLECTION_BYTES = 8 << 30
_COLPKG_NAMES = ("collection.anki21b", "collection.anki21", "collection.anki2")


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
    """The collection's notes and note types; CollectionError when it cannot be read."""
    if not path.is_file():
        raise CollectionError(f"no such file: {path}")
    with tempfile.TemporaryDirectory(prefix="ankigen-adopt-") as temp:
        copy = Path(temp) / "collection.sqlite"
        try:
            if zipfile.is_zipfile(path):
                _extract_colpkg(path, copy)
            else:
                shutil.copyfile(path, copy)
                wal = path.with_name(path.name + "-wal")
                if wal.is_file():  # changes Anki has not checkpointed yet
                    shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        except OSError as error:
            raise CollectionError(f"cannot read {path}: {error}") from error
        try:
            db = sqlite3.connect(copy)
            try:
                return _read(db)
            finally:
                db.close()
        except (sqlite3.Error, ValueError, KeyError, TypeError) as error:
            raise CollectionError(f"{path} is not an Anki collection ({error})") from error


def _extract_colpkg(path: Path, out: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            name = next((n for n in _COLPKG_NAMES if n in names), None)
            if name is None:
                raise CollectionError(f"{path} holds no collection (not a .colpkg backup)")
            with archive.open(name) as source, out.open("wb") as target:
                if name.endswith("b"):
                    import zstandard

                    reader = zstandard.ZstdDecompressor().stream_reader(source)
                    _copy_limited(reader, target)
                else:
                    _copy_limited(source, target)
    except (zipfile.BadZipFile, ImportError) as error:
        raise CollectionError(f"cannot open {path}: {error}") from error
    except Exception as error:
        if isinstance(error, CollectionError | OSError):
            raise
        raise CollectionError(f"cannot unpack {path}: {error}") from error


def _copy_limited(source, target) -> None:
    total = 0
    while chunk := source.read(1 << 20):
        total += len(chunk)
        if total > MAX_COLLECTION_BYTES:
            raise CollectionError("the collection inside the backup is implausibly large")
        target.write(chunk)


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
