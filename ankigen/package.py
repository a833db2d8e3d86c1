"""Write one reproducible .apkg per deck: same input, same bytes.

The collection is Anki's legacy schema (genanki's APKG_SCHEMA), built in a temporary SQLite
file and zipped with fixed entry dates, order and compression. The file is written next to
its destination and moved into place (atomic.py), so a crash never leaves half a package.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import re
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from . import atomic
from .ankilimits import (
    CONTROLS,
    DEFAULT_DECK_NAME,
    anki_deck_name,
    cloze_problem,
    without_controls,
)
from .ankilimits import card_ords as cloze_ords
from .discover import is_package
from .htmltext import ANKI_SORT_ENTITIES, html_to_text
from .records import (
    CLOZE,
    QUESTION,
    REVERSED,
    AnkiNote,
    DeckPackage,
    ForeignNoteType,
    MediaFile,
    ReviewState,
)

# assets/ sits beside the package in a checkout and inside it (ankigen/assets) when installed.
_HERE = Path(__file__).resolve().parent
ASSETS = _HERE / "assets" if (_HERE / "assets").is_dir() else _HERE.parent / "assets"
MODEL_NAME = "ankigen"
FIELDS = ("Question", "Answer", "Context", "See", "References", "Source")
DEFAULT_DECK_ID = 1

# Entry date for every zip member: the earliest date zip can store.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_LEVEL = 6
# Media that is already compressed is stored as is: deflating it again costs time, saves nothing.
STORED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".mp3", ".mp4"})
SQLITE_PAGE_SIZE = 4096


def stable_id(kind: str, name: str) -> int:
    """A positive id from a name, the same in every release and on every machine.

    Kept in [2**52, 2**53) so it is a safe integer for the JavaScript side of Anki's clients.
    """
    digest = hashlib.sha256(f"ankigen:{kind}:{name}".encode()).digest()
    return (1 << 52) | (int.from_bytes(digest[:8], "big") & ((1 << 52) - 1))


MODEL_ID = stable_id("model", MODEL_NAME)
# Our own note types for the other card kinds: fixed names and ids (Anki's stock "Basic (and
# reversed card)" and "Cloze" are named in the user's language and have random ids).
REVERSED_NAME = "ankigen reversed"
REVERSED_ID = stable_id("model", REVERSED_NAME)
REVERSED_FIELDS = ("Front", "Back", "Context", "See", "References", "Source")
CLOZE_NAME = "ankigen cloze"
CLOZE_ID = stable_id("model", CLOZE_NAME)
CLOZE_FIELDS = ("Text", "Extra", "Context", "See", "References", "Source")


def deck_id(deck: str) -> int:
    """The deck's id, from its full name ("AWS::Compute").

    Anki's own "Default" deck keeps its id 1: a second deck of that name in a package would be
    imported as "Default_" (Anki compares deck names without case)."""
    if deck.casefold() == "default":
        return DEFAULT_DECK_ID
    return stable_id("deck", deck)


class DeckTable:
    """The decks of one package: one id and one name for every name Anki takes as the same.

    Anki compares deck names without case, after the normalisation of anki_deck_name. Two
    decks of one name in a package make its importer rename one (`Default_`, `Physics_`), so
    names that are one deck for Anki get one deck here, and `Default` is always Anki's own
    Default deck (id 1): the user's, never a second deck of that name."""

    def __init__(self, names: Iterable[str]) -> None:
        self.ids: dict[str, int] = {}  # name as the notes give it → deck id
        self.names: dict[int, str] = {DEFAULT_DECK_ID: DEFAULT_DECK_NAME}  # deck id → name
        by_key = {DEFAULT_DECK_NAME.casefold(): DEFAULT_DECK_ID}
        for raw in sorted(set(names)):
            name = anki_deck_name(raw)
            did = by_key.setdefault(name.casefold(), deck_id(name))
            self.names.setdefault(did, name)
            self.ids[raw] = did


@dataclass(frozen=True)
class CardModel:
    """The note type's templates and CSS, as read from assets/."""

    front: str
    back: str
    css: str

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything Anki would show differently changes."""
        text = "\x1f".join(
            (MODEL_NAME, *FIELDS, self.front, self.back, self.css, REVERSED_NAME, CLOZE_NAME)
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def note_type_json(self, note_type: str, mod: int, did: int) -> tuple[int, dict]:
        """(id, Anki's JSON) of one of our note types: "question", "reversed" or "cloze"."""
        if note_type == QUESTION:
            templates = [{"name": "Card", "qfmt": self.front, "afmt": self.back}]
            return MODEL_ID, _note_type(MODEL_ID, MODEL_NAME, FIELDS, templates, self.css, mod, did)
        if note_type == REVERSED:
            forward = {
                "name": "Front → Back",
                "qfmt": self.front.replace("{{Question}}", "{{Front}}"),
                "afmt": self.back.replace("{{Answer}}", "{{Back}}"),
            }
            backward = {
                "name": "Back → Front",
                "qfmt": self.front.replace("{{Question}}", "{{Back}}"),
                "afmt": self.back.replace("{{Answer}}", "{{Front}}"),
            }
            templates = [forward, backward]
            return REVERSED_ID, _note_type(
                REVERSED_ID, REVERSED_NAME, REVERSED_FIELDS, templates, self.css, mod, did
            )
        if note_type == CLOZE:
            front = self.front.replace("{{Question}}", "{{cloze:Text}}")
            # The back shows the text with its clozes revealed, not the front's [...].
            back = self.back.replace("{{FrontSide}}", front).replace("{{Answer}}", "{{Extra}}")
            templates = [{"name": "Cloze", "qfmt": front, "afmt": back}]
            return CLOZE_ID, _note_type(
                CLOZE_ID, CLOZE_NAME, CLOZE_FIELDS, templates, self.css, mod, did, cloze=True
            )
        raise ValueError(f"unknown note type {note_type!r}")


def load_card_model(assets: Path = ASSETS) -> CardModel:
    """Read the templates and CSS; the CSS is card.css followed by markdown.css if present."""
    css = (assets / "card.css").read_text(encoding="utf-8")
    markdown_css = assets / "markdown.css"
    if markdown_css.is_file():
        css += "\n" + markdown_css.read_text(encoding="utf-8")
    return CardModel(
        front=(assets / "front.html").read_text(encoding="utf-8"),
        back=(assets / "back.html").read_text(encoding="utf-8"),
        css=css,
    )


def package_bytes(
    pkg: DeckPackage,
    *,
    created: int,
    model_mod: int | None = None,
    model: CardModel | None = None,
) -> bytes:
    """The .apkg's bytes. `created` is the collection's creation time (no clock is read);
    `model_mod` the note type's modification time (default `created`): Anki's importer updates
    templates and CSS only when it is newer than the imported one (see Lock.with_model in
    identity/lockfile.py)."""
    buffer = BytesIO()
    _write_zip(buffer, pkg, created, created if model_mod is None else model_mod, model)
    return buffer.getvalue()


def write_package(
    pkg: DeckPackage,
    out_dir: Path,
    *,
    created: int,
    model_mod: int | None = None,
    model: CardModel | None = None,
) -> Path:
    """Write out_dir/pkg.filename atomically (see atomic.write_bytes) and return its path."""
    target = out_dir / pkg.filename
    with atomic.writer(target) as out:
        _write_zip(out, pkg, created, created if model_mod is None else model_mod, model)
    return target


# ---------------------------------------------------------------- zip


def _write_zip(
    out: BinaryIO, pkg: DeckPackage, created: int, model_mod: int, model: CardModel | None
) -> None:
    media = sorted(pkg.media, key=lambda m: m.name)
    media_map = {str(index): item.name for index, item in enumerate(media)}
    # The collection is built in a temporary file and streamed into the zip: never the whole
    # database in memory, let alone twice (it is about 9 MB per 5,000 cards).
    with tempfile.TemporaryDirectory(prefix="ankigen-") as work:
        database = Path(work) / "collection.anki2"
        _write_collection(database, pkg, created=created, model_mod=model_mod, model=model)
        with zipfile.ZipFile(out, "w") as archive:
            _add_file(archive, "collection.anki2", database)
            _add(archive, "media", json.dumps(media_map, sort_keys=True).encode(), compress=True)
            for index, item in enumerate(media):
                _add(archive, str(index), item.data, compress=_compressible(item))


def _add_file(archive: zipfile.ZipFile, name: str, path: Path) -> None:
    """Like _add(compress=True), reading the data from `path` a piece at a time."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.create_system = 3
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    try:
        info.compress_level = ZIP_LEVEL  # type: ignore[attr-defined]  # Python 3.13 and later
    except AttributeError:
        info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]  # what writestr() sets
    with open(path, "rb") as source, archive.open(info, "w") as target:
        shutil.copyfileobj(source, target, 1 << 20)


def _compressible(item: MediaFile) -> bool:
    return Path(item.name).suffix.lower() not in STORED_SUFFIXES


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, compress: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.create_system = 3  # Unix, whatever the platform, so the bytes do not depend on it
    info.external_attr = 0o644 << 16
    if compress:
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL)
    else:
        info.compress_type = zipfile.ZIP_STORED
        archive.writestr(info, data, compress_type=zipfile.ZIP_STORED)


# ---------------------------------------------------------------- collection


def _write_collection(
    path: Path,
    pkg: DeckPackage,
    *,
    created: int,
    model_mod: int,
    model: CardModel | None = None,
) -> None:
    """Write the collection.anki2 database (Anki's schema 11) to `path`, a new file."""
    model = model or load_card_model()
    decks = DeckTable({note.deck or pkg.deck for note in pkg.notes} or {pkg.deck})
    did = decks.ids.get(pkg.deck) or deck_id(anki_deck_name(pkg.deck))
    note_types = {
        note_type: model.note_type_json(note_type, model_mod, did)
        for note_type in sorted(
            {note.note_type for note in pkg.notes if not note.foreign} or {QUESTION}
        )
    }
    for note in pkg.notes:
        if note.foreign and _type_key(note) not in note_types:
            note_types[_type_key(note)] = _foreign_json(note.foreign, model, model_mod, did)
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode = OFF")  # a scratch file: no journal, no syncs
        conn.execute("PRAGMA synchronous = OFF")
        from genanki.apkg_schema import APKG_SCHEMA  # here: a rebuild that writes nothing skips it

        conn.executescript(APKG_SCHEMA)
        conn.execute(
            "INSERT INTO col VALUES (1, ?, ?, ?, 11, 0, 0, 0, ?, ?, ?, ?, '{}')",
            (
                _day_start(created),
                created * 1000,
                created * 1000,
                _dumps(_conf(did)),
                _dumps({str(mid): data for mid, data in note_types.values()}),
                _dumps(_decks(decks, created)),
                _dumps(_DECK_CONF),
            ),
        )
        ids = {key: mid for key, (mid, _) in note_types.items()}
        notes, cards = _rows(pkg, ids, _day_start(created), decks)
        conn.executemany("INSERT INTO notes VALUES (?,?,?,?,?,?,?,?,?,?,?)", notes)
        del notes
        conn.executemany("INSERT INTO cards VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", cards)
        conn.commit()
    finally:
        conn.close()


def _day_start(created: int) -> int:
    """The collection's creation time, at the start of its (UTC) day.

    Anki counts a package's days from it; starting at midnight makes a review card's due day
    (days since then) the same whatever the hour of the import."""
    return created - created % 86400


def _rows(
    pkg: DeckPackage, model_ids: dict[str, int], crt: int, decks: DeckTable
) -> tuple[list[tuple], list[tuple]]:
    note_rows: list[tuple] = []
    card_rows: list[tuple] = []
    note_ids: set[int] = set()
    card_ids: set[int] = set()
    for position, note in enumerate(pkg.notes):
        expected = len(note.foreign.fields) if note.foreign else len(FIELDS)
        if len(note.fields) != expected:
            raise ValueError(f"{note.source}: {len(note.fields)} fields, expected {expected}")
        fields = [
            without_controls(field) if _REFUSED_CHARS.search(field) else field
            for field in note.fields
        ]
        tags = [tag for tag in map(without_controls, note.tags) if tag]
        nid = _free_id(stable_id("note", note.guid), note_ids)
        sort_field = _plain_text(fields[0])
        note_rows.append(
            (
                nid,
                note.guid,
                model_ids[_type_key(note)],
                note.mod,
                -1,  # usn: not yet synced
                f" {' '.join(tags)} " if tags else "",
                "\x1f".join(fields),
                sort_field,
                int(hashlib.sha1(sort_field.encode()).hexdigest()[:8], 16),
                0,
                "",
            )
        )
        did = decks.ids[note.deck or pkg.deck]
        for index, ord_ in enumerate(card_ords(note)):
            key = note.guid if ord_ == 0 else f"{note.guid}\x1f{ord_}"
            cid = _free_id(stable_id("card", key), card_ids)
            state = note.schedule[index] if index < len(note.schedule) else None
            card_rows.append(_card_row(cid, nid, did, ord_, note.mod, position, state, crt))
    return note_rows, card_rows


# What without_controls removes or replaces: most fields hold none, and one scan finds out.
_REFUSED_CHARS = re.compile(CONTROLS.pattern[:-1] + "\ud800-\udfff]")


def _type_key(note: AnkiNote) -> str:
    return f"foreign:{note.foreign.id}" if note.foreign else note.note_type


def _foreign_json(
    foreign: ForeignNoteType, model: CardModel, mod: int, did: int
) -> tuple[int, dict]:
    """A note type that is not ours. Adopted ones keep their id, fields, template names and mod,
    so Anki's importer sees its own note type and updates the notes in place (templates and CSS
    are only used if the collection no longer has it). A user's own note type (Obsidian_to_Anki)
    gets our look: the first field on the front, the others below it on the back."""
    first = "{{cloze:%s}}" if foreign.cloze else "{{%s}}"
    first = first.replace("%s", foreign.fields[0])
    rest = "".join(f'<div class="field">{{{{{name}}}}}</div>' for name in foreign.fields[1:])
    if set(FIELDS[2:]) <= set(foreign.fields):  # ours: Context, See, References, Source
        rest = "".join(
            f'<div class="field">{{{{{name}}}}}</div>'
            for name in foreign.fields[1:]
            if name not in FIELDS[2:]
        )
        front = model.front.replace("{{Question}}", first)
        back = model.back.replace("{{Answer}}", rest)
    else:
        front = f'<div class="question">{first}</div>'
        back = f"{front}\n\n<hr id=answer>\n\n{rest}"
    templates = [{"name": name, "qfmt": front, "afmt": back} for name in foreign.templates]
    json_ = _note_type(
        foreign.id, foreign.name, foreign.fields, templates, model.css,
        mod if foreign.mod is None else foreign.mod, did, cloze=foreign.cloze,
    )  # fmt: skip
    return foreign.id, json_


def card_ords(note: AnkiNote) -> list[int]:
    """The template ordinals of a note's cards: one per cloze number for a cloze note.

    The note was checked (ankilimits.importable); an unchecked one Anki would refuse raises."""
    if note.foreign and note.foreign.cloze:
        return _cloze_ords(note, note.fields)
    if note.foreign:
        return [0, 1] if note.note_type == REVERSED and len(note.foreign.templates) > 1 else [0]
    if note.note_type == REVERSED:
        return [0, 1]
    if note.note_type == CLOZE:
        return _cloze_ords(note, note.fields[:1])
    return [0]


def _cloze_ords(note: AnkiNote, fields: tuple[str, ...]) -> list[int]:
    problem = cloze_problem(fields)
    if problem:
        raise ValueError(f"{note.source}: {problem}")
    return cloze_ords(fields)


def _card_row(
    cid: int,
    nid: int,
    did: int,
    ord_: int,
    mod: int,
    position: int,
    state: ReviewState | None,
    crt: int,
) -> tuple:
    """One row of the cards table: a new card, or a review card with carried-over progress.

    Anki's importer keeps a review card's due day relative to the collection's day (it shifts
    it by the difference between the package's today and the collection's today) and resets
    everything to new when the user imports without "Import any learning progress"."""
    if state is None:
        # A new card's due is its position among new cards: Anki shows them in this order.
        return (cid, nid, did, ord_, mod, -1, 0, 0, position, 0, 0, 0, 0, 0, 0, 0, 0, "")
    due = (datetime.date.fromisoformat(state.due) - _EPOCH).days - crt // 86400
    data = ""
    if state.stability is not None and state.difficulty is not None:
        # FSRS memory state, where Anki keeps it: the card's data column (JSON, "s" and "d").
        memory = {"s": round(state.stability, 4), "d": round(state.difficulty, 4)}
        data = _dumps(memory)
    # type 2 / queue 2: a review card; reps 1 so Anki's statistics count it as seen.
    return (
        cid,
        nid,
        did,
        ord_,
        mod,
        -1,
        2,
        2,
        due,
        state.interval,
        state.ease,
        1,
        0,
        0,
        0,
        0,
        0,
        data,
    )


_EPOCH = datetime.date(1970, 1, 1)


def _free_id(candidate: int, taken: set[int]) -> int:
    while candidate in taken:
        candidate += 1
    taken.add(candidate)
    return candidate


def _plain_text(html: str) -> str:
    """The sort field as Anki stores it: text without tags (Anki recomputes it on import)."""
    return html_to_text(html, entities=ANKI_SORT_ENTITIES)


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _note_type(
    mid: int,
    name: str,
    fields: tuple[str, ...],
    templates: list[dict[str, str]],
    css: str,
    mod: int,
    did: int,
    *,
    cloze: bool = False,
) -> dict:
    import genanki

    note_type = genanki.Model(
        mid,
        name,
        fields=[{"name": field_name} for field_name in fields],
        templates=templates,
        css=css,
        model_type=genanki.Model.CLOZE if cloze else genanki.Model.FRONT_BACK,
    )
    return note_type.to_json(mod, did)


def _conf(did: int) -> dict:
    return {
        "activeDecks": [did],
        "addToCur": True,
        "collapseTime": 1200,
        # The package's days are counted from its creation date in UTC (creationOffset 0) with
        # Anki's default 4 am rollover, so its "today" is the user's today wherever they live:
        # the importer keeps a review card's due day relative to it (see _card_row).
        "creationOffset": 0,
        "curDeck": did,
        "curModel": str(MODEL_ID),
        "dueCounts": True,
        "estTimes": True,
        "newBury": True,
        "newSpread": 0,
        "nextPos": 1,
        "rollover": 4,
        "schedVer": 2,
        "sortBackwards": False,
        "sortType": "noteFld",
        "timeLim": 0,
    }


def _deck_json(did: int, name: str, mod: int) -> dict:
    return {
        "collapsed": False,
        "conf": 1,
        "desc": "",
        "dyn": 0,
        "extendNew": 0,
        "extendRev": 50,
        "id": did,
        "lrnToday": [0, 0],
        "mod": mod,
        "name": name,
        "newToday": [0, 0],
        "revToday": [0, 0],
        "timeToday": [0, 0],
        "usn": -1,
    }


def _decks(table: DeckTable, created: int) -> dict:
    return {str(did): _deck_json(did, name, created) for did, name in table.names.items()}


_DECK_CONF = {
    "1": {
        "autoplay": True,
        "id": 1,
        "lapse": {"delays": [10], "leechAction": 0, "leechFails": 8, "minInt": 1, "mult": 0},
        "maxTaken": 60,
        "mod": 0,
        "name": "Default",
        "new": {
            "bury": True,
            "delays": [1, 10],
            "initialFactor": 2500,
            "ints": [1, 4, 7],
            "order": 1,
            "perDay": 20,
            "separate": True,
        },
        "replayq": True,
        "rev": {
            "bury": True,
            "ease4": 1.3,
            "fuzz": 0.05,
            "ivlFct": 1,
            "maxIvl": 36500,
            "minSpace": 1,
            "perDay": 100,
        },
        "timer": 0,
        "usn": 0,
    }
}


# ---------------------------------------------------------------- stale packages


def remove_stale_packages(previous: set[str], wanted: set[str], out_dir: Path) -> tuple[str, ...]:
    """Delete the packages ankigen wrote before (`previous`) that are not `wanted` any more."""
    removed = []
    for package in sorted(previous - wanted):
        if not is_package(out_dir, package):  # the state file is not trusted: nothing else
            continue
        with contextlib.suppress(FileNotFoundError):
            (out_dir / package).unlink()
            removed.append(package)
    return tuple(removed)
