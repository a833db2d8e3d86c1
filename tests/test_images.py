"""Checking and fitting picture bytes with Pillow: formats, sizes, metadata, SVG, bombs."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from imageserver import jpeg_with_exif, png_bytes, webp_bytes
from PIL import Image, ImageDraw, PngImagePlugin

from ankigen.images import ImageError, fit_image, sniff_format


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def photo(size: tuple[int, int]) -> Image.Image:
    """Many colours, no transparency: what a camera gives."""
    channels = (
        Image.radial_gradient("L"),
        Image.linear_gradient("L"),
        Image.effect_noise((256, 256), 40),
    )
    return Image.merge("RGB", [c.resize(size) for c in channels])


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size in its header: a decompression bomb's signature."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_narrow_png_stays_png_at_its_size():
    fitted = fit_image(png_bytes((120, 80)), max_width=1600)
    assert fitted.ext == "png" and (fitted.width, fitted.height) == (120, 80)
    assert opened(fitted.data).size == (120, 80)


def test_wide_picture_is_downscaled_keeping_aspect_ratio():
    fitted = fit_image(png_bytes((3000, 1500)), max_width=1600)
    assert opened(fitted.data).size == (1600, 800)
    assert (fitted.width, fitted.height) == (1600, 800)


def test_same_input_gives_the_same_bytes_and_name():
    data = jpeg_with_exif((2400, 1000))
    first, second = fit_image(data, 1600), fit_image(data, 1600)
    assert first.data == second.data
    assert first.name == second.name
    assert re.fullmatch(r"ankigen-[0-9a-f]{16}\.jpg", first.name)
    assert fit_image(png_bytes(colour="red"), 1600).name != fit_image(png_bytes(), 1600).name


def test_jpeg_loses_its_exif_and_keeps_its_orientation():
    data = jpeg_with_exif((400, 200), orientation=6)  # stored sideways, shown upright
    assert opened(data).getexif()  # the input really has EXIF
    fitted = fit_image(data, 1600)
    image = opened(fitted.data)
    assert fitted.ext == "jpg"
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info
    assert image.size == (200, 400)  # rotated as a viewer shows it


def test_orientation_is_applied_before_the_width_is_measured():
    # Stored 4000×1000, shown 1000×4000: the shown width (1000) is what must fit 800.
    fitted = fit_image(jpeg_with_exif((4000, 1000), orientation=6), max_width=800)
    assert opened(fitted.data).size == (800, 3200)


def test_png_text_and_exif_chunks_are_dropped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    data = encoded(Image.new("RGB", (30, 20), "teal"), "PNG", pnginfo=info, exif=exif)
    image = opened(fit_image(data, 1600).data)
    assert "Author" not in image.info and dict(image.getexif()) == {}


def test_webp_with_transparency_becomes_png():
    fitted = fit_image(webp_bytes((90, 60)), 1600)
    image = opened(fitted.data)
    assert fitted.ext == "png" and image.format == "PNG" and image.mode == "RGBA"


def test_photo_in_webp_becomes_jpeg():
    fitted = fit_image(encoded(photo((300, 200)), "WEBP", quality=80), 1600)
    assert fitted.ext == "jpg" and opened(fitted.data).format == "JPEG"


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_formats_anki_renders_poorly_become_png(fmt):
    drawing = Image.new("RGB", (64, 48), "white")
    ImageDraw.Draw(drawing).line((0, 0, 63, 47), fill="black", width=3)
    fitted = fit_image(encoded(drawing, fmt), 1600)
    assert fitted.ext == "png" and opened(fitted.data).format == "PNG"


def animated_gif(size: tuple[int, int]) -> bytes:
    frames = []
    for index in range(3):
        frame = Image.new("RGB", size, "white")
        ImageDraw.Draw(frame).rectangle((index * 10, 0, index * 10 + 8, 8), fill="red")
        frames.append(frame)
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80)


def test_animated_gif_is_kept_as_is_when_it_fits():
    data = animated_gif((60, 30))
    fitted = fit_image(data, 1600)
    assert fitted.data == data and fitted.ext == "gif"


def test_animated_gif_is_scaled_frame_by_frame_when_too_wide():
    image = opened(fit_image(animated_gif((400, 100)), 200).data)
    assert image.size == (200, 50) and image.n_frames == 3


def test_html_is_not_an_image():
    with pytest.raises(ImageError, match=r"^not an image$"):
        fit_image(b"<!doctype html><title>Login</title>", 1600)
    assert sniff_format(b"<!doctype html>") is None
    assert sniff_format(png_bytes()) == "PNG"


def test_truncated_png_is_not_a_valid_image():
    with pytest.raises(ImageError, match="not a valid image"):
        fit_image(png_bytes((400, 300))[:300], 1600)


def test_decompression_bomb_header_is_refused_without_decoding():
    with pytest.raises(ImageError, match="decompression bomb guard"):
        fit_image(png_header_only(100_000, 100_000), 1600)


def test_pixel_limit_is_configurable():
    with pytest.raises(ImageError, match=r"too many pixels \(120×80 > 1,000 pixels"):
        fit_image(png_bytes((120, 80)), 1600, max_pixels=1000)


SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def test_svg_is_kept_after_sanitising():
    svg = f"""<?xml version="1.0"?>
<svg {SVG_NS} width="10" height="10" onload="alert(1)">
  <script>alert(2)</script>
  <rect width="5" height="5" fill="url(#grad)" onclick="alert(3)"/>
  <rect width="5" height="5" style="fill:url(http://tracker.example/x)"/>
  <foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>
  <image xlink:href="https://tracker.example/pixel.png"/>
  <a href="javascript:alert(4)"><circle r="2"/></a>
  <use href="#grad"/>
  <animate attributeName="href" to="javascript:alert(5)"/>
</svg>""".encode()
    fitted = fit_image(svg, 1600)
    text = fitted.data.decode()
    assert fitted.ext == "svg" and fitted.name.endswith(".svg")
    for gone in ("script", "alert", "onload", "onclick", "foreignObject", "tracker", "animate"):
        assert gone not in text
    assert 'fill="url(#grad)"' in text and '<use href="#grad"' in text


def test_svg_with_a_public_doctype_is_accepted():
    svg = (
        b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'
    )
    assert b"<rect" in fit_image(svg, 1600).data


def test_svg_with_entities_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>'
    )
    with pytest.raises(ImageError, match="entities refused"):
        fit_image(bomb, 1600)


def test_broken_svg_is_refused():
    with pytest.raises(ImageError, match="not a valid SVG"):
        fit_image(b'<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', 1600)


@pytest.mark.parametrize("fmt", ["GIF", "JPEG"])
def test_comments_are_dropped(fmt):
    image = Image.new("RGB", (40, 20), "white")
    data = encoded(image.convert("P") if fmt == "GIF" else image, fmt, comment=b"secret")
    assert opened(data).info["comment"] == b"secret"
    assert "comment" not in opened(fit_image(data, 1600).data).info
