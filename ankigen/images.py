"""Check picture bytes and fit them for Anki (Pillow); pure: bytes in, bytes out.

What comes out:
- PNG, JPEG and still GIF are re-encoded, which drops every metadata chunk (EXIF, GPS, XMP,
  text); the EXIF orientation is applied to the pixels first.
- Animated GIF/PNG are kept byte for byte while they fit the width; wider ones are scaled
  frame by frame into an animated GIF.
- Formats Anki renders poorly (BMP, TIFF, WebP, ICO, …) become PNG, or JPEG for photos
  (no transparency and more than 256 colours). Animated WebP keeps its first frame only.
- SVG is parsed and rebuilt from an allow-list: no scripts, event handlers, foreign objects,
  animation or external references. Entity declarations are refused.
- Output bytes depend only on the input and the options; the media name is the output's hash.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

KEPT_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif"}
JPEG_QUALITY = 90
# Frames × width × height of an animation: each frame is decoded (and scaled) in memory.
MAX_ANIMATION_PIXELS = 400_000_000
# Nesting depth of SVG elements: cleaning and writing them back recurse once per level.
MAX_SVG_DEPTH = 200
FIT_VERSION = "1"  # bump when the output for the same input changes (invalidates fit caches)


class ImageError(ValueError):
    """The bytes are not a picture ankigen will put into a deck; str() is the reason."""


@dataclass(frozen=True)
class FittedImage:
    """A picture ready for Anki's media folder."""

    data: bytes
    ext: str  # "png", "jpg", "gif", "svg"
    width: int | None  # None for SVG
    height: int | None

    @property
    def name(self) -> str:
        """Anki media name from the content: ASCII, no "/", never starts with "_"."""
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


def fit_image(data: bytes, max_width: int, max_pixels: int = Image.MAX_IMAGE_PIXELS) -> FittedImage:
    """Check and fit one picture; raises ImageError with a reason for the warning."""
    if looks_like_svg(data):
        return FittedImage(sanitise_svg(data), "svg", None, None)
    try:
        with warnings.catch_warnings():
            # Pillow's own decompression-bomb guard; ours below uses max_pixels.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(_too_many_pixels(width, height, max_pixels))
                return _fit_raster(image, data, max_width)
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


def _fit_raster(image: Image.Image, data: bytes, max_width: int) -> FittedImage:
    source_format = image.format or ""
    frames = getattr(image, "n_frames", 1)
    orientation = image.getexif().get(0x0112, 1) if source_format != "GIF" else 1
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
        image.save(out, "PNG", compress_level=6, **options)
    return FittedImage(out.getvalue(), ext, image.width, image.height)


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
    return FittedImage(out.getvalue(), "gif", target[0], target[1])


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
