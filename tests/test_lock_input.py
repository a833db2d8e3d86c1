"""Issue 8, the lock's part: nothing read from ankigen.lock or SOURCE_DATE_EPOCH is trusted.

Through the real command line: a bad value costs its own entry (with a warning naming
ankigen.lock and its line), never the build, and is repaired by the next build, `--force` or not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import ankiutil
import pytest
from conftest import REPO, write_vault

from ankigen.identity.keys import guid_for
from ankigen.identity.lockfile import load_lock

NOTES = {
    "A/a.md": "#Q First?\nAnswer: one\n\n#Q Second?\nAnswer: two\n",
    "B/b.md": "#Q Third?\nAnswer: three\n",
}


def cli(vault: Path, tmp_path: Path, *args: str, env: dict | None = None):
    return subprocess.run(
        [
            *(sys.executable, str(REPO / "build_deck.py"), str(vault)),
            *("-o", str(tmp_path / "dist"), "--cache-dir", str(tmp_path / "cache"), "--offline"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def built_vault(tmp_path: Path) -> Path:
    vault = write_vault(tmp_path / "vault", NOTES)
    assert cli(vault, tmp_path).returncode == 0
    return vault


def all_guids(tmp_path: Path) -> list[str]:
    col = ankiutil.load(tmp_path, *sorted((tmp_path / "dist").glob("*.apkg")))
    try:
        return [n.guid for n in ankiutil.notes(col)]
    finally:
        col.close()


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize(
    "value", ["Infinity", "-Infinity", "NaN", "1e20", "100000000000000000000", "-5", '"12"', "true"]
)
@pytest.mark.parametrize("force", [False, True])
def test_a_bad_mod_costs_only_its_card_and_is_repaired(tmp_path, value, force):
    vault = built_vault(tmp_path)
    lock = vault / "ankigen.lock"
    text = lock.read_text(encoding="utf-8")
    bad = re.sub(r'"mod": \d+', f'"mod": {value}', text.split('"A/a.md"')[1], count=1)
    lock.write_text(text.split('"A/a.md"')[0] + '"A/a.md"' + bad, encoding="utf-8")
    line = (
        lock.read_text(encoding="utf-8")
        .splitlines()
        .index(next(row for row in lock.read_text(encoding="utf-8").splitlines() if value in row))
    )
    result = cli(vault, tmp_path, *(["--force"] if force else []))
    assert_clean(result)
    assert f"ankigen.lock:{line + 1}: warning: mod " in result.stderr
    assert "is not a time between 0 and" in result.stderr
    assert result.stderr.count("ankigen.lock") == 1
    assert len(all_guids(tmp_path)) == 3
    again = cli(vault, tmp_path, "--force")
    assert_clean(again)
    assert "ankigen.lock" not in again.stderr  # repaired for good
    assert load_lock(lock)[1] == ()


def test_a_bad_model_stamp_and_deleted_record_are_repaired(tmp_path):
    vault = built_vault(tmp_path)
    lock = vault / "ankigen.lock"
    data = json.loads(lock.read_text(encoding="utf-8"))
    data["model"]["mod"] = 10**20
    data["deleted"] = [{"guid": "x", "note": "A/a.md", "line": 1, "question": "q", "deck": "A"}]
    lock.write_text(json.dumps(data), encoding="utf-8")
    result = cli(vault, tmp_path)
    assert_clean(result)
    assert "the note type's stamp is not valid" in result.stderr
    assert "a deleted card's record is not valid" in result.stderr
    assert_clean(again := cli(vault, tmp_path))
    assert "ankigen.lock" not in again.stderr


@pytest.mark.parametrize("epoch", ["100000000000000000000", "1e20", "-1", "9" * 5000])
def test_source_date_epoch_out_of_range_is_ignored_with_a_warning(tmp_path, epoch):
    vault = write_vault(tmp_path / "vault", NOTES)
    result = cli(vault, tmp_path, env={"SOURCE_DATE_EPOCH": epoch})
    assert_clean(result)
    assert "SOURCE_DATE_EPOCH" in result.stderr and "ignored" in result.stderr
    assert len(all_guids(tmp_path)) == 3


def test_one_guid_used_by_several_cards_in_the_lock_is_repaired(tmp_path):
    vault = built_vault(tmp_path)
    lock = vault / "ankigen.lock"
    data = json.loads(lock.read_text(encoding="utf-8"))
    shared = data["notes"]["A/a.md"][0]["guid"]
    data["notes"]["A/a.md"][1]["guid"] = shared
    data["notes"]["B/b.md"][0]["guid"] = shared
    lock.write_text(json.dumps(data, indent=1), encoding="utf-8")
    result = cli(vault, tmp_path, "--force")
    assert_clean(result)
    assert f"GUID {shared!r} is used by several cards" in result.stderr
    guids = all_guids(tmp_path)
    assert len(guids) == len(set(guids)) == 3  # on import, no card vanished
    assert shared in guids


def test_a_new_card_never_takes_a_guid_another_note_holds(tmp_path):
    vault = write_vault(tmp_path / "vault", {"B/b.md": "#Q Third?\nAnswer: three\n"})
    assert cli(vault, tmp_path).returncode == 0
    lock = vault / "ankigen.lock"
    data = json.loads(lock.read_text(encoding="utf-8"))
    taken = guid_for("A/a.md", "First?")  # what a.md's first card would be
    data["notes"]["B/b.md"][0]["guid"] = taken
    lock.write_text(json.dumps(data, indent=1), encoding="utf-8")
    write_vault(vault, {"A/a.md": NOTES["A/a.md"]})
    result = cli(vault, tmp_path, "--force")
    assert_clean(result)
    assert "A/a.md:1: warning: GUID" in result.stderr and "B/b.md" in result.stderr
    guids = all_guids(tmp_path)
    assert len(guids) == len(set(guids)) == 3 and taken in guids


def test_a_lock_linked_out_of_the_vault_is_neither_read_nor_replaced(tmp_path):
    outside = tmp_path / "outside.lock"
    outside.write_text('{"secret": true}', encoding="utf-8")
    vault = write_vault(tmp_path / "vault", NOTES)
    (vault / "ankigen.lock").symlink_to(outside)
    result = cli(vault, tmp_path)
    assert_clean(result)
    assert "ankigen.lock:0: warning: is a symbolic link out of the vault" in result.stderr
    assert (vault / "ankigen.lock").is_symlink()
    assert outside.read_text(encoding="utf-8") == '{"secret": true}'
    assert len(all_guids(tmp_path)) == 3


def test_a_lock_linked_inside_the_vault_is_used_through_the_link(tmp_path):
    vault = write_vault(tmp_path / "vault", NOTES)
    (vault / "meta").mkdir()
    (vault / "ankigen.lock").symlink_to(vault / "meta" / "real.lock")
    assert_clean(cli(vault, tmp_path))
    assert (vault / "ankigen.lock").is_symlink()
    assert '"A/a.md"' in (vault / "meta" / "real.lock").read_text(encoding="utf-8")
    assert load_lock(vault / "ankigen.lock")[1] == ()


@pytest.mark.parametrize("kind", ["loop", "folder", "pipe"])
def test_a_lock_that_is_not_a_regular_file_is_left_alone(tmp_path, kind):
    vault = write_vault(tmp_path / "vault", NOTES)
    lock = vault / "ankigen.lock"
    if kind == "loop":
        lock.symlink_to(lock)
    elif kind == "folder":
        lock.mkdir()
    else:
        os.mkfifo(lock)
    result = cli(vault, tmp_path)
    assert_clean(result)
    assert "ankigen.lock:0: warning:" in result.stderr
    assert len(all_guids(tmp_path)) == 3
    assert lock.is_symlink() if kind == "loop" else not lock.is_file()


def test_text_from_the_lock_is_printed_escaped(tmp_path):
    vault = built_vault(tmp_path)
    lock = vault / "ankigen.lock"
    data = json.loads(lock.read_text(encoding="utf-8"))
    data["notes"]["Gone\x1b[2J.md"] = [entry("zz", 1_700_000_000) | {"question": "hi\x1b[31m"}]
    lock.write_text(json.dumps(data), encoding="utf-8")
    result = cli(vault, tmp_path)
    assert_clean(result)
    assert "\x1b" not in result.stdout + result.stderr
    assert "deleted: Gone\\x1b[2J.md hi\\x1b[31m" in result.stdout
    assert "\x1b" not in (tmp_path / "dist" / "ankigen-todo.txt").read_text(encoding="utf-8")


def entry(guid: str, mod: int) -> dict:
    return {"guid": guid, "question": "q", "content": "c", "answer": "a", "mod": mod}


@pytest.mark.parametrize("how", ["deleted", "older copy"])
def test_a_lock_replaced_by_hand_is_filled_again_without_force(tmp_path, how):
    vault = write_vault(tmp_path / "vault", {"A/a.md": NOTES["A/a.md"]})
    assert_clean(cli(vault, tmp_path))
    older = (vault / "ankigen.lock").read_bytes()  # A's cards only
    (vault / "B").mkdir()
    (vault / "B/b.md").write_text(NOTES["B/b.md"])
    assert_clean(cli(vault, tmp_path))
    full, _ = load_lock(vault / "ankigen.lock")
    if how == "deleted":
        (vault / "ankigen.lock").unlink()
    else:  # e.g. `git checkout` of an older lock; the output folder says nothing changed
        (vault / "ankigen.lock").write_bytes(older)
    assert_clean(cli(vault, tmp_path))
    again, _ = load_lock(vault / "ankigen.lock")
    guids = {rel: [e.guid for e in entries] for rel, entries in again.notes.items()}
    assert guids == {rel: [e.guid for e in entries] for rel, entries in full.notes.items()}
    assert set(guids) == {"A/a.md", "B/b.md"}
