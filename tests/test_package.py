"""The package writer: reproducible bytes, what Anki shows after import, atomic writes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from ankiutil import load, media_problems, notes

from ankigen.package import (
    ASSETS,
    MODEL_ID,
    ZIP_DATE,
    deck_id,
    load_card_model,
    package_bytes,
    write_package,
)
from ankigen.records import AnkiNote, DeckPackage, MediaFile

CREATED = 1_700_000_000
REPO = Path(__file__).resolve().parent.parent
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">' + b"<g/>" * 50 + b"</svg>"


def make_note(n: int, **overrides: object) -> AnkiNote:
    values: dict = {
        "guid": f"guid-{n:03d}",
        "fields": (
            f"<p>Question {n}?</p>",
            f"<p>Answer {n}</p>",
            f"AMI › Details {n}",
            "" if n % 2 else f'<a href="https://example.org/{n}">Guide {n}</a>',
            "",
            f'<a href="obsidian://open?file=AMI">AMI.md:{n}</a>',
        ),
        "tags": ("aws", "exam::tip") if n % 2 else ("aws",),
        "mod": 1_650_000_000 + n,
        "source": f"AWS/AMI.md:{n}",
    }
    values.update(overrides)
    return AnkiNote(**values)


def sample_package(**overrides: object) -> DeckPackage:
    # GUIDs not in card order, so a test can tell card order from GUID order.
    values: dict = {
        "deck": "AWS::Compute",
        "filename": "AWS-Compute.apkg",
        "notes": tuple(make_note(n) for n in (3, 1, 4, 0, 2)),
        "media": (),
    }
    values.update(overrides)
    return DeckPackage(**values)


def with_picture() -> DeckPackage:
    note = make_note(7, fields=("<p>Pic?</p>", '<img src="ankigen-0001.png">', "", "", "", ""))
    media = (MediaFile("ankigen-0001.png", PNG), MediaFile("ankigen-diagram.svg", SVG))
    svg_note = make_note(8, fields=("Q", '<img src="ankigen-diagram.svg">', "", "", "", ""))
    return sample_package(notes=(note, svg_note), media=media[::-1])


# ---------------------------------------------------------------- reproducibility


def test_same_input_gives_same_bytes(tmp_path: Path) -> None:
    first = package_bytes(with_picture(), created=CREATED)
    assert package_bytes(with_picture(), created=CREATED) == first
    path = write_package(with_picture(), tmp_path, created=CREATED)
    assert path.read_bytes() == first
    # ... and the bytes do depend on the input.
    assert package_bytes(with_picture(), created=CREATED + 1) != first
    changed = with_picture()
    changed = DeckPackage(changed.deck, changed.filename, changed.notes[::-1], changed.media)
    assert package_bytes(changed, created=CREATED) != first


def test_same_bytes_across_processes_and_hash_seeds() -> None:
    script = textwrap.dedent(
        """
        import hashlib, sys
        sys.path[:0] = [sys.argv[1]]
        import test_package as t
        data = t.package_bytes(t.with_picture(), created=t.CREATED)
        print(hashlib.sha256(data).hexdigest())
        """
    )
    digests = set()
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script, str(REPO / "tests")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        digests.add(out.stdout.strip())
    here = hashlib.sha256(package_bytes(with_picture(), created=CREATED)).hexdigest()
    assert digests == {here}


def test_zip_layout_is_fixed(tmp_path: Path) -> None:
    path = write_package(with_picture(), tmp_path, created=CREATED)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["collection.anki2", "media", "0", "1"]
        assert {i.date_time for i in infos} == {ZIP_DATE}
        # Media numbered by sorted name.
        assert archive.read("media") == b'{"0": "ankigen-0001.png", "1": "ankigen-diagram.svg"}'
        assert archive.read("0") == PNG
        assert archive.getinfo("0").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("1").compress_type == zipfile.ZIP_DEFLATED


def test_ids_are_stable_and_fit_anki() -> None:
    # Changing these would make Anki see a new note type / deck: they must never change.
    assert MODEL_ID == 4664894519638227
    assert deck_id("AWS::Compute") == 8113633780543394
    assert deck_id("AWS") != deck_id("AWS::Compute")
    for value in (MODEL_ID, deck_id("AWS"), deck_id("")):
        assert 1 < value < 2**53


# ---------------------------------------------------------------- what Anki shows


def test_import_shows_notes_in_order_in_nested_deck(tmp_path: Path) -> None:
    pkg = sample_package()
    col = load(tmp_path, write_package(pkg, tmp_path, created=CREATED))
    try:
        imported = notes(col)
        assert [n.guid for n in imported] == [n.guid for n in pkg.notes]  # card order
        assert {d for n in imported for d in n.decks} == {"AWS::Compute"}
        assert "AWS" in {d.name for d in col.decks.all_names_and_ids()}
        first = imported[0]
        source = pkg.notes[0]
        assert list(first.fields) == [
            "Question",
            "Answer",
            "Context",
            "See",
            "References",
            "Source",
        ]
        assert tuple(first.fields.values()) == source.fields
        assert sorted(first.tags) == sorted(source.tags)
        assert first.mod == source.mod
        css_marker = "--ankigen-fg"
        assert "Question 3?" in first.question_html
        assert "AMI › Details 3" in first.question_html
        assert css_marker in first.question_html
        assert "Answer 3" not in first.question_html
        assert "Answer 3" in first.answer_html
        assert "Question 3?" in first.answer_html
        assert 'id="answer"' in first.answer_html or "id=answer" in first.answer_html
        assert "AMI.md:3" in first.answer_html
        # n=3 has no See link: its label must not show; n=4 has one.
        assert ">See<" not in first.answer_html
        with_see = next(n for n in imported if n.guid == "guid-004")
        assert ">See<" in with_see.answer_html
        assert "Guide 4" in with_see.answer_html
        assert ">References<" not in with_see.answer_html
    finally:
        col.close()


def test_media_arrives_in_anki(tmp_path: Path) -> None:
    col = load(tmp_path, write_package(with_picture(), tmp_path, created=CREATED))
    try:
        assert col.media.have("ankigen-0001.png")
        assert col.media.have("ankigen-diagram.svg")
        media_dir = Path(col.media.dir())
        assert (media_dir / "ankigen-0001.png").read_bytes() == PNG
        assert media_problems(col) == ([], [])
    finally:
        col.close()


def copy_assets(tmp_path: Path) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("front.html", "back.html", "card.css"):
        (assets / name).write_text((ASSETS / name).read_text(encoding="utf-8"), encoding="utf-8")
    return assets


def test_model_css_is_card_css_then_markdown_css(tmp_path: Path) -> None:
    assets = copy_assets(tmp_path)
    assert "ankigen-md" not in load_card_model(assets).css
    (assets / "markdown.css").write_text(".ankigen-md { color: red }", encoding="utf-8")
    css = load_card_model(assets).css
    assert css.index("--ankigen-fg") < css.index(".ankigen-md")


def test_css_covers_night_mode_of_every_client() -> None:
    css = load_card_model().css
    assert ".nightMode" in css  # desktop, AnkiMobile
    assert ".night_mode" in css  # AnkiDroid


def test_newer_model_mod_updates_templates_in_anki(tmp_path: Path) -> None:
    assets = copy_assets(tmp_path)
    old = load_card_model(assets)
    pkg = sample_package()
    v1 = tmp_path / "v1"
    v1.mkdir()
    write_package(pkg, v1, created=CREATED, model_mod=CREATED, model=old)
    (assets / "card.css").write_text(old.css + "\n.v2-marker { color: red }", encoding="utf-8")
    new = load_card_model(assets)
    assert new.fingerprint != old.fingerprint
    v2 = tmp_path / "v2"
    v2.mkdir()
    write_package(pkg, v2, created=CREATED, model_mod=CREATED + 1, model=new)
    col = load(tmp_path, v1 / pkg.filename, v2 / pkg.filename)
    try:
        assert len(col.models.all_names_and_ids()) >= 1
        assert ".v2-marker" in col.models.get(MODEL_ID)["css"]
        assert ".v2-marker" in notes(col)[0].question_html
        assert len(notes(col)) == len(pkg.notes)
    finally:
        col.close()


# ---------------------------------------------------------------- atomic writes


class Exploding:
    """Media whose data cannot be read: the write fails half-way through the zip."""

    name = "ankigen-zz.bin"

    @property
    def data(self) -> bytes:
        raise OSError("disk on fire")


def test_failed_write_keeps_old_package_and_leaves_no_temp(tmp_path: Path) -> None:
    old = write_package(sample_package(), tmp_path, created=CREATED)
    before = old.read_bytes()
    broken = sample_package(media=(MediaFile("ankigen-a.txt", b"a"), Exploding()))
    with pytest.raises(OSError, match="disk on fire"):
        write_package(broken, tmp_path, created=CREATED + 5)
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AWS-Compute.apkg"]


KILLED_WRITER = """
import sys, time
sys.path[:0] = [sys.argv[1]]
from pathlib import Path
import test_package as t
from ankigen.records import MediaFile
from ankigen.package import write_package

class Slow:
    name = "ankigen-slow.bin"
    @property
    def data(self):
        time.sleep(60)  # the parent kills us while we wait here
        return b""

big = tuple(MediaFile(f"ankigen-{n:04d}.png", bytes([n % 251]) * 200_000) for n in range(40))
write_package(t.sample_package(media=(*big, Slow())), Path(sys.argv[2]), created=t.CREATED + 9)
"""


def _temporary(folder: Path, pid: int) -> Path | None:
    found = list(folder.glob(f".ankigen-tmp-{pid}-*"))
    return found[0] if found else None


def test_killed_write_keeps_old_package_and_next_write_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    old = write_package(sample_package(), out, created=CREATED)
    before = old.read_bytes()
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(REPO / "tests"), str(out)], cwd=REPO
    )
    try:
        deadline = time.monotonic() + 60
        # Wait until the 40 big media files are in the temp file (the writer then sleeps).
        while not (temp := _temporary(out, writer.pid)) or temp.stat().st_size < 8_000_000:
            assert writer.poll() is None, "writer ended before it could be killed"
            assert time.monotonic() < deadline, "writer never got going"
            time.sleep(0.05)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert old.read_bytes() == before
    col = load(tmp_path, old)
    try:
        assert len(notes(col)) == len(sample_package().notes)
    finally:
        col.close()
    # A kill leaves the temp file; the next write of this package removes it.
    assert temp.exists()
    write_package(sample_package(), out, created=CREATED)
    assert sorted(p.name for p in out.iterdir()) == ["AWS-Compute.apkg"]
