"""Check picture bytes and fit them for Anki (Pillow); pure: bytes in, bytes out.

What comes out:
- A PNG or JPEG already within the width limit keeps its pixels' bytes: only its metadata is
  cut out (EXIF, GPS, XMP, text, comments; the colour profile stays), without decoding and
  encoding again, unless encoding again gains: a PNG written with the fastest compression (as
  browsers and Electron apps write a pasted picture), or a JPEG above quality 92. A picture
  with an EXIF orientation, or wider than the limit, is re-encoded.
- Re-encoded PNG, JPEG and still GIF drop every metadata chunk (EXIF, GPS, XMP, text); the
  EXIF orientation is applied to the pixels first.
- Animated GIF/PNG are kept byte for byte while they fit the width; wider ones are scaled
  frame by frame into an animated GIF.
- Formats Anki renders poorly (BMP, TIFF, WebP, ICO, …) become PNG, or JPEG for photos
  (no transparency and more than 256 colours). Animated WebP keeps its first frame only.
- SVG is parsed and rebuilt from an allow-list: no scripts, event handlers, foreign objects,
  animation or external references. Entity declarations are refused.
- Output bytes depend only on the input and the options; the media name is the output's hash.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import re
import types
import warnings
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

# The deflate ankigen writes PNG pixel data with: zlib-ng (the same format, 3–5× faster), or
# zlib on a platform without its wheel. DEFLATE names it for the fit cache's key: the bytes
# differ between the two (and may between versions).
_deflate: types.ModuleType
try:
    from zlib_ng import zlib_ng

    _deflate = zlib_ng
    DEFLATE = f"zlib-ng {zlib_ng.ZLIBNG_VERSION}"
except ImportError:  # pragma: no cover - every platform ankigen is tested on has the wheel
    _deflate = zlib
    DEFLATE = f"zlib {zlib.ZLIB_RUNTIME_VERSION}"

KEPT_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif"}
JPEG_QUALITY = 90
# Frames × width × height of an animation: each frame is decoded (and scaled) in memory.
MAX_ANIMATION_PIXELS = 400_000_000
# Nesting depth of SVG elements: cleaning and writing them back recurse once per level.
MAX_SVG_DEPTH = 200
FIT_VERSION = "3"  # bump when the output for the same input changes (invalidates fit caches)


class ImageError(ValueError):
    """The bytes are not a picture ankigen will put into a deck; str() is the reason."""


@dataclass(frozen=True)
class FittedImage:
    """A picture ready for Anki's media folder."""

    data: bytes
    ext: str  # "png", "jpg", "gif", "svg"
    width: int | None  # None for SVG
    height: int | None
    sha256: str = field(default="", compare=False, repr=False)  # of data, when already known
    # Whether `data` is the same on every machine: the input's own bytes (metadata cut out).
    # A picture ankigen encoded or recompressed is not: zlib-ng, zlib and Pillow write other
    # (equally valid) bytes on other CPUs and versions.
    stable: bool = field(default=True, compare=False)
    # For a picture that is not stable: what names it instead of its bytes (the input's hash
    # and how it was fitted), so a card's fields, and so its mod, never depend on the machine.
    name_from: str = field(default="", compare=False, repr=False)

    @functools.cached_property
    def name(self) -> str:
        """Anki media name: ASCII, no "/", never starts with "_"; from the content when it is
        stable, else from the input and the fit (name_from)."""
        if self.name_from:
            digest = hashlib.sha256(self.name_from.encode()).hexdigest()
            return f"ankigen-{digest[:16]}.{self.ext}"
        if self.sha256:
            return f"ankigen-{self.sha256[:16]}.{self.ext}"
        return media_name(self.data, self.ext)


def media_name(data: bytes, ext: str) -> str:
    return f"ankigen-{hashlib.sha256(data).hexdigest()[:16]}.{ext}"


def sniff_format(data: bytes) -> str | None:
    """The picture format by content ("PNG", "SVG", …) from the header only, None if not one."""
    if looks_like_svg(data):
        return "SVG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.format
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def fit_image(
    data: bytes,
    max_width: int,
    max_pixels: int | None = Image.MAX_IMAGE_PIXELS,  # None: no limit, as in Pillow
    *,
    pass_through: bool = True,
) -> FittedImage:
    """Check and fit one picture; raises ImageError with a reason for the warning.

    `pass_through=False` re-encodes every raster picture (the tests compare both paths)."""
    if looks_like_svg(data):
        return FittedImage(sanitise_svg(data), "svg", None, None)
    try:
        with warnings.catch_warnings():
            # Pillow's own decompression-bomb guard; ours below uses max_pixels.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if max_pixels is not None and width * height > max_pixels:
                    raise ImageError(_too_many_pixels(width, height, max_pixels))
                return _fit_raster(image, data, max_width, pass_through)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("too many pixels (decompression bomb guard)") from None
    except UnidentifiedImageError:
        raise ImageError("not an image") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"not a valid image ({exc})") from None
    except Exception as exc:  # Pillow raises many kinds of errors on crafted files
        raise ImageError(f"not a valid image ({type(exc).__name__})") from None


def _too_many_pixels(width: int, height: int, max_pixels: int) -> str:
    return f"too many pixels ({width}×{height} > {max_pixels:,} pixels, decompression bomb guard)"


def _fit_raster(
    image: Image.Image, data: bytes, max_width: int, pass_through: bool = True
) -> FittedImage:
    source_format = image.format or ""
    frames = getattr(image, "n_frames", 1)
    orientation = 1
    if source_format != "GIF" and (source_format != "PNG" or _png_may_hold_exif(data)):
        orientation = image.getexif().get(0x0112, 1)  # a PNG's: decodes it to read to the end
    swapped = orientation in (5, 6, 7, 8)
    shown_width = image.height if swapped else image.width
    scale = min(1.0, max_width / shown_width)

    if frames > 1 and frames * image.width * image.height > MAX_ANIMATION_PIXELS:
        raise ImageError(
            f"animation too large ({frames:,} frames of {image.width}×{image.height} pixels; "
            f"at most {MAX_ANIMATION_PIXELS:,} pixels in all)"
        )
    if frames > 1 and source_format in ("GIF", "PNG"):
        if scale == 1.0:
            image.load()  # decodes the first frame: a broken file fails here
            return FittedImage(data, KEPT_FORMATS[source_format], image.width, image.height)
        return _scaled_animation(image, max_width)

    if pass_through and scale == 1.0 and orientation == 1 and frames == 1:
        kept = _kept_as_is(image, data)
        if kept is not None:
            return kept

    if scale < 1.0 and source_format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 size when that still covers the target.
        image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()
    icc_profile = image.info.get("icc_profile")
    transparency = image.info.get("transparency")
    picture = ImageOps.exif_transpose(image) if orientation != 1 else image
    if scale < 1.0:
        target = (max_width, max(1, round(picture.height * max_width / picture.width)))
        if picture.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "F"):
            picture = picture.convert("RGBA" if _has_alpha(picture) else "RGB")
        picture = picture.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        transparency = None

    ext = KEPT_FORMATS.get(source_format) or _converted_ext(picture)
    return _encode(picture, ext, icc_profile, transparency)


# ---------------------------------------------------------------- kept as they are

# PNG chunks that say how the pixels look; every other ancillary chunk (text, time, EXIF, pHYs,
# private chunks) is metadata and is cut out.
_PNG_KEPT_CHUNKS = (b"IHDR", b"PLTE", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# Deflate level of every PNG's pixel data ankigen writes (a re-encoded PNG, or one kept whose
# data was written with the fastest level): with zlib-ng, level 4 is about as small as zlib's 6
# (packages within 2% of Pillow's own encode at 6 on the picture workload), 6× faster.
PNG_ZLIB_LEVEL = 4 if _deflate is not zlib else 6
# The reference of the benchmark's size row: re-encoding in Pillow at its level 6, as ankigen
# did before it deflated pixel data itself.
PILLOW_PNG_ENCODE = False
# JPEG quality above which encoding again at JPEG_QUALITY makes the file notably smaller.
_JPEG_KEEP_QUALITY = JPEG_QUALITY + 2
# The IJG luminance table at quality 50: a JPEG's table over this gives its quality.
_IJG_LUMINANCE = (
    *(16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55),
    *(14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62),
    *(18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92),
    *(49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99),
)


def _kept_as_is(image: Image.Image, data: bytes) -> FittedImage | None:
    """The picture with its metadata cut out and its pixels as they are; None when it is to be
    re-encoded. A PNG's pixel data is checked by inflating it (it must hold exactly its rows,
    each with a valid filter), and recompressed at ZLIB_LEVEL when it was written with the
    fastest level; a JPEG is decoded at 1/8 size: a broken file is refused as before."""
    if image.format == "PNG":
        chunks = _png_chunks(data)
        pixels = _png_pixel_data(chunks) if chunks else None
        if chunks is None or pixels is None:
            return None
        idat = [whole for name, whole in chunks if name == b"IDAT"]
        stable = True
        if idat[0][9] >> 6 == 0:  # FLEVEL 0: written with the fastest level
            again = _png_chunk(b"IDAT", _deflate.compress(pixels, PNG_ZLIB_LEVEL))
            if len(again) < sum(map(len, idat)):
                idat, stable = [again], False
        kept = [whole for name, whole in chunks if name in _PNG_KEPT_CHUNKS]
        out = _PNG_SIGNATURE + b"".join([*kept, *idat, _PNG_IEND])
        return FittedImage(out, "png", image.width, image.height, stable=stable)
    if image.format == "JPEG":
        quality = _jpeg_quality(image)
        if quality is None or quality > _JPEG_KEEP_QUALITY:
            return None
        stripped = _jpeg_without_metadata(data)
        if stripped is None:
            return None
        width, height = image.size
        image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        image.load()
        return FittedImage(stripped, "jpg", width, height)
    return None


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    """[(chunk type, the chunk's bytes)] up to IEND, or None when the layout or a CRC of a
    chunk that is kept does not check out."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    chunks = []
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        name = data[position + 4 : position + 8]
        end = position + 12 + length
        if length > len(data) - position - 12 or not name.isalpha():
            return None
        whole = data[position:end]
        kept = name in _PNG_KEPT_CHUNKS or name == b"IDAT"
        if kept and _deflate.crc32(whole[4:-4]) != int.from_bytes(whole[-4:], "big"):
            return None
        chunks.append((name, whole))
        position = end
        if name == b"IEND":
            return chunks if chunks[0][0] == b"IHDR" else None
    return None


# Where Pillow finds a PNG's EXIF (and so its orientation): an eXIf chunk, or a text chunk
# named "exif", "Raw profile type exif" or "XML:com.adobe.xmp".
_PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def _png_may_hold_exif(data: bytes) -> bool:
    """False when no chunk of the PNG can give it an orientation (Pillow's getexif() would
    decode the whole picture to look for one after the pixel data); True when one may, or
    when the chunks do not walk cleanly."""
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        name = data[position + 4 : position + 8]
        if name == b"eXIf":
            return True
        if name in _PNG_TEXT_CHUNKS:
            keyword = data[position + 8 : position + 8 + min(length, 80)].split(b"\0", 1)[0]
            if b"exif" in keyword.lower() or b"xmp" in keyword.lower():
                return True
        if name == b"IEND":
            return False
        position += 12 + length
    return True


def _png_pixel_data(chunks: list[tuple[bytes, bytes]]) -> bytes | None:
    """The inflated pixel rows (filter byte first), or None when they are not exactly what
    the header says: a non-interlaced picture's rows, each with a filter from 0 to 4."""
    header = chunks[0][1][8:-4]
    if len(header) != 13:
        return None
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or interlace != 0 or depth not in (1, 2, 4, 8, 16):
        return None
    stride = 1 + (width * channels * depth + 7) // 8
    expected = stride * height
    inflate = _deflate.decompressobj()
    try:
        pixels = inflate.decompress(
            b"".join(whole[8:-4] for name, whole in chunks if name == b"IDAT"), expected + 1
        )
    except (zlib.error, _deflate.error):
        return None
    if len(pixels) != expected or not inflate.eof or max(pixels[::stride], default=0) > 4:
        return None
    return pixels


def _png_chunk(name: bytes, payload: bytes) -> bytes:
    body = name + payload
    return len(payload).to_bytes(4, "big") + body + _deflate.crc32(body).to_bytes(4, "big")


def _jpeg_quality(image: Image.Image) -> float | None:
    """The JPEG's quality as the IJG encoder's scale would give it (about; order-free)."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    scale = 100 * sum(tables[0]) / sum(_IJG_LUMINANCE)
    return (200 - scale) / 2 if scale <= 100 else 5000 / scale


# JPEG segments that are metadata: EXIF and XMP (APP1), IPTC (APP13), comments and every other
# APPn but JFIF (APP0), the colour profile (APP2 "ICC_PROFILE") and Adobe's colour transform
# (APP14), which change how the pixels are shown.
def _jpeg_without_metadata(data: bytes) -> bytes | None:
    """The JPEG without its metadata segments, or None when its layout does not check out."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8"]
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is the image data
            out.append(data[position:])
            return b"".join(out)
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        end = position + 2 + length
        if length < 2 or end > len(data):
            return None
        segment = data[position:end]
        if not _jpeg_metadata(marker, segment):
            out.append(segment)
        position = end
    return None


def _jpeg_metadata(marker: int, segment: bytes) -> bool:
    if marker == 0xFE:
        return True
    if 0xE0 <= marker <= 0xEF:
        payload = segment[4:]
        if marker == 0xE0:
            return not payload.startswith(b"JFIF\x00")
        if marker == 0xE2:
            return not payload.startswith(b"ICC_PROFILE\x00")
        return marker != 0xEE
    return False


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _converted_ext(image: Image.Image) -> str:
    """PNG for drawings and transparency, JPEG for photos."""
    if _has_alpha(image) or image.mode in ("1", "L", "P", "I;16", "I", "F"):
        return "png"
    return "jpg" if image.getcolors(256) is None else "png"


def _encode(
    image: Image.Image, ext: str, icc_profile: bytes | None, transparency: object
) -> FittedImage:
    """Encode with fixed options and no metadata but the colour profile."""
    alpha = _has_alpha(image)
    # Encoders copy comments, XMP, EXIF, DPI… from .info; only what we pass is written.
    image.info = {}
    out = io.BytesIO()
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if ext == "jpg":
        if image.mode not in ("L", "RGB", "CMYK"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, exif=b"", **options)
    elif ext == "gif":
        if image.mode not in ("P", "L", "1"):
            image = image.convert("RGBA").quantize(256, dither=Image.Dither.NONE)
        elif transparency is not None:
            options["transparency"] = transparency
        image.save(out, "GIF", **options)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
            image = image.convert("RGBA" if alpha else "RGB")
        elif image.mode in ("P", "L", "RGB") and transparency is not None:
            options["transparency"] = transparency
        if PILLOW_PNG_ENCODE:
            image.save(out, "PNG", compress_level=6, **options)
        else:
            return FittedImage(
                _png_bytes(image, options), ext, image.width, image.height, stable=False
            )
    return FittedImage(out.getvalue(), ext, image.width, image.height, stable=False)


# PNG colour type of the modes whose rows ankigen writes itself (8 bits a sample).
_PNG_COLOUR_TYPES = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}
# Rows sampled (SAMPLE_STRIPS strips of SAMPLE_ROWS) to choose between unfiltered rows and
# Pillow's filtered ones; filtered wins only when the sample deflates this much smaller.
_SAMPLE_STRIPS, _SAMPLE_ROWS = 4, 16
_FILTERS_GAIN = 0.9


def _png_bytes(image: Image.Image, options: dict[str, object]) -> bytes:
    """The PNG of `image`, its pixel data deflated here at PNG_ZLIB_LEVEL (faster than Pillow's
    zlib). Flat screenshots deflate as well unfiltered as with Pillow's row filters, and
    filtering costs more than deflating them; gradients and photos gain from the filters. A
    sample of rows decides (lossless either way: only the size can differ)."""
    colour = _PNG_COLOUR_TYPES.get(image.mode)
    if colour is None or options or not _unfiltered_is_enough(image):
        # Pillow filters the rows (its choice does not depend on the level) and stores them.
        stored = io.BytesIO()
        image.save(stored, "PNG", compress_level=0, **options)
        return _deflated_png(stored.getvalue())
    pixels = _deflate.compress(_unfiltered_rows(image), PNG_ZLIB_LEVEL)
    size = image.width.to_bytes(4, "big") + image.height.to_bytes(4, "big")
    header = _png_chunk(b"IHDR", size + bytes((8, colour, 0, 0, 0)))
    return _PNG_SIGNATURE + header + _png_chunk(b"IDAT", pixels) + _PNG_IEND


def _unfiltered_rows(image: Image.Image) -> bytes:
    """PNG rows of an 8-bit image, each with filter 0 (none)."""
    raw = image.tobytes()
    stride = len(raw) // image.height
    return b"".join(b"\0" + raw[at : at + stride] for at in range(0, len(raw), stride))


def _unfiltered_is_enough(image: Image.Image) -> bool:
    """Whether sampled strips of rows deflate nearly as small unfiltered as Pillow filters
    them (the whole picture when it is small)."""
    width, height = image.size
    rows = min(height, _SAMPLE_ROWS)
    step = max(rows, height // _SAMPLE_STRIPS)
    filtered = unfiltered = 0
    for top in range(0, height - rows + 1, step)[:_SAMPLE_STRIPS]:
        strip = image.crop((0, top, width, top + rows))
        stored = io.BytesIO()
        strip.save(stored, "PNG", compress_level=0)
        chunks = _png_chunks(stored.getvalue()) or []
        data = _deflate.decompress(
            b"".join(whole[8:-4] for name, whole in chunks if name == b"IDAT")
        )
        filtered += len(_deflate.compress(data, PNG_ZLIB_LEVEL))
        unfiltered += len(_deflate.compress(_unfiltered_rows(strip), PNG_ZLIB_LEVEL))
    return filtered >= _FILTERS_GAIN * unfiltered


def _deflated_png(stored: bytes) -> bytes:
    """A PNG Pillow wrote with stored (level 0) pixel data, its data deflated at
    PNG_ZLIB_LEVEL: the same rows, the same chunks."""
    chunks = _png_chunks(stored)
    if chunks is None:  # pragma: no cover - Pillow's own output always parses
        raise ImageError("not a valid image (PNG encoder output)")
    rows = _deflate.decompress(b"".join(whole[8:-4] for name, whole in chunks if name == b"IDAT"))
    idat = _png_chunk(b"IDAT", _deflate.compress(rows, PNG_ZLIB_LEVEL))
    head = [whole for name, whole in chunks if name not in (b"IDAT", b"IEND")]
    return _PNG_SIGNATURE + b"".join([*head, idat, _PNG_IEND])


def _scaled_animation(image: Image.Image, max_width: int) -> FittedImage:
    """Every frame scaled to max_width, saved as an animated GIF with the same timing."""
    target = (max_width, max(1, round(image.height * max_width / image.width)))
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(image):
        durations.append(int(frame.info.get("duration", 100)))
        frames.append(frame.convert("RGBA").resize(target, Image.Resampling.LANCZOS))
    out = io.BytesIO()
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=int(image.info.get("loop", 0)),
        disposal=2,
    )
    return FittedImage(out.getvalue(), "gif", target[0], target[1], stable=False)


# ---------------------------------------------------------------- SVG

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# Drawing elements only: no script, foreignObject, iframe, animate/set (they can rewrite
# attributes into javascript:), no <a> (links). A <style> is kept only when its CSS loads
# nothing (no @import, every url() a #reference): Mermaid's diagrams are styled by one.
# fmt: off
SVG_ELEMENTS = frozenset((
    "svg", "g", "defs", "desc", "title", "symbol", "use", "switch", "path", "rect", "circle",
    "ellipse", "line", "polyline", "polygon", "text", "tspan", "textPath", "marker", "pattern",
    "clipPath", "mask", "linearGradient", "radialGradient", "stop", "filter", "feBlend",
    "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix",
    "feDiffuseLighting", "feDisplacementMap", "feDistantLight", "feFlood", "feFuncA", "feFuncB",
    "feFuncG", "feFuncR", "feGaussianBlur", "feMerge", "feMergeNode", "feMorphology", "feOffset",
    "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
    "feDropShadow", "image",
))
# fmt: on
SAFE_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*\Z")
URL_REFERENCE = re.compile(r"url\s*\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)
ENTITY = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
SVG_START = re.compile(
    rb"\A(\xef\xbb\xbf)?\s*"  # byte order mark
    rb"(<\?[^>]*>\s*|<!--.*?-->\s*|<!DOCTYPE[^>\[]*(\[.*?\])?\s*>\s*)*"  # prolog
    rb"<svg[\s>]",
    re.S,
)


def looks_like_svg(data: bytes) -> bool:
    return bool(SVG_START.match(data[:4096]))


def sanitise_svg(data: bytes) -> bytes:
    """Rebuild an SVG from the allow-list; raises ImageError when it is not a sane SVG."""
    if ENTITY.search(data):
        # Entities can explode (billion laughs) or read files; a drawing never needs them.
        raise ImageError("SVG declaring XML entities refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ImageError(f"not a valid SVG ({exc})") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ImageError("not a valid SVG (no <svg> root in the SVG namespace)")
    if _depth(root) > MAX_SVG_DEPTH:
        raise ImageError(f"SVG nested more than {MAX_SVG_DEPTH} elements deep")
    _clean_element(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _depth(root: ET.Element) -> int:
    """How deeply elements nest (without recursion: the point is to refuse deep trees)."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in element)
    return deepest


def _clean_element(element: ET.Element) -> None:
    for child in list(element):
        if child.tag == f"{{{SVG_NS}}}style" and _safe_css(child):
            child.attrib.clear()
            continue
        if not isinstance(child.tag, str) or not _allowed_tag(child.tag):
            element.remove(child)  # comments, processing instructions, unknown elements
        else:
            _clean_element(child)
    for name, value in list(element.attrib.items()):
        if not _allowed_attribute(element.tag, name, value):
            del element.attrib[name]


def _safe_css(style: ET.Element) -> bool:
    """A <style> whose CSS loads nothing: text only, no @import, every url() a #reference."""
    if len(style):
        return False
    css = style.text or ""
    lowered = css.lower()
    if "\\" in css or "@import" in lowered or "expression(" in lowered or "image-set(" in lowered:
        return False
    return lowered.count("url(") == len(URL_REFERENCE.findall(css)) and all(
        ref.startswith("#") for ref in URL_REFERENCE.findall(css)
    )


def _allowed_tag(tag: str) -> bool:
    namespace, _, local = tag[1:].partition("}")
    return namespace == SVG_NS and local in SVG_ELEMENTS


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        if namespace == XML_NS:
            return local in ("space", "lang")
        if namespace != XLINK_NS or local != "href":
            return False  # inkscape:, sodipodi:, … editor data
        local = "href"
    else:
        local = name
    lowered = local.lower()
    if lowered.startswith("on") or (lowered == "style" and "@import" in value.lower()):
        return False
    if lowered == "href":
        if tag == f"{{{SVG_NS}}}image":
            return bool(SAFE_DATA_IMAGE.match(value.strip()))
        return value.strip().startswith("#")
    return all(ref.startswith("#") for ref in URL_REFERENCE.findall(value))


def looks_like_sound(data: bytes) -> bool:
    """An audio or video container Anki plays (MP3, AAC, MP4/M4A/MOV, Ogg, WAV, FLAC, WebM/MKV),
    by its first bytes: a file name or Content-Type is not trusted."""
    head = data[:12]
    return (
        head.startswith((b"ID3", b"OggS", b"fLaC", b"\x1a\x45\xdf\xa3"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
        or head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")
        or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)  # MPEG/AAC frames
    )
