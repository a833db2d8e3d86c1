"""The fast paths of images.py show what the slow ones show: PNG pixel data deflated by
zlib-ng (or zlib) instead of Pillow, and a PNG's orientation found without decoding it."""

from __future__ import annotations

import io
import os
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo
from test_images_pass_through import drawing, pixels, png

from ankigen import images
from ankigen.images import fit_image

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "60"))
MAX_WIDTH = 1600
MODES = ["RGB", "RGBA", "L", "P", "LA", "1", "I;16"]


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(name, payload) of every chunk."""
    found, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        found.append(
            (data[position + 4 : position + 8], data[position + 8 : position + 8 + length])
        )
        position += 12 + length
    return found


def with_chunk_before_iend(data: bytes, name: bytes, payload: bytes) -> bytes:
    """The PNG with one more chunk after its pixel data, where Pillow reads it only when it
    decodes the picture."""
    body = name + payload
    chunk = len(payload).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return data[:-12] + chunk + data[-12:]


def turned(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def expected(data: bytes) -> tuple[tuple[int, int], bytes]:
    """What the picture shows, from Pillow alone: the size upright and the pixels."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image.convert("RGBA"))
        return upright.size, upright.tobytes()


def placed(image: Image.Image, orientation: int, where: str) -> bytes:
    """A PNG whose orientation stands where `where` says (every place Pillow reads one)."""
    exif = turned(orientation).tobytes()
    if where == "eXIf chunk":
        return png(image, 1, exif=exif)
    if where == "eXIf after the pixels":
        return with_chunk_before_iend(png(image, 1), b"eXIf", exif.removeprefix(b"Exif\x00\x00"))
    info = PngInfo()
    if where == "raw profile text":
        info.add_text("Raw profile type exif", f"\nexif\n{len(exif):8d}\n{exif.hex()}")
    elif where == "compressed raw profile":
        info.add_text("Raw profile type exif", f"\nexif\n{len(exif):8d}\n{exif.hex()}", zip=True)
    elif where == "XMP":
        xmp = f'<x:xmpmeta><rdf:Description tiff:Orientation="{orientation}"/></x:xmpmeta>'
        info.add_itxt("XML:com.adobe.xmp", xmp)
    elif where == "text named exif":
        info.add_text("exif", exif.decode("latin-1"))
    else:  # a text that cannot turn it
        info.add_text("Comment", f"tiff:Orientation={orientation} exif, not in an EXIF field")
    return png(image, 1, pnginfo=info)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    width=st.integers(1, 300),
    height=st.integers(1, 200),
    orientation=st.integers(1, 8),
    where=st.sampled_from(
        [
            "eXIf chunk",
            "eXIf after the pixels",
            "raw profile text",
            "compressed raw profile",
            "XMP",
            "text named exif",
            "harmless text",
        ]
    ),
)
def test_a_png_is_shown_upright_wherever_its_orientation_stands(
    seed: int, width: int, height: int, orientation: int, where: str
) -> None:
    data = placed(drawing(seed, (width, height), "RGB"), orientation, where)
    size, shown = expected(data)
    for fitted in (fit_image(data, MAX_WIDTH), fit_image(data, MAX_WIDTH, pass_through=False)):
        assert (fitted.width, fitted.height) == size
        assert pixels(fitted.data)[0] == size
        assert pixels(fitted.data)[2] == shown
        with Image.open(io.BytesIO(fitted.data)) as out:
            assert out.getexif().get(0x0112, 1) == 1


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    width=st.integers(1, 2400),
    height=st.integers(1, 120),
    mode=st.sampled_from(MODES),
    transparent=st.booleans(),
    photo=st.booleans(),
)
def test_our_deflate_writes_what_pillow_writes_but_the_pixel_data(
    seed: int, width: int, height: int, mode: str, transparent: bool, photo: bool
) -> None:
    image = drawing(seed, (width, height), mode)
    if photo:  # noise: the rows as Pillow filters them deflate better than unfiltered
        noise = Image.effect_noise((width, height), 60).convert("L")
        image = Image.merge("RGB", (noise, image.convert("RGB").getchannel(1), noise))
    options = {"transparency": 0} if transparent and image.mode in ("P", "L") else {}
    data = png(image, 6, **options)
    ours = fit_image(data, MAX_WIDTH, pass_through=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(images, "PILLOW_PNG_ENCODE", True)
        pillows = fit_image(data, MAX_WIDTH, pass_through=False)
    assert (ours.ext, ours.width, ours.height) == (pillows.ext, pillows.width, pillows.height)
    assert pixels(ours.data) == pixels(pillows.data)
    # The same chunks in the same order (header, palette, transparency, profile): only the
    # pixel data differs, in its row filters and its deflate stream.
    assert [c for c in chunks(ours.data) if c[0] != b"IDAT"] == [
        c for c in chunks(pillows.data) if c[0] != b"IDAT"
    ]
    # Never much larger (level 4 against 6: up to a tenth on noise), whichever rows are written.
    assert len(ours.data) <= 1.2 * len(pillows.data) + 200


@pytest.mark.parametrize("level", [1, 6])
@pytest.mark.parametrize("size", [(900, 500), (2300, 400)])
def test_without_zlib_ng_zlib_writes_the_same_pictures(level: int, size: tuple[int, int]) -> None:
    data = png(drawing(7, size, "RGB"), level)
    fast = fit_image(data, MAX_WIDTH)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(images, "_deflate", zlib)
        patch.setattr(images, "PNG_ZLIB_LEVEL", 6)
        plain = fit_image(data, MAX_WIDTH)
    assert pixels(fast.data) == pixels(plain.data)
    assert (fast.width, fast.height) == (plain.width, plain.height)
    if size[0] <= MAX_WIDTH and level == 1:  # recompressed: smaller than the fastest level
        assert len(fast.data) < len(data) and len(plain.data) < len(data)


def test_the_fit_cache_key_names_the_deflate() -> None:
    from ankigen.fetch import MediaOptions
    from ankigen.media import _fit_key

    key = _fit_key(MediaOptions(), "0" * 64)
    assert images.DEFLATE in key
    assert images.DEFLATE.split()[0] in ("zlib-ng", "zlib")


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("width", [300, 2000])
def test_unfiltered_rows_show_what_pillows_rows_show(mode: str, width: int) -> None:
    from test_picture_packages import text_screen

    image = text_screen((width, 90)).convert(mode)
    data = png(image, 1)
    ours = fit_image(data, MAX_WIDTH, pass_through=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(images, "PILLOW_PNG_ENCODE", True)
        pillows = fit_image(data, MAX_WIDTH, pass_through=False)
    rows = zlib.decompress(b"".join(p for n, p in chunks(ours.data) if n == b"IDAT"))
    stride = len(rows) // (ours.height or 1)
    assert set(rows[::stride]) == {0}  # the unfiltered writer was taken
    assert chunks(ours.data)[0] == chunks(pillows.data)[0]  # the same header
    assert pixels(ours.data) == pixels(pillows.data)
