"""The output folder is ankigen's own, but anyone may have written to it: every record read back
(state, render cache) is checked, a bad one is dropped and rebuilt with a message, and nothing
outside the output folder, or not written by ankigen, is ever deleted."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import ankiutil
import pytest
from conftest import write_vault
from hostile import GOOD_NOTE, cli, import_all, questions, snapshot, text

NOTES = {
    "A/a.md": "#Question Alpha?\nAnswer: first\n\n#Question Beta?\nAnswer: **second**\n",
    "B/b.md": GOOD_NOTE,
}


def _state_path(out: Path) -> Path:
    return out / ".ankigen" / "state.json"


def _first_build(tmp_path: Path) -> tuple[Path, Path]:
    vault = write_vault(tmp_path / "v", NOTES)
    out = tmp_path / "out"
    result = cli(vault, out)
    assert result.returncode == 0, result.stderr
    return vault, out


def _rebuild(tmp_path: Path, vault: Path, out: Path, *args: str):
    before = snapshot(tmp_path, out, tmp_path / "cache", vault / "ankigen.lock")
    result = cli(vault, out, *args)
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert snapshot(tmp_path, out, tmp_path / "cache", vault / "ankigen.lock") == before
    return result


def _all_cards(tmp_path: Path, out: Path) -> None:
    assert questions(import_all(tmp_path, out)) == ["Alpha?", "Beta?", "What stays?"]


def _edit_state(out: Path, change) -> None:
    path = _state_path(out)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(
            lambda out: _state_path(out).write_bytes(b'{"format": 1, "\xff\xfe"'), id="bytes"
        ),
        pytest.param(lambda out: _state_path(out).write_text("[1, 2, 3]"), id="list"),
        pytest.param(lambda out: _state_path(out).write_text("{" * 100_000), id="deep"),
        pytest.param(
            lambda out: _edit_state(out, lambda d: d.update(folders=[1, 2])), id="folders-list"
        ),
        pytest.param(
            lambda out: _edit_state(out, lambda d: d.update(key=7)), id="key-not-a-string"
        ),
    ],
)
def test_a_state_file_that_does_not_parse_means_a_full_build_with_a_note(tmp_path, damage):
    vault, out = _first_build(tmp_path)
    damage(out)
    result = _rebuild(tmp_path, vault, out)
    assert result.returncode == 0, result.stderr
    assert "state.json" in result.stderr
    assert "(2 written, 0 unchanged)" in result.stdout
    _all_cards(tmp_path, out)
    again = _rebuild(tmp_path, vault, out)
    assert "(0 written, 2 unchanged)" in again.stdout and "warning" not in again.stderr


def _break_record(field: str, value):
    def change(data):
        record = data["folders"]["A"]
        if value is KeyError:
            del record[field]
        else:
            record[field] = value

    return change


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retry", KeyError),
        ("notes", KeyError),
        ("cards", "3"),
        ("cards", 10**30),
        ("notes", {"A/a.md": [1e400, 0, ""]}),
        ("notes", {"A/a.md": [10**30, 10**30, "x"]}),
        ("pictures", {"../../etc/passwd": [1, 1, ""]}),
        ("diagnostics", [["A/a.md", 1, "fatal", "x"]]),
        ("package", 5),
    ],
)
def test_a_bad_state_record_is_dropped_and_its_folder_built_again(tmp_path, field, value):
    vault, out = _first_build(tmp_path)
    # The edit must reach the package even though the record claims nothing changed.
    note = vault / "A" / "a.md"
    note.write_text(NOTES["A/a.md"].replace("first", "edited"))
    _edit_state(out, _break_record(field, value))
    result = _rebuild(tmp_path, vault, out)
    assert result.returncode == 0, result.stderr
    assert "1 record not valid, dropped; their folders are built again" in result.stderr
    notes = import_all(tmp_path, out)
    assert any("edited" in n.fields["Answer"] for n in notes)
    assert questions(notes) == ["Alpha?", "Beta?", "What stays?"]


@pytest.mark.parametrize("name", ["../victim.txt", "/ABS/victim.apkg", "victim.apkg", "link.apkg"])
def test_state_never_deletes_what_ankigen_did_not_write(tmp_path, name):
    vault, out = _first_build(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "victim.apkg").write_text("not a package, though named like one")
    (out / "link.apkg").symlink_to(shutil.copy(out / "A.apkg", tmp_path / "elsewhere.apkg"))
    name = name.replace("/ABS", str(tmp_path))
    record = json.loads(_state_path(out).read_text())["folders"]["B"]

    def add(data):
        data["folders"]["Gone"] = {**record, "package": name}

    _edit_state(out, add)
    result = _rebuild(tmp_path, vault, out)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "keep me"
    assert (out / "victim.apkg").read_text().startswith("not a package")
    assert (out / "link.apkg").is_symlink() and (tmp_path / "elsewhere.apkg").is_file()
    col = ankiutil.load(tmp_path, out / "A.apkg", out / "B.apkg")
    try:
        assert questions(ankiutil.notes(col)) == ["Alpha?", "Beta?", "What stays?"]
    finally:
        col.close()


def test_the_package_of_a_folder_gone_is_still_removed(tmp_path):
    vault, out = _first_build(tmp_path)
    shutil.rmtree(vault / "B")
    result = _rebuild(tmp_path, vault, out, "--verbose")
    assert result.returncode == 0, result.stderr
    assert "removed" in result.stdout and not (out / "B.apkg").exists()


def _rendered(out: Path) -> list[Path]:
    return sorted((out / ".ankigen").glob("rendered-*"))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda cache: b"\x00garbage", id="garbage"),
        pytest.param(lambda cache: b"(\xff\xff\xff\x7f", id="marshal-bomb"),
        pytest.param(lambda cache: b"[" * 100_000, id="deep"),
        pytest.param(lambda cache: b"\xff\xfe{}", id="not-utf8"),
        pytest.param(lambda cache: json.dumps([1, 2]).encode(), id="list"),
        pytest.param(lambda cache: json.dumps({k: 5 for k in cache}).encode(), id="wrong-types"),
        pytest.param(
            lambda cache: json.dumps(
                {k: '<script>alert(1)</script><p onclick="x()">pwned</p>' for k in cache}
            ).encode(),
            id="script",
        ),
    ],
)
def test_render_cache_records_are_checked_before_use(tmp_path, payload):
    vault, out = _first_build(tmp_path)
    for path in _rendered(out):  # the cache is compressed JSON: the payload is compressed too
        path.write_bytes(zlib.compress(payload(json.loads(zlib.decompress(path.read_bytes())))))
    # Folder A is built again (a new card): its unchanged fragments would come from the cache.
    (vault / "A" / "a.md").write_text(NOTES["A/a.md"] + "\n#Question Gamma?\nAnswer: third\n")
    result = _rebuild(tmp_path, vault, out)
    assert result.returncode == 0, result.stderr
    assert "render cache record" in result.stderr
    notes = import_all(tmp_path, out)
    assert questions(notes) == ["Alpha?", "Beta?", "Gamma?", "What stays?"]
    for note in notes:
        for value in note.fields.values():
            assert "pwned" not in value and "script" not in value and "onclick" not in value
    assert "<strong>second</strong>" in next(
        n.fields["Answer"] for n in notes if text(n.fields["Question"]) == "Beta?"
    )


def test_state_diagnostics_are_printed_escaped(tmp_path):
    vault, out = _first_build(tmp_path)

    def poison(data):
        data["folders"]["A"]["diagnostics"] = [
            ["A/a.md", 1, "warning", "question is empty\x1b[2J\x1b]0;owned\x07 fake\nankigen: 0"]
        ]

    _edit_state(out, poison)
    result = _rebuild(tmp_path, vault, out)
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert (
        "A/a.md:1: warning: question is empty\\x1b[2J\\x1b]0;owned\\x07 fake\\nankigen: 0 [AG204]"
        in (result.stderr.splitlines())
    )


def test_two_vaults_into_one_output_folder_keep_each_others_packages(tmp_path):
    first = write_vault(tmp_path / "first", {"X/x.md": "#Question From X?\nAnswer: x\n"})
    second = write_vault(tmp_path / "second", {"Y/y.md": "#Question From Y?\nAnswer: y\n"})
    out = tmp_path / "out"
    assert cli(first, out).returncode == 0
    result = _rebuild(tmp_path, second, out, "--verbose")
    assert result.returncode == 0, result.stderr
    assert f"was last built from another vault ({first.resolve()})" in result.stderr
    assert "removed" not in result.stdout
    assert sorted(p.name for p in out.glob("*.apkg")) == ["X.apkg", "Y.apkg"]
    assert questions(import_all(tmp_path, out)) == ["From X?", "From Y?"]
    # Back to the first vault: its package is rebuilt, the second's is left alone.
    back = _rebuild(tmp_path, first, out, "--verbose")
    assert f"another vault ({second.resolve()})" in back.stderr
    assert sorted(p.name for p in out.glob("*.apkg")) == ["X.apkg", "Y.apkg"]
    # And the same vault again: no message, nothing rebuilt.
    same = _rebuild(tmp_path, first, out)
    assert "another vault" not in same.stderr and "(0 written, 1 unchanged)" in same.stdout


def test_a_state_folder_linked_elsewhere_is_neither_read_nor_written(tmp_path):
    vault, out = _first_build(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(out / ".ankigen", elsewhere)  # the real state, with its cache files
    kept = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    (elsewhere / "rendered-victim.json").write_text("not ankigen's")
    (out / ".ankigen").symlink_to(elsewhere)
    result = cli(vault, out)
    assert result.returncode == 0, result.stderr
    assert "is not a folder (a link?)" in result.stderr
    assert (out / ".ankigen").is_symlink()
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir() if "victim" not in p.name} == kept
    assert (elsewhere / "rendered-victim.json").read_text() == "not ankigen's"
    _all_cards(tmp_path, out)
