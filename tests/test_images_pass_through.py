"""Pictures within the limits keep their pixel data: proven to show exactly what the full path
(decode, re-encode) shows, at the same size, with the metadata gone."""

from __future__ import annotations

import io
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from ankigen.images import fit_image

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "60"))
MAX_WIDTH = 1600


def pixels(data: bytes) -> tuple[tuple[int, int], str, bytes]:
    with Image.open(io.BytesIO(data)) as image:
        rgba = image.convert("RGBA")
        return image.size, image.mode, rgba.tobytes()


def png(image: Image.Image, level: int, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=level, **options)
    return out.getvalue()


def jpeg(image: Image.Image, quality: int, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **options)
    return out.getvalue()


def drawing(seed: int, size: tuple[int, int], mode: str) -> Image.Image:
    """Flat blocks of colour, like a screenshot; deterministic from the seed."""
    image = Image.new("RGB", size, (255, 255, 255))
    width, height = size
    for index in range(8):
        x, y = (seed * 31 + index * 97) % width, (seed * 17 + index * 53) % height
        colour = ((seed + index * 40) % 256, (index * 70) % 256, (seed * 3) % 256)
        image.paste(
            colour, (x, y, min(width, x + width // 3 + 1), min(height, y + height // 4 + 1))
        )
    if mode == "P":
        return image.quantize(16)
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize(size))
    return image.convert(mode)


def metadata_png() -> PngInfo:
    info = PngInfo()
    info.add_text("Author", "somebody")
    info.add_text("Comment", "where it was taken", zip=True)
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>gps</x:xmpmeta>")
    return info


def exif_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Maker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}
    return exif.tobytes()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    width=st.integers(1, 400),
    height=st.integers(1, 300),
    mode=st.sampled_from(["RGB", "RGBA", "L", "P", "LA", "1", "I;16"]),
    level=st.integers(0, 9),
    with_metadata=st.booleans(),
)
def test_a_png_keeps_its_pixels_and_loses_its_metadata(
    seed: int, width: int, height: int, mode: str, level: int, with_metadata: bool
) -> None:
    image = drawing(seed, (width, height), mode)
    options: dict[str, object] = {"pnginfo": metadata_png(), "dpi": (144, 144)}
    data = png(image, level, **(options if with_metadata else {}))
    kept = fit_image(data, MAX_WIDTH)
    full = fit_image(data, MAX_WIDTH, pass_through=False)
    assert kept.ext == full.ext == "png"
    assert (kept.width, kept.height) == (full.width, full.height) == (width, height)
    assert pixels(kept.data) == pixels(full.data) == pixels(data)
    assert len(kept.data) <= len(data)
    for secret in (b"somebody", b"tEXt", b"zTXt", b"iTXt", b"pHYs", b"xmpmeta"):
        assert secret not in kept.data


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    width=st.integers(8, 400),
    height=st.integers(8, 300),
    quality=st.integers(40, 92),
    grey=st.booleans(),
)
def test_a_jpeg_up_to_quality_92_keeps_its_scan_and_loses_its_metadata(
    seed: int, width: int, height: int, quality: int, grey: bool
) -> None:
    image = drawing(seed, (width, height), "L" if grey else "RGB")
    data = jpeg(image, quality, exif=exif_with_gps(), comment=b"a secret comment")
    kept = fit_image(data, MAX_WIDTH)
    full = fit_image(data, MAX_WIDTH, pass_through=False)
    assert kept.ext == full.ext == "jpg"
    assert (kept.width, kept.height) == (full.width, full.height) == (width, height)
    # The same scan data: exactly the pixels the original shows (the full path re-encodes,
    # which changes them a little).
    assert pixels(kept.data) == pixels(data)
    assert len(kept.data) < len(data)
    with Image.open(io.BytesIO(kept.data)) as shown:
        assert not shown.getexif()
    assert b"a secret comment" not in kept.data and b"Maker" not in kept.data


def test_the_colour_profile_stays() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = drawing(3, (120, 80), "RGB")
    for data in (png(image, 6, icc_profile=profile), jpeg(image, 85, icc_profile=profile)):
        kept = fit_image(data, MAX_WIDTH)
        assert pixels(kept.data) == pixels(data)
        with Image.open(io.BytesIO(kept.data)) as shown:
            assert shown.info.get("icc_profile") == profile


def test_what_gains_from_encoding_again_is_re_encoded() -> None:
    image = drawing(5, (900, 600), "RGB")
    fast_png = png(image, 1)  # the fastest level: what browsers write for a pasted picture
    refitted = fit_image(fast_png, MAX_WIDTH)
    assert len(refitted.data) < len(fast_png)
    assert pixels(refitted.data) == pixels(fast_png)
    photo = Image.effect_noise((900, 600), 40).convert("RGB")
    fine_jpeg = jpeg(photo, 97)
    smaller = fit_image(fine_jpeg, MAX_WIDTH)
    assert len(smaller.data) < 0.8 * len(fine_jpeg)


def test_a_turned_photo_is_re_encoded_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned by 90°
    data = jpeg(drawing(1, (200, 100), "RGB"), 80, exif=exif.tobytes())
    fitted = fit_image(data, MAX_WIDTH)
    assert (fitted.width, fitted.height) == (100, 200)
    with Image.open(io.BytesIO(fitted.data)) as shown:
        assert shown.getexif().get(0x0112) is None


def test_a_wide_picture_is_still_scaled() -> None:
    data = png(drawing(2, (2400, 300), "RGB"), 9)
    fitted = fit_image(data, MAX_WIDTH)
    assert (fitted.width, fitted.height) == (MAX_WIDTH, 200)


def test_a_broken_picture_is_still_refused() -> None:
    import pytest

    from ankigen.images import ImageError

    good_png = png(drawing(4, (300, 200), "RGB"), 6)
    idat = good_png.index(b"IDAT")
    broken_png = good_png[: idat + 20] + bytes(40) + good_png[idat + 60 :]
    good_jpeg = jpeg(drawing(4, (300, 200), "RGB"), 80)
    broken_jpeg = good_jpeg[: len(good_jpeg) // 2]
    for broken in (broken_png, broken_jpeg):
        with pytest.raises(ImageError):
            fit_image(broken, MAX_WIDTH)
