"""`ankigen adopt` reads a collection as untrusted input, with bounded work.

Collections are made with the real `anki` package, then crafted with sqlite3 the way a hostile
file could be: views (one that never ends, one that builds a gigabyte value), triggers,
virtual tables, generated columns, an integer where a note type's protobuf belongs, backups
that unpack to far more than their size, zip-looking bytes inside a valid collection. Each is
refused with one line (or read, when it is valid), and no copy is left in the temporary
folder, whatever signal stops the command.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import zstandard
from anki.collection import Collection
from conftest import REPO, write_vault

from ankigen import anki_collection
from ankigen.anki_collection import CollectionError, read_collection

WALL_CLOCK = 120  # seconds a crafted file may take before the test calls it a hang


@pytest.fixture(scope="module")
def base_collection(tmp_path_factory) -> Path:
    """A small real collection: two notes in a deck."""
    path = tmp_path_factory.mktemp("base") / "collection.anki2"
    col = Collection(str(path))
    basic = col.models.by_name("Basic")
    for front, back in (("Capital of Peru?", "Lima"), ("Capital of Chile?", "Santiago")):
        note = col.new_note(basic)
        note["Front"], note["Back"] = front, back
        col.add_note(note, col.decks.id("Geo"))
    col.close()
    return path


def crafted(base: Path, where: Path, *statements: str) -> Path:
    """A copy of the base collection with the SQL statements applied."""
    where.mkdir(parents=True, exist_ok=True)
    path = where / "collection.anki2"
    shutil.copyfile(base, path)
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()
    return path


def adopt_cli(vault: Path, collection: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    tmp.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "ankigen", "adopt", str(vault), "--collection", str(collection)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=WALL_CLOCK,
        env={**os.environ, "TMPDIR": str(tmp)},
    )


RECURSIVE = (
    "with recursive r(n) as (select 1 union all select n + 1 from r) "
    "select n as id, 'g' || n as guid, 1 as mid, 'x' as flds from r"
)
TRAPS = {
    "recursive view as notes": ["drop table notes", f"create view notes as {RECURSIVE}"],
    "recursive view as cards": [
        "drop table cards",
        "create view cards as with recursive r(n) as (select 1 union all select n + 1 from r) "
        "select n as nid, 1 as did from r",
    ],
    "gigabyte view as notes": [
        "drop table notes",
        "create view notes as select 1 as id, 'g' as guid, 1 as mid, zeroblob(1000000000) as flds",
    ],
    "view as decks": ["drop table decks", "create view decks as select 1 as id, 'x' as name"],
    "an unused view": ["create view extra as select 1"],
    "a trigger": ["create trigger t after insert on cards begin select 1; end"],
    "a virtual table": ["create virtual table words using fts4(body)"],
    "a generated column": [
        "drop table notes",
        "create table notes (id integer primary key, guid text, mid integer, "
        "flds blob as (zeroblob(1000000000)))",
        "insert into notes (id, guid, mid) values (1, 'g', 1)",
    ],
    "a stored generated column": [
        "create table extra (a integer, b integer generated always as (a * 2) stored)"
    ],
}


@pytest.mark.parametrize("statements", list(TRAPS.values()), ids=list(TRAPS))
def test_views_triggers_and_generated_columns_are_refused_with_one_line(
    base_collection, tmp_path, statements
):
    collection = crafted(base_collection, tmp_path / "c", *statements)
    vault = write_vault(tmp_path / "v", {"a.md": "START\nBasic\nFront: q\nBack: a\nEND\n"})
    result = adopt_cli(vault, collection, tmp_path / "tmp")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "is not an Anki collection" in lines[0], lines
    assert "Anki never writes" in lines[0]
    assert list((tmp_path / "tmp").iterdir()) == []  # the copy is gone


def test_a_query_that_works_beyond_the_files_size_is_stopped(
    base_collection, tmp_path, monkeypatch
):
    """Defence in depth: a query that never ends (as a view let through would make one) is
    stopped by SQLite's progress handler, and said so in one line."""
    endless = "with recursive r(n) as (select 1 union all select n + 1 from r) select max(n) from r"
    db = sqlite3.connect(":memory:")
    budget = anki_collection._Budget(1_000_000)
    anki_collection._limit(db, budget)
    with pytest.raises(sqlite3.OperationalError):
        db.execute(endless).fetchall()
    assert budget.spent
    with pytest.raises(sqlite3.DataError):  # and no value beyond MAX_VALUE_BYTES is built
        db.execute("select zeroblob(1000000000)").fetchall()
    db.close()

    def endless_read(db: sqlite3.Connection) -> None:
        db.execute(endless).fetchall()

    monkeypatch.setattr(anki_collection, "_read", endless_read)
    with pytest.raises(CollectionError, match="far more work than its size"):
        read_collection(crafted(base_collection, tmp_path))


@pytest.mark.parametrize(
    "config",
    ["1000000000", "-1", "3.5", "'a text'", "randomblob(2000000)"],
)
def test_a_note_type_configuration_that_is_no_protobuf_is_refused_fast(
    base_collection, tmp_path, config
):
    collection = crafted(base_collection, tmp_path, f"update notetypes set config = {config}")
    with pytest.raises(CollectionError, match="configuration is not a protobuf message"):
        read_collection(collection)


@pytest.mark.parametrize(
    "marker", [b"PK\x05\x06" + bytes(18), b"PK\x03\x04" * 8, b"PK\x05\x06" * 200]
)
def test_zip_looking_bytes_in_a_note_do_not_make_a_collection_a_zip(
    base_collection, tmp_path, marker
):
    path = crafted(base_collection, tmp_path)
    db = sqlite3.connect(path)
    db.execute("update notes set flds = ? where id = (select max(id) from notes)", (marker,))
    db.commit()
    db.close()
    # The end-of-archive record near the file's end is what a zip reader looks for.
    with path.open("ab") as tail:
        tail.write(b"")
    collection = read_collection(path)
    assert len(collection.notes) == 2


@pytest.mark.parametrize(
    ("first_bytes", "message"),
    [
        (b"\x00" * 64, "neither a SQLite database"),
        (b"junk" + b"PK\x05\x06" + bytes(18), "neither a SQLite database"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "is not an Anki collection"),
    ],
)
def test_the_format_is_decided_by_the_first_bytes(tmp_path, first_bytes, message):
    path = tmp_path / "collection.anki2"
    path.write_bytes(first_bytes)
    with pytest.raises(CollectionError, match=message):
        read_collection(path)


def _colpkg(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return path


def _zstd_zeros(size: int, declare: bool) -> bytes:
    """zstd of a SQLite header and `size` zero bytes, its size declared or not."""
    out = io.BytesIO()
    compressor = zstandard.ZstdCompressor(write_content_size=declare)
    with compressor.stream_writer(out, size=size + 16 if declare else -1, closefd=False) as writer:
        writer.write(b"SQLite format 3\x00")
        for _ in range(size >> 20):
            writer.write(bytes(1 << 20))
    return out.getvalue()


class _Counting:
    def __init__(self, target) -> None:  # type: ignore[no-untyped-def]
        self.target = target
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        return self.target.write(data)


@pytest.mark.parametrize(
    ("name", "declare"),
    [
        ("collection.anki21b", True),
        ("collection.anki21b", False),
        ("collection.anki21", True),
        ("collection.anki2", True),
    ],
)
def test_a_backup_never_unpacks_beyond_its_bound(tmp_path, monkeypatch, name, declare):
    monkeypatch.setattr(anki_collection, "MIN_UNPACK_BYTES", 1 << 20)
    monkeypatch.setattr(anki_collection.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    zeros = 32 << 20
    data = (
        _zstd_zeros(zeros, declare) if name.endswith("b") else b"SQLite format 3\x00" + bytes(zeros)
    )
    backup = _colpkg(tmp_path / "bomb.colpkg", name, data)
    limit = anki_collection._unpack_limit(backup.stat().st_size)
    assert limit < zeros
    written: list[_Counting] = []
    copy = anki_collection._copy_limited

    def counted(source, target, bound, path):  # type: ignore[no-untyped-def]
        written.append(_Counting(target))
        return copy(source, written[-1], bound, path)

    monkeypatch.setattr(anki_collection, "_copy_limited", counted)
    with pytest.raises(CollectionError, match=r"implausibly large|unpacks to more than"):
        read_collection(backup)
    assert all(w.written <= limit for w in written)
    if declare:  # the archive or the frame says its size: refused before a byte is written
        assert all(w.written == 0 for w in written)
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("collection.anki21b", b"not zstd at all", "not zstd-compressed"),
        ("collection.anki21b", zstandard.ZstdCompressor().compress(b"x" * 100), "no SQLite"),
        ("collection.anki21", b"plain junk", "no SQLite"),
    ],
)
def test_a_backups_collection_must_be_what_its_name_says(tmp_path, name, data, message):
    with pytest.raises(CollectionError, match=message):
        read_collection(_colpkg(tmp_path / "b.colpkg", name, data))


def test_a_valid_backup_still_reads(base_collection, tmp_path):
    data = zstandard.ZstdCompressor().compress(base_collection.read_bytes())
    collection = read_collection(_colpkg(tmp_path / "b.colpkg", "collection.anki21b", data))
    assert len(collection.notes) == 2


# ---------------------------------------------------------------- signals


@pytest.fixture(scope="module")
def big_collection(base_collection, tmp_path_factory) -> Path:
    """A valid collection with 200 MB more in a table adopt never reads: copying takes time."""
    where = tmp_path_factory.mktemp("big")
    path = crafted(base_collection, where, "create table padding (data blob)")
    db = sqlite3.connect(path)
    for _ in range(200):
        db.execute("insert into padding values (randomblob(1000000))")
    db.commit()
    db.close()
    return path


def _copies(tmp: Path) -> list[Path]:
    return list(tmp.glob("ankigen-adopt-*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals as on Linux")
def test_no_copy_of_the_collection_outlives_a_signal(big_collection, tmp_path):
    collection = big_collection
    vault = write_vault(tmp_path / "v", {"a.md": "START\nBasic\nFront: q\nBack: a\nEND\n"})
    stopped = 0
    for attempt, (signum, delay) in enumerate(
        [
            (signal.SIGTERM, 0.0),
            (signal.SIGINT, 0.0),
            (signal.SIGHUP, 0.0),
            (signal.SIGTERM, 0.2),
            (signal.SIGINT, 0.5),
        ]
    ):
        tmp = tmp_path / f"tmp{attempt}"
        tmp.mkdir()
        process = subprocess.Popen(
            [sys.executable, "-m", "ankigen", "adopt", str(vault), "--collection", str(collection)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "TMPDIR": str(tmp)},
        )
        deadline = time.monotonic() + WALL_CLOCK
        while not _copies(tmp) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        process.send_signal(signum)
        _, err = process.communicate(timeout=WALL_CLOCK)
        if process.returncode == 0 or (process.returncode == -signum and not err):
            # Done before the signal came, or done and Python finishing (it puts the default
            # handlers back then): either way no copy may be left.
            assert _copies(tmp) == []
            continue
        stopped += 1
        assert process.returncode == 130, err
        # The last line says so (what adopt printed before the signal may stand above it).
        assert err.endswith("ankigen adopt: interrupted\n"), err
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert _copies(tmp) == []
    assert stopped >= 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals as on Linux")
def test_a_copy_left_by_sigkill_goes_at_the_next_run(big_collection, tmp_path):
    collection = big_collection
    vault = write_vault(tmp_path / "v", {"a.md": "x"})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "ankigen", "adopt", str(vault), "--collection", str(collection)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    deadline = time.monotonic() + WALL_CLOCK
    while not _copies(tmp) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.kill()
    process.wait(timeout=WALL_CLOCK)
    assert _copies(tmp)  # SIGKILL cannot be caught
    other = tmp / "ankigen-adopt-1-alive"  # a live process's copy (pid 1) is left alone
    other.mkdir()
    result = adopt_cli(vault, tmp_path / "missing.anki2", tmp)
    assert result.returncode == 1
    assert _copies(tmp) == [other]


class _Trickle:
    """A stream that hands out a few bytes per read, as a decompressor may."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        piece, self.data = self.data[:3], self.data[3:]
        return piece


@pytest.mark.parametrize(
    ("data", "accepted"),
    [
        (b"SQLite format 3\x00rest of the file", True),
        (b"SQLite format 3\x00", True),
        (b"SQLite form", False),  # too short to be a database
        (b"SQLite format 4\x00rest", False),
        (b"", False),
    ],
)
def test_the_unpacked_collection_is_checked_however_the_reads_fall(tmp_path, data, accepted):
    target = io.BytesIO()
    copy = anki_collection._copy_limited
    if accepted:
        copy(_Trickle(data), target, 1 << 20, tmp_path / "b.colpkg")
        assert target.getvalue() == data
    else:
        with pytest.raises(CollectionError, match="holds no SQLite collection"):
            copy(_Trickle(data), target, 1 << 20, tmp_path / "b.colpkg")
