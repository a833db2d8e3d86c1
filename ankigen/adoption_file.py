"""ankigen.adopted: the note types of the notes `ankigen adopt` took over, beside the lock.

The build reads it to write those notes with the collection's own note type (Anki's importer
updates a note in place only when its note type is the same); `ankigen adopt` writes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from . import atomic
from .records import Diagnostic

if TYPE_CHECKING:
    from .anki_collection import AnkiNotetype

ADOPTED_FILE = "ankigen.adopted"  # next to the lock; discovery skips it

ADOPTED_VERSION = 1
MAX_BYTES = 64 << 20  # far more than any collection's note types and ids


@dataclass(frozen=True)
class Adopted:
    """What the build needs to write adopted notes: their Anki note types, by GUID."""

    notetypes: Mapping[int, AnkiNotetype] = field(default_factory=dict)
    notes: Mapping[str, int] = field(default_factory=dict)  # GUID → note type id
    note_ids: Mapping[str, int] = field(default_factory=dict)  # GUID → Anki note id
    # Every plugin note id `ankigen adopt` has seen in the notes, adopted or not (not in the
    # collection, ambiguous, marked DELETE): the build refuses ids outside these and note_ids.
    seen: frozenset[int] = frozenset()

    def accounts_for(self, note_id: int) -> bool:
        """Whether `ankigen adopt` has seen this plugin note id."""
        return note_id in self.seen or note_id in self._ids

    @cached_property
    def _ids(self) -> frozenset[int]:
        return frozenset(self.note_ids.values())

    @property
    def fingerprint(self) -> str:
        """Changes whenever adoption would write a note differently."""
        if not self.notes:
            return ""
        text = json.dumps(
            [sorted(self.notes.items()), sorted((k, repr(v)) for k, v in self.notetypes.items())]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def notetype_of(self, guid: str) -> AnkiNotetype | None:
        ntid = self.notes.get(guid)
        return self.notetypes.get(ntid) if ntid is not None else None


def load_adopted(root: Path) -> tuple[Adopted, list[Diagnostic]]:
    """The adopted note types (none when the file is missing); a broken file is an error."""
    path = root / ADOPTED_FILE
    try:
        text = atomic.read_regular(path, MAX_BYTES).decode("utf-8")
    except FileNotFoundError:
        return Adopted(), []
    except (OSError, ValueError) as error:  # a pipe, a folder, too large, not UTF-8
        return Adopted(), [Diagnostic(ADOPTED_FILE, 0, "error", f"cannot read: {error}")]
    from .anki_collection import AnkiNotetype  # only when a collection was adopted

    try:
        data = json.loads(text)
        if data.get("version") != ADOPTED_VERSION:
            raise ValueError(f"unknown version {data.get('version')!r}")
        notetypes = {}
        for key, raw in data["notetypes"].items():
            notetype = AnkiNotetype(
                id=int(key),
                name=_text(raw["name"]),
                cloze=bool(raw["cloze"]),
                fields=tuple(_text(name) for name in raw["fields"]),
                templates=tuple(_text(name) for name in raw["templates"]),
                mod=int(raw["mod"]),
            )
            if not notetype.fields or not notetype.templates:
                raise ValueError(f"note type {key} has no fields or no templates")
            notetypes[notetype.id] = notetype
        notes: dict[str, int] = {}
        note_ids: dict[str, int] = {}
        for guid, raw in data["notes"].items():
            notes[_text(guid)] = int(raw["notetype"])
            note_id = raw.get("id", 0)
            if type(note_id) is int and 0 < note_id < 1 << 63:
                note_ids[guid] = note_id
        if any(ntid not in notetypes for ntid in notes.values()):
            raise ValueError("a note names a note type the file does not hold")
        seen = data.get("seen", [])
        if not isinstance(seen, list) or not all(_note_id(n) for n in seen):
            raise ValueError('"seen" is not a list of note ids')
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        message = f"ignoring broken file ({error}); adopted notes are built as new notes"
        return Adopted(), [Diagnostic(ADOPTED_FILE, 0, "error", message)]
    return Adopted(notetypes, notes, note_ids, frozenset(seen)), []


def _note_id(value: object) -> bool:
    return type(value) is int and 0 < value < 1 << 63


def _text(value: object) -> str:
    if not isinstance(value, str) or not value or "\x1f" in value:
        raise ValueError(f"not a name: {value!r}")
    return value


def save_adopted(root: Path, adopted: Adopted) -> None:
    data = {
        "version": ADOPTED_VERSION,
        "notetypes": {
            str(nt.id): {
                "name": nt.name,
                "cloze": nt.cloze,
                "fields": list(nt.fields),
                "templates": list(nt.templates),
                "mod": nt.mod,
            }
            for nt in sorted(adopted.notetypes.values(), key=lambda nt: nt.id)
        },
        "notes": {
            guid: {"notetype": ntid, "id": adopted.note_ids.get(guid, 0)}
            for guid, ntid in sorted(adopted.notes.items())
        },
        "seen": sorted(adopted.seen),
    }
    atomic.write_text(root / ADOPTED_FILE, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
