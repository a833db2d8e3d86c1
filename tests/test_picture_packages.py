"""Pictures through the real build and into a real Anki collection: every fast path of
images.py (kept PNG and JPEG, recompressed PNG, scaled PNG written unfiltered or with Pillow's
filters, a PNG turned by EXIF after its pixel data) arrives stored, whole, showing what Pillow
shows for the original (scaled to the limit where it was wider)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

from ankiutil import load, media_problems
from PIL import Image, ImageDraw, ImageOps
from test_images_deflate import turned, with_chunk_before_iend
from test_images_pass_through import drawing, jpeg, png

REPO = Path(__file__).resolve().parents[1]


def gradient(size: tuple[int, int]) -> Image.Image:
    """Smooth colour: Pillow's row filters deflate it far better than unfiltered rows."""
    red = Image.linear_gradient("L").resize(size)
    green = Image.linear_gradient("L").rotate(90).resize(size)
    return Image.merge("RGB", (red, green, Image.new("L", size, 90)))


def text_screen(size: tuple[int, int]) -> Image.Image:
    """Lines of small text on a flat background: unfiltered rows deflate as well."""
    image = Image.new("RGB", size, (246, 248, 250))
    draw = ImageDraw.Draw(image)
    for top in range(10, size[1] - 12, 14):
        words = "instance volume snapshot bucket policy role subnet " * 12
        draw.text((8 + top % 40, top), words, fill=(36, 41, 47))
    return image


def pictures() -> dict[str, bytes]:
    upright = png(drawing(5, (200, 120), "RGB"), 1)
    return {
        "fast.png": png(drawing(1, (900, 500), "RGB"), 1),
        "default.png": png(drawing(2, (700, 400), "RGBA"), 6),
        "wide.png": png(drawing(3, (2400, 300), "RGB"), 1),
        "wide text.png": png(text_screen((2400, 300)), 1),
        "wide gradient.png": png(gradient((2000, 200)), 6),
        "photo.jpg": jpeg(drawing(4, (640, 480), "RGB"), 85),
        "turned.png": with_chunk_before_iend(
            upright, b"eXIf", turned(6).tobytes().removeprefix(b"Exif\x00\x00")
        ),
    }


def shown(data: bytes, max_width: int = 1600) -> tuple[tuple[int, int], bytes]:
    """The picture as Pillow shows it, upright, scaled to the width limit, as RGBA pixels."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        if upright.width > max_width:
            height = round(upright.height * max_width / upright.width)
            upright = upright.resize((max_width, height), Image.Resampling.LANCZOS)
        rgba = upright.convert("RGBA")
        return rgba.size, rgba.tobytes()


def test_the_scaled_pictures_take_both_row_writers() -> None:
    from ankigen.images import _unfiltered_is_enough

    def scaled(name: str) -> Image.Image:
        with Image.open(io.BytesIO(pictures()[name])) as image:
            return image.resize((1600, round(image.height * 1600 / image.width)))

    assert _unfiltered_is_enough(scaled("wide text.png"))
    assert not _unfiltered_is_enough(scaled("wide gradient.png"))


def test_every_picture_path_imports_into_anki_stored_and_shown_as_pillow_shows_it(
    tmp_path: Path,
) -> None:
    vault = tmp_path / "vault"
    (vault / ".obsidian").mkdir(parents=True)
    (vault / ".obsidian" / "app.json").write_text('{"attachmentFolderPath": "attachments"}')
    (vault / "attachments").mkdir()
    (vault / "Screens").mkdir()
    cards = []
    for index, (name, data) in enumerate(pictures().items()):
        (vault / "attachments" / name).write_bytes(data)
        cards.append(f"#Question What is picture {index}?\nAnswer:\n![[{name}]]\n")
    (vault / "Screens" / "Pictures.md").write_text("# Pictures\n\n" + "\n".join(cards))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ankigen", "build", str(vault), "-o", str(out)]
    command += ["--offline", "--cache-dir", str(tmp_path / "cache"), "-q"]
    subprocess.run(command, check=True, cwd=REPO)
    (package,) = out.glob("*.apkg")
    with zipfile.ZipFile(package) as archive:
        media = [info for info in archive.infolist() if info.filename.isdigit()]
        assert len(media) == len(pictures())
        assert {info.compress_type for info in media} == {zipfile.ZIP_STORED}
        packaged = sorted(archive.read(info) for info in media)

    col = load(tmp_path, package)
    try:
        assert media_problems(col) == ([], [])
        folder = Path(col.media.dir())
        imported = sorted(path.read_bytes() for path in folder.iterdir())
        assert imported == packaged
        wanted = sorted(shown(data) for data in pictures().values())
        assert sorted(shown(data) for data in imported) == wanted
        for data in imported:
            with Image.open(io.BytesIO(data)) as image:
                assert image.getexif().get(0x0112, 1) == 1
    finally:
        col.close()
