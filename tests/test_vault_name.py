"""The vault's name (root deck, obsidian:// links) is recorded once in the lock, or chosen with
--vault-name: a clone under any folder name builds byte-identical packages (real CLI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, write_vault
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.discover import vault_name
from ankigen.identity.lockfile import (
    LOCK_FILENAME,
    Lock,
    lock_text,
    recorded_vault_name,
    vault_name_ok,
)

FILES = {
    "Root note.md": "#Question What sits at the vault's root?\nAnswer: The root deck.\n",
    "Cloud/EC2.md": "#Question What is an AMI?\nAnswer: A machine image.\n",
    "Cloud/Deep/S3.md": "#Q What is a bucket?\nAnswer: A container of objects.\n",
}
EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "30"))


def _build(vault: Path, out: Path, *args: str) -> str:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    result = subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _packages(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.apkg"))}


def _recorded(vault: Path) -> str:
    return json.loads((vault / LOCK_FILENAME).read_text(encoding="utf-8")).get("vault", "")


def test_a_clone_under_another_folder_name_builds_the_same_bytes(tmp_path: Path) -> None:
    home = write_vault(tmp_path / "Study Notes", FILES)
    _build(home, tmp_path / "out-home")
    assert _recorded(home) == "Study Notes"
    for name in ("notes", "checkout-1234", "Ünïcode vault"):
        clone = tmp_path / name
        shutil.copytree(home, clone)
        lock = (clone / LOCK_FILENAME).read_bytes()
        stdout = _build(clone, tmp_path / f"out-{name}", "-v")
        assert _packages(tmp_path / f"out-{name}") == _packages(tmp_path / "out-home")
        assert "moved" not in stdout and "ankigen::moved::" not in stdout
        assert "Change Deck" not in stdout
        assert "no card changed" in stdout
        assert (clone / LOCK_FILENAME).read_bytes() == lock  # nothing to record again


def test_root_deck_and_links_use_the_recorded_name(tmp_path: Path) -> None:
    import ankiutil

    home = write_vault(tmp_path / "Brain", FILES)
    _build(home, tmp_path / "first")
    clone = tmp_path / "ci-checkout"
    shutil.copytree(home, clone)
    _build(clone, tmp_path / "out")
    col = ankiutil.load(tmp_path, *sorted((tmp_path / "out").glob("*.apkg")))
    try:
        found = ankiutil.notes(col)
        decks = {deck for note in found for deck in note.decks}
        assert decks == {"Brain", "Cloud", "Cloud::Deep"}
        assert all("vault=Brain&" in note.fields["Source"] for note in found)
        assert not any("ci-checkout" in value for n in found for value in n.fields.values())
    finally:
        col.close()


def test_an_old_lock_records_the_folder_name_once(tmp_path: Path) -> None:
    home = write_vault(tmp_path / "Old", FILES)
    _build(home, tmp_path / "out")
    data = json.loads((home / LOCK_FILENAME).read_text(encoding="utf-8"))
    del data["vault"]  # a lock from before the name was recorded
    (home / LOCK_FILENAME).write_text(json.dumps(data), encoding="utf-8")
    _build(home, tmp_path / "out")
    assert _recorded(home) == "Old"
    clone = tmp_path / "New"
    shutil.copytree(home, clone)
    _build(clone, tmp_path / "out-clone")
    assert _packages(tmp_path / "out-clone") == _packages(tmp_path / "out")


def test_a_clone_with_a_lock_from_before_the_name_was_recorded(tmp_path: Path) -> None:
    home = write_vault(tmp_path / "Home", FILES)
    _build(home, tmp_path / "out-home")
    data = json.loads((home / LOCK_FILENAME).read_text(encoding="utf-8"))
    del data["vault"]  # an old lock: the root note's cards still say which deck they are in
    (home / LOCK_FILENAME).write_text(json.dumps(data), encoding="utf-8")
    clone = tmp_path / "checkout"
    shutil.copytree(home, clone)
    stdout = _build(clone, tmp_path / "out-clone")
    assert _recorded(clone) == "Home"
    assert "moved" not in stdout
    assert _packages(tmp_path / "out-clone") == _packages(tmp_path / "out-home")


def test_vault_name_option_sets_and_records_the_name(tmp_path: Path) -> None:
    home = write_vault(tmp_path / "folder", FILES)
    _build(home, tmp_path / "a", "--vault-name", "My Vault")
    assert _recorded(home) == "My Vault"
    _build(home, tmp_path / "b")  # later builds keep it without the option
    assert _packages(tmp_path / "a") == _packages(tmp_path / "b")
    assert "My Vault.apkg".replace(" ", "_") in _packages(tmp_path / "a")
    bad = subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), str(home), "--vault-name", "a/b"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--vault-name" in bad.stderr


def test_no_lock_takes_the_folder_name(tmp_path: Path) -> None:
    home = write_vault(tmp_path / "Here", FILES)
    (home / LOCK_FILENAME).write_text(lock_text(Lock(vault="Elsewhere")), encoding="utf-8")
    assert vault_name(home) == "Elsewhere"
    assert vault_name(home, lock=False) == "Here"
    assert vault_name(home, "Chosen") == "Chosen"


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(min_size=1, max_size=40).filter(vault_name_ok), st.booleans())
def test_recorded_name_round_trips(tmp_path_factory, name: str, first: bool) -> None:
    root = tmp_path_factory.mktemp("v")
    text = lock_text(Lock(vault=name))
    if first:  # written by hand at the top of the file: still found
        data = json.loads(text)
        text = json.dumps({"vault": data.pop("vault"), **data}, ensure_ascii=False)
    (root / LOCK_FILENAME).write_text(text, encoding="utf-8")
    assert recorded_vault_name(root) == name


def test_name_found_in_a_big_lock_and_never_from_a_pipe(tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    filler = ", ".join(f'"n{i}": "{"x" * 90}"' for i in range(3000))  # about 300 KB
    (root / LOCK_FILENAME).write_text(
        f'{{"vault": "Top \\"quoted\\" name", {filler}, "version": 1}}', encoding="utf-8"
    )
    assert recorded_vault_name(root) == 'Top "quoted" name'
    text = lock_text(Lock(vault="End"))
    (root / LOCK_FILENAME).write_text("{" + filler + "," + text[1:], encoding="utf-8")
    assert recorded_vault_name(root) == "End"
    (root / LOCK_FILENAME).unlink()
    os.mkfifo(root / LOCK_FILENAME)  # a pipe with no writer: no wait, no name
    assert recorded_vault_name(root) == ""
