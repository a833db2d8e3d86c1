"""atomic.py: whole-file writes under any final name, reads of regular files only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ankigen import atomic


def test_a_255_byte_name_is_written_and_no_temporary_stays(tmp_path):
    target = tmp_path / ("n" * 250 + ".apkg")
    atomic.write_bytes(target, b"data")
    atomic.write_text(target, "text")
    assert target.read_text() == "text"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "f"
    target.write_text("old")
    with pytest.raises(ZeroDivisionError), atomic.writer(target) as out:
        out.write(b"half")
        raise ZeroDivisionError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_temporaries_of_dead_processes_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    leftover = tmp_path / f"{atomic.TEMP_PREFIX}{dead.stdout.strip()}-0badc0de"
    leftover.write_bytes(b"half a package")
    mine = tmp_path / f"{atomic.TEMP_PREFIX}{os.getpid()}-00000000"  # in progress elsewhere
    mine.write_bytes(b"")
    atomic.write_bytes(tmp_path / "f", b"x")
    assert not leftover.exists() and mine.exists()


def test_a_link_at_the_destination_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("keep")
    (tmp_path / "out").mkdir()
    link = tmp_path / "out" / "state.json"
    link.symlink_to(outside)
    atomic.write_text(link, "new")
    assert outside.read_text() == "keep"
    assert not link.is_symlink() and link.read_text() == "new"


def test_reads_refuse_pipes_folders_and_big_files_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe")  # no writer: a plain open() would wait for ever
    with pytest.raises(atomic.NotRegularFile):
        atomic.read_regular(tmp_path / "pipe")
    with pytest.raises(atomic.NotRegularFile):
        atomic.read_regular(tmp_path)
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(ValueError):
        atomic.read_regular(tmp_path / "big", max_bytes=99)
    assert atomic.read_regular(tmp_path / "big", max_bytes=100) == b"x" * 100
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(OSError):
        atomic.read_regular(tmp_path / "loop")
