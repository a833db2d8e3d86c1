"""Resolve media: every <img> of the rendered fields becomes a picture in the deck's media.

Local pictures are found as Obsidian finds them (next to the note, from the vault root, then
by file name anywhere), remote ones come from the Fetcher's outcomes (fetch.py), and all are
checked and fitted by images.py. A picture that cannot be included never leaves a dangling
reference: its <img> becomes a visible placeholder and a warning names the note's line.
No network here; fitted pictures are remembered in the on-disk cache by input hash.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import html
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

from PIL import __version__ as PILLOW_VERSION

from . import atomic
from .fetch import DiskCache, Fetcher, FetchOutcome, MediaOptions
from .images import FIT_VERSION, FittedImage, ImageError, fit_image
from .model import Diagnostic, MediaFile, Vault
from .obsidian import url_scheme

__all__ = [
    "FetchOutcome",
    "Fetcher",
    "FieldHtml",
    "MediaOptions",
    "MediaResult",
    "remote_urls",
    "resolve_media",
]

MAX_DATA_URL_BYTES = 1024 * 1024
MAX_LOCAL_BYTES = 100 * 1024 * 1024

# nh3 writes attributes double-quoted with &, " escaped, but ">" may stay raw inside a value.
IMG_TAG = re.compile(r"""<img\b((?:[^>"']|"[^"]*"|'[^']*')*)>""", re.IGNORECASE)
ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
WINDOWS_ABSOLUTE = re.compile(r"[A-Za-z]:[\\/]|\\\\")


@dataclass(frozen=True)
class FieldHtml:
    """One rendered field and where its Markdown came from."""

    note_rel: str  # vault-relative note path, "AWS/AMI.md"
    html: str  # rendered field
    line: int  # 1-based line in the note where this field's Markdown starts
    markdown: str  # the field's Markdown source (to find the exact line of each picture)


@dataclass(frozen=True)
class MediaResult:
    """The fields with pictures rewritten, the media they need, and what went wrong."""

    html: tuple[str, ...]  # the fields, same order, every <img> rewritten or replaced
    media: tuple[MediaFile, ...]  # deduplicated, sorted by name
    diagnostics: tuple[Diagnostic, ...]  # path = note_rel, line = the picture's own line
    local_files: tuple[str, ...]  # vault-relative paths of local pictures read


def remote_urls(fields: Iterable[FieldHtml]) -> list[str]:
    """The http(s) URLs of every picture in the fields, deduplicated and sorted."""
    urls: set[str] = set()
    for field in fields:
        if not _has_img(field.html):
            continue
        for match in IMG_TAG.finditer(field.html):
            src = _src(_attributes(match.group(1)))
            if src and _is_remote(src):
                urls.add(src)
    return sorted(urls)


def resolve_media(
    fields: Sequence[FieldHtml],
    vault: Vault,
    options: MediaOptions,
    fetched: Mapping[str, FetchOutcome],
) -> MediaResult:
    """Rewrite every <img> to a fitted media file, or to a placeholder with a warning."""
    resolver = _Resolver(vault, options, fetched)
    rewritten = tuple(
        resolver.rewrite(field) if _has_img(field.html) else field.html for field in fields
    )
    return MediaResult(
        html=rewritten,
        media=tuple(resolver.media[name] for name in sorted(resolver.media)),
        diagnostics=tuple(sorted(resolver.diagnostics)),
        local_files=tuple(sorted(resolver.local_files)),
    )


def _has_img(text: str) -> bool:
    """Cheap test first: most fields have no picture and must cost nothing."""
    return "<img" in text or ("<" in text and "<IMG" in text.upper())


# ---------------------------------------------------------------- <img> attributes


Attributes = list[tuple[str, str | None]]


def _attributes(text: str) -> Attributes:
    result: Attributes = []
    for match in ATTRIBUTE.finditer(text):
        name, double, single, bare = match.groups()
        value = next((v for v in (double, single, bare) if v is not None), None)
        result.append((name.lower(), None if value is None else html.unescape(value)))
    return result


def _src(attributes: Attributes) -> str:
    return next((value or "" for name, value in attributes if name == "src"), "").strip()


def _img_tag(attributes: Attributes, src: str) -> str:
    parts = ["<img"]
    for name, value in attributes:
        if name == "src":
            value = src
        parts.append(name if value is None else f'{name}="{html.escape(value, quote=True)}"')
    return " ".join(parts) + ">"


def _is_remote(src: str) -> bool:
    return src[:8].lower().startswith(("http://", "https://"))


# ---------------------------------------------------------------- the stage


class _Resolver:
    """State for one resolve_media call: the media so far, messages, and memo."""

    def __init__(
        self, vault: Vault, options: MediaOptions, fetched: Mapping[str, FetchOutcome]
    ) -> None:
        self.vault = vault
        self.options = options
        self.fetched = fetched
        self.cache = DiskCache(options.cache_path)
        self.media: dict[str, MediaFile] = {}
        self.diagnostics: set[Diagnostic] = set()
        self.local_files: set[str] = set()
        self._memo: dict[tuple[str, str], FittedImage | str] = {}
        self._root_real: Path | None = None

    def rewrite(self, field: FieldHtml) -> str:
        cursor = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal cursor
            attributes = _attributes(match.group(1))
            src = _src(attributes)
            if not src:
                return match.group(0)
            line, cursor = _line_of(field, src, cursor)
            fitted, label, reason = self._picture(field.note_rel, src)
            if fitted is not None:
                self.media.setdefault(fitted.name, MediaFile(fitted.name, fitted.data))
                return _img_tag(attributes, fitted.name)
            self.diagnostics.add(
                Diagnostic(
                    field.note_rel, line, "warning", f"picture {label} not included: {reason}"
                )
            )
            if _is_remote(src):
                alt = next((v for n, v in attributes if n == "alt" and v), src)
                return (
                    f'<a class="missing-media" href="{html.escape(src)}">'
                    f"diagram: {html.escape(alt)}</a>"
                )
            return f'<span class="missing-media">missing picture: {html.escape(label)}</span>'

        return IMG_TAG.sub(replace, field.html)

    def _picture(self, note_rel: str, src: str) -> tuple[FittedImage | None, str, str]:
        """(fitted picture or None, label for messages, reason it is missing)."""
        if _is_remote(src):
            outcome = self.fetched.get(src)
            if outcome is None:
                return None, src, "not fetched"
            if outcome.data is None:
                return None, src, outcome.error
            payload = outcome.data
            return self._outcome(("url", src), lambda: payload, src)
        if src[:5].lower() == "data:":
            label = src[:40] + ("…" if len(src) > 40 else "")
            return self._outcome(("data", src), lambda: _decode_data_url(src), label)
        # The render stage percent-encodes the colon of other schemes ("ftp%3A//…",
        # "C%3A%5C…"), so they are judged as written, after unquoting.
        plain = unquote(src)
        if WINDOWS_ABSOLUTE.match(plain) or plain.startswith("//"):
            return None, plain, "absolute path outside the vault"
        if url_scheme(plain):
            return None, plain, "only http and https pictures are fetched"
        target = unquote(src.split("#", 1)[0].split("?", 1)[0]).replace("\\", "/")
        found, reason = _locate(self.vault, note_rel, target)
        if found is None:
            return None, target, reason
        return self._outcome(("file", found), lambda: self._read(found), target)

    def _outcome(
        self, key: tuple[str, str], load: Callable[[], bytes], label: str
    ) -> tuple[FittedImage | None, str, str]:
        """Load and fit once per source in this call."""
        result = self._memo.get(key)
        if result is None:
            try:
                result = self._fit(load())
            except ImageError as exc:
                result = str(exc)
            self._memo[key] = result
        if isinstance(result, str):
            return None, label, result
        return result, label, ""

    def _fit(self, data: bytes) -> FittedImage:
        """fit_image, remembered on disk by the input's hash (a rebuild skips Pillow)."""
        key = _fit_key(self.options, data)
        record = self.cache.read_json(self.cache.fits, key)
        if record is not None:
            if isinstance(record.get("error"), str):
                raise ImageError(record["error"])
            stored = self.cache.read_blob(str(record.get("sha256")))
            fitted = _fitted_from_cache(stored, record)
            if fitted is not None:
                return fitted
        try:
            fitted = fit_image(data, self.options.max_image_width, self.options.max_image_pixels)
        except ImageError as exc:
            self._remember(key, {"error": str(exc)})
            raise
        try:
            sha256 = self.cache.write_blob(fitted.data)
        except OSError:
            return fitted
        record = {"sha256": sha256, "ext": fitted.ext}
        self._remember(key, {**record, "width": fitted.width, "height": fitted.height})
        return fitted

    def _remember(self, key: str, record: dict[str, object]) -> None:
        with contextlib.suppress(OSError):  # a read-only cache only costs time
            self.cache.write_json(self.cache.fits, key, record)

    def _read(self, rel: str) -> bytes:
        path = self.vault.root / rel
        if self._root_real is None:
            self._root_real = self.vault.root.resolve()
        try:
            real = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            raise ImageError("cannot be read (symlink loop)") from None
        if not real.is_relative_to(self._root_real):
            raise ImageError("it is a link to a file outside the vault")
        self.local_files.add(rel)
        try:
            return atomic.read_regular(real, MAX_LOCAL_BYTES)  # a named pipe never blocks
        except atomic.NotRegularFile:
            raise ImageError("not a regular file (a named pipe, device or socket)") from None
        except ValueError:
            raise ImageError(f"larger than {MAX_LOCAL_BYTES // (1024 * 1024)} MB") from None
        except OSError as exc:
            raise ImageError(f"cannot be read ({exc.strerror or type(exc).__name__})") from None


def _line_of(field: FieldHtml, src: str, cursor: int) -> tuple[int, int]:
    """The note line where this picture's target is written, and where to search next."""
    text = field.markdown
    if not text:
        return field.line, cursor
    plain = unquote(src)
    candidates = [src, plain, html.escape(src, quote=False), posixpath.basename(plain)]
    if src[:5].lower() == "data:":
        candidates = [src[:64]]
    for start in (cursor, 0):
        for candidate in candidates:
            if not candidate:
                continue
            at = text.find(candidate, start)
            if at >= 0:
                return field.line + text.count("\n", 0, at), at + len(candidate)
    return field.line, cursor


def _decode_data_url(src: str) -> bytes:
    header, comma, payload = src[5:].partition(",")
    if not comma:
        raise ImageError("malformed data: URL")
    limit = MAX_DATA_URL_BYTES
    if len(payload) > limit * 4 // 3 + 16 * 1024:
        raise ImageError(f"data: URL larger than {limit // (1024 * 1024)} MB")
    try:
        if header.lower().endswith(";base64"):
            data = base64.b64decode("".join(unquote(payload).split()))
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise ImageError("malformed data: URL") from None
    if len(data) > limit:
        raise ImageError(f"data: URL larger than {limit // (1024 * 1024)} MB")
    return data


# ---------------------------------------------------------------- local lookup


@dataclass
class _Index:
    """The vault's attachments by path and by name, exact and case-folded."""

    paths: frozenset[str]
    by_lower: dict[str, list[str]]
    by_name: dict[str, list[str]]
    by_name_lower: dict[str, list[str]]


_INDEXES: dict[int, tuple[tuple[str, ...], _Index]] = {}


def _index(vault: Vault) -> _Index:
    """Built once per attachments tuple (the build resolves folder after folder)."""
    cached = _INDEXES.get(id(vault.attachments))
    if cached is not None and cached[0] is vault.attachments:
        return cached[1]
    by_lower: dict[str, list[str]] = {}
    by_name: dict[str, list[str]] = {}
    by_name_lower: dict[str, list[str]] = {}
    # Shortest path first, then sorted: the same file wins on every machine.
    for rel in sorted(vault.attachments, key=lambda p: (p.count("/"), p)):
        name = rel.rsplit("/", 1)[-1]
        by_lower.setdefault(rel.lower(), []).append(rel)
        by_name.setdefault(name, []).append(rel)
        by_name_lower.setdefault(name.lower(), []).append(rel)
    index = _Index(frozenset(vault.attachments), by_lower, by_name, by_name_lower)
    if len(_INDEXES) >= 4:
        _INDEXES.clear()
    _INDEXES[id(vault.attachments)] = (vault.attachments, index)
    return index


def _locate(vault: Vault, note_rel: str, target: str) -> tuple[str | None, str]:
    """Find a local picture as Obsidian does; (vault-relative path, "") or (None, reason)."""
    target = target.strip()
    if not target:
        return None, "empty path"
    index = _index(vault)
    note_dir = posixpath.dirname(note_rel)
    from_root = target.startswith("/")
    target = target.lstrip("/")
    candidates = [] if from_root else [_join(note_dir, target)]
    candidates.append(_join("", target))
    if all(c is None for c in candidates):
        return None, "the path leads outside the vault"
    for candidate in candidates:
        if candidate is None:
            continue
        if candidate in index.paths:
            return candidate, ""
        folded = index.by_lower.get(candidate.lower())
        if folded:
            return folded[0], ""
    if from_root:
        return None, "not found in the vault"
    if any(c is None for c in candidates):
        return None, "the path leads outside the vault"
    name = target.rsplit("/", 1)[-1]
    suffix = "/" + target.lower()
    for table, key in ((index.by_name, name), (index.by_name_lower, name.lower())):
        matches = [
            rel
            for rel in table.get(key, ())
            if "/" not in target or ("/" + rel.lower()).endswith(suffix)
        ]
        if matches:
            folder = _attachment_folder(vault.attachment_folder, note_dir)
            preferred = [rel for rel in matches if _inside(rel, folder)]
            return (preferred or matches)[0], ""
    return None, "not found in the vault"


def _join(folder: str, target: str) -> str | None:
    """Normalised vault-relative path, None when it climbs out of the vault."""
    joined = posixpath.normpath(posixpath.join(folder, target)) if folder else target
    joined = posixpath.normpath(joined)
    if joined == ".." or joined.startswith("../") or joined == ".":
        return None
    return joined


def _attachment_folder(setting: str, note_dir: str) -> str:
    """Obsidian's attachmentFolderPath: "" or "/" = vault root, "./x" = next to the note."""
    folder = setting.strip().strip("/")
    if folder == "." or folder.startswith("./"):
        folder = posixpath.normpath(posixpath.join(note_dir, folder))
        return "" if folder == "." else folder
    return folder


def _inside(rel: str, folder: str) -> bool:
    return "/" not in rel if not folder else rel.startswith(folder + "/")


def _fitted_from_cache(data: bytes | None, record: dict) -> FittedImage | None:
    """A cached fit, when the record checks out (the cache is read back, not trusted)."""
    ext, width, height = record.get("ext"), record.get("width"), record.get("height")
    if data is None or ext not in ("png", "jpg", "gif", "svg"):
        return None
    if ext == "svg":
        return FittedImage(data, ext, None, None)
    if not all(type(n) is int and 0 < n < 1 << 31 for n in (width, height)):
        return None
    return FittedImage(data, ext, width, height)


def _fit_key(options: MediaOptions, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    limits = f"{options.max_image_width}:{options.max_image_pixels}"
    return f"fit{FIT_VERSION}:{PILLOW_VERSION}:{limits}:{digest}"
