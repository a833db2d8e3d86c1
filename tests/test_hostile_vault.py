"""Hostile vaults: links, loops, pipes, odd names and odd bytes cost only themselves.

Each case runs the real CLI under a wall-clock guard, checks the exit code and the message,
that nothing outside the output folder (and the vault's lock file) changed, and that Anki
imports every package with every good card."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from conftest import write_vault
from hostile import GOOD_NOTE, cli, import_all, questions, snapshot, text
from PIL import Image
from test_build import png


def _build(tmp_path: Path, vault: Path, *args: str):
    out = tmp_path / "out"
    before = snapshot(tmp_path, out, tmp_path / "cache", vault / "ankigen.lock")
    result = cli(vault, out, *args)
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert snapshot(tmp_path, out, tmp_path / "cache", vault / "ankigen.lock") == before
    return result, out


def test_symbolic_link_loops_cost_only_themselves(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {"A/good.md": GOOD_NOTE, "A/pic.md": "#Question Pic?\nAnswer: ![[self.png]]\n"},
    )
    os.symlink("self", vault / "A" / "self")  # a link to itself
    os.symlink("y", vault / "A" / "x")  # two links pointing at each other
    os.symlink("x", vault / "A" / "y")
    os.symlink("self.png", vault / "A" / "self.png")  # a picture linked to itself
    os.symlink(".", vault / "A" / "here")  # a folder link back to its own folder
    os.symlink("../..", vault / "A" / "up")  # a folder link to the vault's parent
    result, out = _build(tmp_path, vault)
    assert result.returncode == 0, result.stderr
    for name in ("A/self", "A/x", "A/y", "A/self.png"):
        assert f"{name}:0: warning: skipped: symbolic link loop" in result.stderr
    assert "A/pic.md:2: warning" in result.stderr
    assert questions(import_all(tmp_path, out)) == ["Pic?", "What stays?"]


def test_named_pipes_are_never_read(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {"A/good.md": GOOD_NOTE, "A/pic.md": "#Question Pic?\nAnswer: ![[pipe.png]]\n"},
    )
    os.mkfifo(vault / "A" / "pipe.md")
    os.mkfifo(vault / "A" / "pipe.png")
    os.mkfifo(vault / ".obsidian-pipe.md")  # hidden: not even looked at
    (vault / ".obsidian").mkdir()
    os.mkfifo(vault / ".obsidian" / "app.json")
    plugin = vault / ".obsidian" / "plugins" / "obsidian-spaced-repetition"
    plugin.mkdir(parents=True)
    os.mkfifo(plugin / "data.json")
    result, out = _build(tmp_path, vault)
    assert result.returncode == 0, result.stderr
    assert "A/pipe.md:0: warning: skipped: not a regular file" in result.stderr
    assert "A/pipe.png:0: warning: skipped: not a regular file" in result.stderr
    assert ".obsidian/app.json:0: warning: setting ignored" in result.stderr
    assert f"{plugin.relative_to(vault)}/data.json:1: warning: plugin settings ignored" in (
        result.stderr
    )
    assert "A/pic.md:2: warning" in result.stderr
    assert questions(import_all(tmp_path, out)) == ["Pic?", "What stays?"]


def test_a_pipe_for_the_adopted_note_types_is_an_error_not_a_hang(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/good.md": GOOD_NOTE})
    os.mkfifo(vault / "ankigen.adopted")
    result, out = _build(tmp_path, vault)
    assert result.returncode == 1  # adopted notes would come in as duplicates: the user must know
    assert "ankigen.adopted:0: error: cannot read: not a regular file" in result.stderr
    assert questions(import_all(tmp_path, out)) == ["What stays?"]


def test_a_linked_folder_inside_the_vault_keeps_each_folder_in_its_own_deck(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {"A/a.md": "#Question In A?\nAnswer: yes\n", "B/b.md": "#Question In B?\nAnswer: yes\n"},
    )
    os.symlink("../B", vault / "A" / "link")  # walked before B: it used to take B's cards
    result, out = _build(tmp_path, vault)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.apkg")) == ["A.apkg", "B.apkg"]
    decks = {text(n.fields["Question"]): n.decks for n in import_all(tmp_path, out)}
    assert decks == {"In A?": ["A"], "In B?": ["B"]}


def test_a_folder_name_of_250_characters_still_gets_its_package(tmp_path):
    long = "x" * 250
    vault = write_vault(
        tmp_path / "v", {f"{long}/a.md": GOOD_NOTE, f"{long}/{'y' * 250}/b.md": GOOD_NOTE}
    )
    result, out = _build(tmp_path, vault)
    assert result.returncode == 0, result.stderr
    names = [p.name for p in out.glob("*.apkg")]
    assert len(names) == 2 and all(len(name) <= 255 for name in names)
    notes = import_all(tmp_path, out)
    assert sorted(n.decks[0] for n in notes) == [long, f"{long}::{'y' * 250}"]
    assert not list(out.glob(".ankigen-tmp-*"))


def test_control_characters_in_text_and_names_do_not_break_the_package(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            "A\x01B/we\x1fird\x7f.md": (
                "---\ntags: [ok\x1ftag]\n---\n"
                "#Question Field\x1fseparator\x01 and \x7fdelete?\n"
                "Answer: a\x1fb \x0bc\n"
            ),
            "A\x01B/good.md": GOOD_NOTE,
        },
    )
    result, out = _build(tmp_path, vault)
    assert result.returncode == 0, result.stderr
    notes = import_all(tmp_path, out)
    assert len(notes) == 2
    for note in notes:
        assert len(note.fields) == 6
        for value in (*note.fields.values(), *note.tags, *note.decks):
            assert not any(ord(c) < 32 and c not in "\t\n\r" for c in value), repr(value)
    weird = next(n for n in notes if "separator" in n.fields["Question"])
    assert "Fieldseparator" in weird.fields["Question"]
    assert "we" in weird.fields["Source"] and "ird" in weird.fields["Source"]


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_message(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/good.md": GOOD_NOTE})
    (vault / "A").joinpath(os.fsdecode(b"caf\xe9.md")).write_text(GOOD_NOTE)
    (vault / "A").joinpath(os.fsdecode(b"pic\xff.png")).write_bytes(png())
    result, out = _build(tmp_path, vault)
    assert result.returncode == 0, result.stderr
    assert "A/caf\\udce9.md:0: warning: skipped: its name is not valid UTF-8" in result.stderr
    assert "A/pic\\udcff.png:0: warning" in result.stderr
    assert questions(import_all(tmp_path, out)) == ["What stays?"]


def test_a_broken_obsidian_setting_is_a_warning_naming_its_file(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            "A/good.md": GOOD_NOTE,
            ".obsidian/app.json": '{"attachmentFolderPath": "Files",',
            ".obsidian/templates.json": "[1, 2]",
            ".obsidian/plugins/templater-obsidian/data.json": b"\xff\xfe{}",
        },
    )
    result, out = _build(tmp_path, vault)
    assert result.returncode == 0, result.stderr
    assert ".obsidian/app.json:0: warning: setting ignored: not valid JSON" in result.stderr
    assert ".obsidian/templates.json:0: warning: setting ignored: not a JSON object" in (
        result.stderr
    )
    assert ".obsidian/plugins/templater-obsidian/data.json:0: warning" in result.stderr
    assert questions(import_all(tmp_path, out)) == ["What stays?"]


def _colour(data: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").getpixel((0, 0))


def test_attachment_folder_next_to_the_note_through_real_discovery(tmp_path):
    red, blue = (200, 0, 0), (0, 0, 200)
    vault = write_vault(
        tmp_path / "v",
        {
            ".obsidian/app.json": json.dumps({"attachmentFolderPath": "./files"}),
            "A/a.md": "#Question Which picture?\nAnswer: ![[pic.png]]\n",
            "0ld/pic.png": png(color=blue),  # found first by name without the setting
            "A/files/pic.png": png(color=red),
        },
    )
    result, out = _build(tmp_path, vault)
    assert result.returncode == 0, result.stderr
    from ankiutil import load

    col = load(tmp_path, *out.glob("*.apkg"))
    try:
        media = Path(col.media.dir())
        (answer,) = [col.get_note(nid)["Answer"] for nid in col.find_notes("")]
        name = answer.split('src="', 1)[1].split('"', 1)[0]
        assert _colour((media / name).read_bytes()) == red
    finally:
        col.close()
