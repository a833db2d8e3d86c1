"""Excalidraw drawings drawn into SVG from the drawing file itself.

The Obsidian Excalidraw plugin keeps a drawing as a note (``Drawing.excalidraw.md``) whose
``## Drawing`` section holds the scene as a ```` ```json ```` block or, compressed, as a
```` ```compressed-json ```` block (LZ-String, base64, broken into lines); a plain
``.excalidraw`` file is the scene's JSON. The scene's elements are drawn here as clean
geometry (Excalidraw's hand-drawn wobble is left out): rectangles, ellipses, diamonds, lines,
arrows with their heads, free-draw strokes, text with its size and alignment, and embedded
pictures, with their colours, stroke widths, dash styles, opacity and rotation. An element kind
that cannot be drawn is a warning. Output is deterministic and cached by content hash.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import re
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 20 * 1024 * 1024  # a drawing file (pictures inside make them large)
MAX_JSON_CHARS = 40 * 1024 * 1024  # the scene after decompression
MAX_ELEMENTS = 10_000
MAX_POINTS = 200_000  # all lines, arrows and strokes together
MAX_SVG_BYTES = 1024 * 1024  # what the media stage accepts as a data: URL
MAX_COORDINATE = 1e7
MAX_TEXT_CHARS = 100_000  # one text element
# The cache key holds this file's own hash: a change to the drawing code draws anew.
_FORMAT = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

_FONTS = {
    1: "Virgil, Excalifont, 'Comic Sans MS', 'Comic Neue', sans-serif",
    2: "Helvetica, Arial, sans-serif",
    3: "Cascadia, 'Courier New', monospace",
    5: "Excalifont, Virgil, 'Comic Sans MS', 'Comic Neue', sans-serif",
    6: "Nunito, Arial, sans-serif",
    7: "'Lilita One', Arial, sans-serif",
    8: "'Comic Shanns', 'Comic Sans MS', 'Comic Neue', sans-serif",
    9: "'Liberation Sans', Arial, sans-serif",
}
_SKIPPED = frozenset(("selection",))  # editor state, never drawn
_PICTURE_MIME = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*\Z")
_COLOR = re.compile(r"#[0-9A-Fa-f]{3,8}|[A-Za-z]{3,20}|rgba?\([0-9., %]{5,40}\)")
_BLOCK = re.compile(r"^```(compressed-json|json)[ \t]*$", re.MULTILINE)
_EMBEDDED_FILE = re.compile(r"^([0-9a-f]{8,64}): \[\[([^\]\n]{1,500})\]\]", re.MULTILINE)


class DrawingError(ValueError):
    pass


def draw_file(
    data: bytes,
    cache_dir: Path | None,
    root: Path | None = None,
    find: Callable[[str], str | None] | None = None,
) -> tuple[bytes | None, list[str]]:
    """(SVG or None, problems) for a drawing file's bytes, cached by their hash."""
    key = f"excalidraw|{_FORMAT}|{hashlib.sha256(data).hexdigest()}"
    cache = None
    if cache_dir is not None:
        from .fetch import DiskCache

        cache = DiskCache(cache_dir)
        record = cache.read_json(cache.fits, key)
        if record is not None and isinstance(record.get("problems"), list):
            problems = [str(p) for p in record["problems"]]
            if record.get("sha256") is None:
                return None, problems
            svg = cache.read_blob(str(record["sha256"]))
            if svg is not None:
                return svg, problems
    try:
        text = data.decode("utf-8", errors="replace")
        scene = read_scene(text)
        pictures = _embedded_files(text, root, find) if root and find else {}
        svg, problems = draw_scene(scene, pictures)
    except DrawingError as error:
        svg, problems = None, [f"{error}; shown as a link"]
    if svg is not None and len(svg) > MAX_SVG_BYTES:
        svg, problems = None, [f"drawing larger than {MAX_SVG_BYTES // 1024} KB; shown as a link"]
    # A drawing whose pictures come from other files is not cached: they may change.
    if cache is not None and not any(True for _ in _EMBEDDED_FILE.finditer(text or "")):
        with contextlib.suppress(OSError):
            record = {"problems": problems, "sha256": cache.write_blob(svg) if svg else None}
            cache.write_json(cache.fits, key, record)
    return svg, problems


def read_scene(text: str) -> dict[str, Any]:
    """The scene of a ``.excalidraw.md`` note or a plain ``.excalidraw`` JSON file."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        raw = stripped
    else:
        blocks = list(_BLOCK.finditer(text))
        if not blocks:
            raise DrawingError("no drawing (json or compressed-json block) in the file")
        m = blocks[-1]  # the last block is the drawing's (## Drawing)
        end = text.find("\n```", m.end())
        body = text[m.end() : len(text) if end < 0 else end]
        if m.group(1) == "compressed-json":
            raw = lz_decompress_base64("".join(body.split()))
        else:
            raw = body
    if len(raw) > MAX_JSON_CHARS:
        raise DrawingError(f"scene larger than {MAX_JSON_CHARS // (1024 * 1024)} MB")
    try:
        scene = json.loads(raw)
    except (ValueError, RecursionError):
        raise DrawingError("the drawing's scene is not valid JSON") from None
    if not isinstance(scene, dict) or not isinstance(scene.get("elements", []), list):
        raise DrawingError("the drawing's scene has no list of elements")
    return scene


# ---------------------------------------------------------------- LZ-String

_BASE64 = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
}


class _Bits:
    """LZ-String's bit reader over base64 values (six bits each, highest first)."""

    def __init__(self, values: list[int]) -> None:
        self.values = values
        self.value, self.position, self.index = values[0], 32, 1

    def read(self, count: int) -> int:
        """The next `count` bits, the first read the lowest (0 past the end)."""
        values, length = self.values, len(self.values)
        value, position, index = self.value, self.position, self.index
        result = 0
        for power in range(count):
            bit = value & position
            position >>= 1
            if position == 0:
                position = 32
                value = values[index] if index < length else 0
                index += 1
            if bit:
                result |= 1 << power
        self.value, self.position, self.index = value, position, index
        return result


def lz_decompress_base64(text: str) -> str:
    """LZ-String's decompressFromBase64 (linear time; output bounded by MAX_JSON_CHARS)."""
    try:
        values = [_BASE64[c] for c in text]
    except KeyError:
        raise DrawingError("compressed drawing is not base64") from None
    if not values:
        return ""
    reader = _Bits(values)
    bits = reader.read
    kind = bits(2)
    if kind == 2:
        return ""
    if kind not in (0, 1):
        raise DrawingError("compressed drawing is damaged")
    first = chr(bits(8 if kind == 0 else 16))
    dictionary: list[str] = ["", "", "", first]
    enlarge_in, num_bits = 4, 3
    previous = first
    out = [first]
    size = 1
    while True:
        if reader.index > len(values) + 1:
            raise DrawingError("compressed drawing is truncated")
        code = bits(num_bits)
        if code in (0, 1):
            dictionary.append(chr(bits(8 if code == 0 else 16)))
            code = len(dictionary) - 1
            enlarge_in -= 1
        elif code == 2:
            joined = "".join(out)
            # 16-bit codes are UTF-16 units: pairs of them are one character.
            return joined.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        if enlarge_in == 0:
            enlarge_in, num_bits = 1 << num_bits, num_bits + 1
        if code < len(dictionary):
            entry = dictionary[code]
        elif code == len(dictionary):
            entry = previous + previous[0]
        else:
            raise DrawingError("compressed drawing is damaged")
        out.append(entry)
        size += len(entry)
        if size > MAX_JSON_CHARS:
            raise DrawingError(f"scene larger than {MAX_JSON_CHARS // (1024 * 1024)} MB")
        dictionary.append(previous + entry[0])
        enlarge_in -= 1
        previous = entry
        if enlarge_in == 0:
            enlarge_in, num_bits = 1 << num_bits, num_bits + 1


# ---------------------------------------------------------------- embedded pictures


def _embedded_files(text: str, root: Path, find: Callable[[str], str | None]) -> dict[str, str]:
    """The plugin's ``# Embedded files`` list (``fileId: [[picture.png]]``) as data: URLs;
    `find` locates a vault file as a picture link would."""
    from . import atomic

    found: dict[str, str] = {}
    for m in _EMBEDDED_FILE.finditer(text):
        name = m.group(2).split("|", 1)[0].strip()
        ext = name.rsplit(".", 1)[-1].lower()
        mime = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif"}.get(ext)
        rel = find(name) if mime else None
        if rel is None:
            continue
        with contextlib.suppress(OSError, ValueError):
            data = atomic.read_regular(root / rel, MAX_SVG_BYTES)
            found[m.group(1)] = f"data:image/{mime};base64," + base64.b64encode(data).decode()
    return found


# ---------------------------------------------------------------- drawing


def draw_scene(
    scene: dict[str, Any], pictures: dict[str, str] | None = None
) -> tuple[bytes, list[str]]:
    """The scene as an SVG, and what could not be drawn."""
    elements = [
        e for e in scene.get("elements", []) if isinstance(e, dict) and not e.get("isDeleted")
    ]
    if len(elements) > MAX_ELEMENTS:
        raise DrawingError(f"more than {MAX_ELEMENTS:,} elements")
    files = scene.get("files")
    if not isinstance(files, dict):
        files = {}
    pictures = dict(pictures or {})
    for file_id, entry in files.items():
        if isinstance(entry, dict) and isinstance(entry.get("dataURL"), str):
            pictures.setdefault(str(file_id), entry["dataURL"])
    problems: dict[str, int] = {}
    parts: list[str] = []
    box = _Box()
    points_left = [MAX_POINTS]
    markers: dict[str, str] = {}  # arrowhead colour → marker id
    size = 0
    background = scene.get("appState", {}) if isinstance(scene.get("appState"), dict) else {}
    for element in elements:
        kind = element.get("type")
        if kind in _SKIPPED:
            continue
        try:
            drawn = _element(element, kind, pictures, box, points_left, markers)
        except (TypeError, ValueError, KeyError, OverflowError):
            drawn = None
            problems[f"{kind} element not valid; left out"] = 1
        if drawn is None:
            if kind not in _DRAWERS and kind != "image":
                problems.setdefault(f"cannot draw {str(kind)[:40]!r} elements; left out", 0)
            continue
        if drawn == "":
            problems.setdefault("picture element without its picture; left out", 0)
            continue
        parts.append(drawn)
        size += len(drawn)
        if size > MAX_SVG_BYTES:  # stop drawing now, not after building all of it
            raise DrawingError(f"drawing larger than {MAX_SVG_BYTES // 1024} KB")
    if points_left[0] < 0:
        raise DrawingError(f"more than {MAX_POINTS:,} points in lines and strokes")
    x0, y0, x1, y1 = box.bounds()
    pad = 10
    width, height = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    fill = _color(background.get("viewBackgroundColor"), "#ffffff")
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="{_n(x0 - pad)} {_n(y0 - pad)} {_n(width)} {_n(height)}" '
        f'width="{_n(width)}" height="{_n(height)}">'
        + _marker_defs(markers)
        + f'<rect x="{_n(x0 - pad)}" y="{_n(y0 - pad)}" width="{_n(width)}" '
        f'height="{_n(height)}" fill="{fill}"/>' + "".join(parts) + "</svg>"
    )
    return svg.encode("utf-8"), sorted(problems)


class _Box:
    def __init__(self) -> None:
        self.x0 = self.y0 = math.inf
        self.x1 = self.y1 = -math.inf

    def add(self, x: float, y: float) -> None:
        self.x0, self.y0 = min(self.x0, x), min(self.y0, y)
        self.x1, self.y1 = max(self.x1, x), max(self.y1, y)

    def bounds(self) -> tuple[float, float, float, float]:
        if self.x0 > self.x1:
            return 0, 0, 100, 100
        return self.x0, self.y0, self.x1, self.y1


def _num(value: object, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if not math.isfinite(value) or abs(value) > MAX_COORDINATE:
        raise ValueError("coordinate out of range")
    return float(value)


def _n(value: float) -> str:
    """A number written the same on every machine."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _color(value: object, default: str) -> str:
    if isinstance(value, str) and (value == "transparent" or _COLOR.fullmatch(value)):
        return "none" if value == "transparent" else value
    return default


def _style(element: dict[str, Any], fill: bool) -> str:
    stroke = _color(element.get("strokeColor"), "#1e1e1e")
    width = max(0.0, min(_num(element.get("strokeWidth"), 2), 100))
    attrs = f' stroke="{stroke}" stroke-width="{_n(width)}"'
    background = _color(element.get("backgroundColor"), "none") if fill else "none"
    attrs += f' fill="{background}"'
    if fill and background != "none" and element.get("fillStyle") in ("hachure", "cross-hatch"):
        attrs += ' fill-opacity="0.5"'  # the hatching, as an even tint
    dash = element.get("strokeStyle")
    if dash == "dashed":
        attrs += f' stroke-dasharray="{_n(width * 4)} {_n(width * 3)}"'
    elif dash == "dotted":
        attrs += f' stroke-dasharray="{_n(width)} {_n(width * 2)}"'
    return attrs + ' stroke-linecap="round" stroke-linejoin="round"'


def _group(element: dict[str, Any], box: _Box, body: str) -> str:
    """The element's drawing wrapped with its opacity and rotation; its box counted."""
    x, y = _num(element.get("x")), _num(element.get("y"))
    w, h = _num(element.get("width")), _num(element.get("height"))
    angle = _num(element.get("angle"))
    opacity = max(0.0, min(_num(element.get("opacity"), 100), 100)) / 100
    cx, cy = x + w / 2, y + h / 2
    corners = [(x, y), (x + w, y), (x, y + h), (x + w, y + h)]
    for px, py in corners:
        if angle:
            dx, dy = px - cx, py - cy
            px = cx + dx * math.cos(angle) - dy * math.sin(angle)
            py = cy + dx * math.sin(angle) + dy * math.cos(angle)
        box.add(px, py)
    attrs = ""
    if opacity < 1:
        attrs += f' opacity="{_n(opacity)}"'
    if angle:
        attrs += f' transform="rotate({_n(math.degrees(angle))} {_n(cx)} {_n(cy)})"'
    return f"<g{attrs}>{body}</g>" if attrs else body


def _rectangle(e: dict[str, Any], **_: Any) -> str:
    x, y, w, h = (_num(e.get(k)) for k in ("x", "y", "width", "height"))
    radius = ""
    if isinstance(e.get("roundness"), dict):
        r = min(abs(w), abs(h)) * 0.25 if e["roundness"].get("type") == 3 else 32
        radius = f' rx="{_n(min(r, 32, abs(w) / 2, abs(h) / 2))}"'
    return (
        f'<rect x="{_n(min(x, x + w))}" y="{_n(min(y, y + h))}" width="{_n(abs(w))}" '
        f'height="{_n(abs(h))}"{radius}{_style(e, True)}/>'
    )


def _ellipse(e: dict[str, Any], **_: Any) -> str:
    x, y, w, h = (_num(e.get(k)) for k in ("x", "y", "width", "height"))
    return (
        f'<ellipse cx="{_n(x + w / 2)}" cy="{_n(y + h / 2)}" rx="{_n(abs(w) / 2)}" '
        f'ry="{_n(abs(h) / 2)}"{_style(e, True)}/>'
    )


def _diamond(e: dict[str, Any], **_: Any) -> str:
    x, y, w, h = (_num(e.get(k)) for k in ("x", "y", "width", "height"))
    points = [(x + w / 2, y), (x + w, y + h / 2), (x + w / 2, y + h), (x, y + h / 2)]
    text = " ".join(f"{_n(px)},{_n(py)}" for px, py in points)
    return f'<polygon points="{text}"{_style(e, True)}/>'


def _points(e: dict[str, Any], box: _Box, points_left: list[int]) -> list[tuple[float, float]]:
    raw = e.get("points")
    if not isinstance(raw, list):
        raise ValueError("no points")
    points_left[0] -= len(raw)
    if points_left[0] < 0:
        return []
    x, y = _num(e.get("x")), _num(e.get("y"))
    out = []
    for point in raw:
        if not (isinstance(point, list) and len(point) >= 2):
            raise ValueError("bad point")
        px, py = x + _num(point[0]), y + _num(point[1])
        box.add(px, py)
        out.append((px, py))
    return out


def _line(
    e: dict[str, Any], box: _Box, points_left: list[int], markers: dict[str, str], **_: Any
) -> str:
    points = _points(e, box, points_left)
    if len(points) < 2:
        return "<g/>"
    path = "M" + "L".join(f"{_n(px)},{_n(py)}" for px, py in points)
    closed = e.get("type") == "line" and len(points) > 2 and points[0] == points[-1]
    heads = ""
    if e.get("type") == "arrow":
        color = _color(e.get("strokeColor"), "#1e1e1e")
        head = markers.setdefault(color, f"h{len(markers)}")
        for end in ("start", "end"):
            kind = e.get(f"{end}Arrowhead")
            # Every arrowhead kind (arrow, triangle, bar, dot, …) is drawn as an arrow head.
            if isinstance(kind, str) and kind:
                heads += f' marker-{end}="url(#{head})"'
    return f'<path d="{path}{"Z" if closed else ""}"{_style(e, closed)}{heads}/>'


def _marker_defs(markers: dict[str, str]) -> str:
    defs = "".join(
        f'<marker id="{head}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10" fill="none" '
        f'stroke="{color}" stroke-width="1.5"/></marker>'
        for color, head in markers.items()
    )
    return f"<defs>{defs}</defs>" if defs else ""


def _freedraw(e: dict[str, Any], box: _Box, points_left: list[int], **_: Any) -> str:
    points = _points(e, box, points_left)
    if not points:
        return "<g/>"
    if len(points) == 1:
        points = points * 2
    path = "M" + "L".join(f"{_n(px)},{_n(py)}" for px, py in points)
    stroke = _color(e.get("strokeColor"), "#1e1e1e")
    width = max(0.5, min(_num(e.get("strokeWidth"), 2), 100)) * 1.5
    return (
        f'<path d="{path}" fill="none" stroke="{stroke}" stroke-width="{_n(width)}" '
        'stroke-linecap="round" stroke-linejoin="round"/>'
    )


def _text(e: dict[str, Any], **_: Any) -> str:
    x, y, w = _num(e.get("x")), _num(e.get("y")), _num(e.get("width"))
    size = max(1.0, min(_num(e.get("fontSize"), 20), 1000))
    line_height = max(0.5, min(_num(e.get("lineHeight"), 1.25), 5))
    text = e.get("text")
    if not isinstance(text, str):
        text = ""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError("text too long")
    align = e.get("textAlign")
    if align not in ("left", "center", "right"):
        align = "left"
    anchor, ax = {"left": ("start", x), "center": ("middle", x + w / 2), "right": ("end", x + w)}[
        align
    ]
    family = _FONTS.get(int(_num(e.get("fontFamily"), 1)), _FONTS[1])
    color = _color(e.get("strokeColor"), "#1e1e1e")
    spans = []
    for index, line in enumerate(text.split("\n")):
        baseline = y + size * line_height * index + size * (line_height + 0.6) / 2
        spans.append(
            f'<tspan x="{_n(ax)}" y="{_n(baseline)}">{escape(line, quote=False) or " "}</tspan>'
        )
    return (
        f'<text font-family="{escape(family)}" font-size="{_n(size)}" fill="{color}" '
        f'text-anchor="{anchor}" xml:space="preserve">' + "".join(spans) + "</text>"
    )


def _image(e: dict[str, Any], pictures: dict[str, str], **_: Any) -> str:
    url = pictures.get(str(e.get("fileId")))
    if not url or not _PICTURE_MIME.match(url):
        return ""
    x, y, w, h = (_num(e.get(k)) for k in ("x", "y", "width", "height"))
    url = re.sub(r"\s+", "", url)
    return (
        f'<image x="{_n(x)}" y="{_n(y)}" width="{_n(abs(w))}" height="{_n(abs(h))}" '
        f'preserveAspectRatio="none" href="{url}"/>'
    )


_DRAWERS: dict[str, Callable[..., str]] = {
    "rectangle": _rectangle,
    "ellipse": _ellipse,
    "diamond": _diamond,
    "line": _line,
    "arrow": _line,
    "freedraw": _freedraw,
    "text": _text,
    "image": _image,
}


def _element(
    element: dict[str, Any],
    kind: object,
    pictures: dict[str, str],
    box: _Box,
    points_left: list[int],
    markers: dict[str, str],
) -> str | None:
    drawer = _DRAWERS.get(kind) if isinstance(kind, str) else None
    if drawer is None:
        return None
    body = drawer(element, box=box, points_left=points_left, pictures=pictures, markers=markers)
    if body == "":
        return ""
    if kind == "text":  # the box holds every line, whatever height the file says
        lines = str(element.get("text", "")).count("\n") + 1
        size = _num(element.get("fontSize"), 20) * _num(element.get("lineHeight"), 1.25)
        element = {**element, "height": max(_num(element.get("height")), lines * size)}
    return _group(element, box, body)
