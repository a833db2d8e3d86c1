"""Resolve media: every <img> of the rendered fields becomes a picture in the deck's media, and
every Anki ``[sound:…]`` tag (an audio or video embed, or one written by hand) a sound file.

Local pictures are found as Obsidian finds them (next to the note, from the vault root, then
by file name anywhere), remote ones come from the Fetcher's outcomes (fetch.py), and all are
checked and fitted by images.py. A picture that cannot be included never leaves a dangling
reference: its <img> becomes a visible placeholder and a warning names the note's line.
Anki plays a ``[sound:name]`` wherever it stands in a field, so each one is either a file of
the vault put in the package under its media name, or neutralised (with a warning).
No network here; fitted pictures are remembered in the on-disk cache by input hash.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import html
import operator
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from PIL import __version__ as PILLOW_VERSION

from . import atomic
from .fetch import DiskCache, Fetcher, FetchOutcome, MediaOptions
from .htmltext import html_to_text
from .images import (
    DEFLATE,
    FIT_VERSION,
    FittedImage,
    ImageError,
    fit_image,
    looks_like_sound,
    media_name,
)
from .mdplugins import is_sound_path
from .obsidian import url_scheme
from .records import CardField, Diagnostic, MediaFile, RenderedCard, RenderedNote, Vault

__all__ = [
    "FetchOutcome",
    "Fetcher",
    "MediaOptions",
    "MediaResult",
    "neutralise_sounds",
    "remote_urls",
    "resolve_media",
]

MAX_DATA_URL_BYTES = 1024 * 1024
MAX_LOCAL_BYTES = 100 * 1024 * 1024
MAX_SOUND_TAGS = 1000  # per field; beyond, none is resolved (each costs a look-up)

# nh3 writes attributes double-quoted with &, " escaped, but ">" may stay raw inside a value.
IMG_TAG = re.compile(r"""<img\b((?:[^>"']|"[^"]*"|'[^']*')*)>""", re.IGNORECASE)
ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
WINDOWS_ABSOLUTE = re.compile(r"[A-Za-z]:[\\/]|\\\\")
# A tag of the sanitised HTML (attribute values double-quoted), or an Anki sound tag in text.
# Anki's own pattern is "[sound:" up to the first "]" (some Anki clients ignore case: so do we).
TAG_OR_SOUND = re.compile(r"""<[^>"]*(?:"[^"]*"[^>"]*)*>|\[(?i:sound):([^\]]*)\]""")
SOUND_OPEN = re.compile(r"\[(sound:)", re.IGNORECASE)
TAG = re.compile(r"<[^>]*>")
CODE_TAG = re.compile(r"</?(?:code|pre)\b", re.IGNORECASE)


@dataclass(frozen=True)
class MediaResult:
    """The notes with their fields' pictures rewritten, the media they need, what went wrong."""

    notes: tuple[RenderedNote, ...]  # same notes; every <img> and [sound:…] rewritten or replaced
    media: tuple[MediaFile, ...]  # deduplicated, sorted by name
    diagnostics: tuple[Diagnostic, ...]  # path = note_rel, line = the picture's own line
    local_files: tuple[str, ...]  # vault-relative paths of local pictures read
    # Pictures that could not be included and will not be until something changes: a local
    # file not found ("name:" + its file name, case-folded), a remote picture that failed for
    # good ("url:" + its URL) or was not in the cache of an offline build ("offline:" + URL).
    # See state.FolderRecord.missing.
    missing: tuple[str, ...] = ()
    retry: bool = False  # a picture failed in a way that may pass next time (the network)


def remote_urls(notes: Iterable[RenderedNote]) -> list[str]:
    """The http(s) URLs of every picture and sound in the notes' fields, deduplicated and
    sorted."""
    urls: set[str] = set()
    for field in (field for note in notes for field in note.all_fields()):
        if _has_img(field.html):
            for match in IMG_TAG.finditer(field.html):
                src = _src(_attributes(match.group(1)))
                if src and _is_remote(src):
                    urls.add(src)
        if _has_sound(field.html):
            urls.update(name for name in _sound_names(field.html) if _is_remote(name))
    return sorted(urls)


def _sound_names(text: str) -> list[str]:
    """The names of the [sound:…] tags Resolver.sounds() resolves (not in code, no markup)."""
    if text.lower().count("[sound:") > MAX_SOUND_TAGS:
        return []
    names = []
    code = 0
    for match in TAG_OR_SOUND.finditer(text, 0, text.rfind("]") + 1):
        whole = match.group(0)
        if whole[0] == "<":
            if CODE_TAG.match(whole):
                code = max(0, code + (-1 if whole[1] == "/" else 1))
        elif not code and "<" not in whole:
            names.append(html.unescape(match.group(1)).strip())
    return names


def resolve_media(
    notes: Sequence[RenderedNote],
    vault: Vault,
    options: MediaOptions,
    fetched: Mapping[str, FetchOutcome],
) -> MediaResult:
    """Rewrite every <img> of the notes' fields (every field of every card, and the notes'
    references) to a fitted media file, or to a placeholder with a warning."""
    resolver = _Resolver(vault, options, fetched)
    resolver.prefit(notes, os.cpu_count() or 1)
    return MediaResult(
        notes=tuple(map(resolver.note, notes)),
        media=tuple(resolver.media[name] for name in sorted(resolver.media)),
        diagnostics=tuple(sorted(resolver.diagnostics)),
        local_files=tuple(sorted(resolver.local_files)),
        missing=tuple(sorted(resolver.missing)),
        retry=resolver.retry,
    )


def neutralise_sounds(text: str) -> str:
    """HTML made from note text outside the media stage (context, file names): a "[sound:" in
    it is shown as written, never played, never a missing file in Anki."""
    return SOUND_OPEN.sub(r"<span>[</span>\1", text) if _has_sound(text) else text


def _has_sound(text: str) -> bool:
    """Cheap test first: most fields have no "[" at all."""
    return "[" in text and "[sound:" in text.lower()


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


def _url_file_name(url: str) -> str:
    """ "x y.png" for "https://host/a/x%20y.png?v=2"; the URL itself when it names no file."""
    try:
        path = urlsplit(url).path
    except ValueError:  # "http://[::1/x.png": a malformed host
        return url
    return unquote(posixpath.basename(path)) or url


def _is_remote(src: str) -> bool:
    return src[:8].lower().startswith(("http://", "https://"))


# ---------------------------------------------------------------- the stage


@dataclass(frozen=True)
class _Source:
    key: tuple[str, str]  # one fit per key in a resolve_media call
    load: Callable[[], bytes]
    label: str


@dataclass(frozen=True)
class _Missing:
    label: str
    reason: str


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
        self.missing: set[str] = set()
        self.retry = False
        self._memo: dict[tuple[str, str], FittedImage | str] = {}
        self._sound_memo: dict[str, MediaFile | str] = {}
        self._root_real: Path | None = None

    def note(self, note: RenderedNote) -> RenderedNote:
        """The note with its cards' fields and its references rewritten (the same records
        where nothing changed: a folder's HTML is not copied)."""
        cards = tuple(self.card(note.note.rel, card) for card in note.cards)
        references = note.references
        if references is not None:
            references = self.field(note.note.rel, references)
        if references is note.references and all(map(operator.is_, cards, note.cards)):
            return note
        return dataclasses.replace(note, cards=cards, references=references)

    def card(self, rel: str, card: RenderedCard) -> RenderedCard:
        fields = tuple(self.field(rel, field) for field in card.fields)
        if all(map(operator.is_, fields, card.fields)):
            return card
        return dataclasses.replace(card, fields=fields)

    def field(self, rel: str, field: CardField) -> CardField:
        """One field of note `rel` with its pictures and sounds resolved."""
        text = self.rewrite(rel, field) if _has_img(field.html) else field.html
        if _has_sound(text):
            text = self.sounds(rel, field, text)
        return field if text == field.html else dataclasses.replace(field, html=text)

    def rewrite(self, rel: str, field: CardField) -> str:
        cursor = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal cursor
            attributes = _attributes(match.group(1))
            src = _src(attributes)
            if not src:
                return match.group(0)
            line, cursor = _line_of(field, src, cursor)
            fitted, label, reason = self._picture(rel, src)
            if fitted is not None:
                self.media.setdefault(fitted.name, MediaFile(fitted.name, fitted.data))
                self._note_stale(rel, line, src)
                return _img_tag(attributes, fitted.name)
            self.diagnostics.add(
                Diagnostic(rel, line, "warning", f"picture {label} not included: {reason}")
            )
            self._note_missing(rel, src)
            if _is_remote(src):
                # The alt text, else the file's name: "diagram.png", never "diagram: diagram".
                alt = next((v.strip() for n, v in attributes if n == "alt" and v), "")
                name = _url_file_name(src)
                return (
                    f'<a class="missing-media" href="{html.escape(src)}">'
                    f"missing picture: {html.escape(alt or name)}</a>"
                )
            return f'<span class="missing-media">missing picture: {html.escape(label)}</span>'

        return IMG_TAG.sub(replace, field.html)

    def _note_missing(self, note_rel: str, src: str) -> None:
        """What would make a picture that is missing worth another try (see MediaResult)."""
        found = self._source(note_rel, src)
        if _is_remote(src):
            outcome = self.fetched.get(src)
            if self.options.offline:
                self.missing.add(f"offline:{src}")  # until a build is online
            # Gone, or fetched but not a picture: the same answer again, until the cache
            # holds something else for it.
            elif outcome is not None and (outcome.lasting or outcome.data is not None):
                self.missing.add(f"url:{src}")
            else:
                self.retry = True
        elif isinstance(found, _Missing):
            if src[:5].lower() != "data:":  # a data: URL is in the note: its stamp covers it
                target = unquote(src.split("#", 1)[0].split("?", 1)[0]).replace("\\", "/")
                self.missing.add(f"name:{target.rsplit('/', 1)[-1].strip().lower()}")
        elif found.key[0] == "file" and found.key[1] not in self.local_files:
            self.retry = True  # not read (a link out of the vault): no stamp to watch

    def _note_stale(self, note_rel: str, line: int, src: str, kind: str = "picture") -> None:
        """A cached copy stood in for a failed download: say so, with its date."""
        outcome = self.fetched.get(src) if _is_remote(src) else None
        if outcome is None or outcome.source != "stale":
            return
        when = "an earlier build"
        if outcome.cached_on is not None:
            with contextlib.suppress(OverflowError, OSError, ValueError):
                when = datetime.fromtimestamp(outcome.cached_on).strftime("%Y-%m-%d %H:%M")
        message = f"{kind} {src}: {outcome.error}; using the copy cached on {when}"
        self.diagnostics.add(Diagnostic(note_rel, line, "note", message))

    # ------------------------------------------------------------ [sound:…]

    def sounds(self, rel: str, field: CardField, text: str) -> str:
        """Every [sound:…] of a field: a vault file put in the package, or neutralised."""
        code = 0  # inside <code>/<pre>: Anki syntax shown as text, not played
        cursor = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal code, cursor
            whole = match.group(0)
            if whole[0] == "<":
                if CODE_TAG.match(whole):
                    code = max(0, code + (-1 if whole[1] == "/" else 1))
                if not _has_sound(whole):
                    return whole
                line, cursor = _line_of(field, "[sound:", cursor)
                message = "[sound:…] inside an HTML attribute cannot be played; kept as text"
                self.diagnostics.add(Diagnostic(rel, line, "warning", message))
                return SOUND_OPEN.sub(r"&#91;\1", whole)
            in_code = code > 0
            if "<" in whole:  # markup inside: neutralise in place, keeping the tags balanced
                for tag in TAG.finditer(whole):
                    if CODE_TAG.match(tag.group(0)):
                        code = max(0, code + (-1 if tag.group(0)[1] == "/" else 1))
                if not in_code:
                    label = html_to_text(match.group(1), gap="", collapse=False)
                    label = label.replace("[", "").strip()
                    line, cursor = _line_of(field, label, cursor)
                    if _is_remote(label):
                        reason = "write a remote sound as ![](URL)"
                    else:
                        reason = self._sound(rel, label)[1] or "Markdown changed it"
                    message = f"sound {label} not included: {reason}"
                    self.diagnostics.add(Diagnostic(rel, line, "warning", message))
            if in_code or "<" in whole:
                return "<span>[</span>" + SOUND_OPEN.sub(r"<span>[</span>\1", whole[1:])
            name = html.unescape(match.group(1)).strip()
            line, cursor = _line_of(field, name, cursor)
            sound, reason = self._sound(rel, name)
            if sound is not None:
                self.media.setdefault(sound.name, sound)
                self._note_stale(rel, line, name, "sound")
                return f"[sound:{sound.name}]"
            label = name.replace("[", "")
            self.diagnostics.add(
                Diagnostic(rel, line, "warning", f"sound {label} not included: {reason}")
            )
            if _is_remote(name):
                return (
                    f'<a class="missing-media" href="{html.escape(name)}">'
                    f"missing sound: {html.escape(_url_file_name(name))}</a>"
                )
            return f'<span class="missing-media">missing sound: {html.escape(label)}</span>'

        if text.lower().count("[sound:") > MAX_SOUND_TAGS:
            message = f"more than {MAX_SOUND_TAGS} [sound:…] in one field: none is played"
            self.diagnostics.add(Diagnostic(rel, field.line, "warning", message))
            return SOUND_OPEN.sub(r"&#91;\1", text)
        # Past the last "]" no sound tag can close: the pattern runs only up to it (else every
        # "[sound:" there would scan to the end), and an unclosed one that could pair with a
        # "]" of another field on the card is neutralised (an entity: it may be in an attribute).
        end = text.rfind("]") + 1
        head = TAG_OR_SOUND.sub(replace, text[:end])
        return head + SOUND_OPEN.sub(r"&#91;\1", text[end:])

    def _sound(self, note_rel: str, name: str) -> tuple[MediaFile | None, str]:
        """The vault file a [sound:name] means, as a media file; or (None, reason)."""
        if not name:
            return None, "no file name"
        if _is_remote(name):
            return self._remote_sound(name)
        plain = name.replace("\\", "/")
        if WINDOWS_ABSOLUTE.match(name) or plain.startswith("//"):
            return None, "absolute path outside the vault"
        if url_scheme(plain):
            return None, "only files in the vault and http(s) URLs are played"
        found, reason = _locate(self.vault, note_rel, plain)
        if found is None and "%" in plain:
            found, reason = _locate(self.vault, note_rel, unquote(plain))
        if found is None:
            return None, reason
        if not is_sound_path(found):
            return None, "not an audio or video file"
        memo = self._sound_memo.get(found)
        if memo is None:
            try:
                data = self._read(found)
                if not looks_like_sound(data):
                    raise ImageError("not an audio or video file")
                ext = found.rsplit(".", 1)[-1].lower()
                memo = MediaFile(media_name(data, ext), data)
            except ImageError as exc:
                memo = str(exc)
            self._sound_memo[found] = memo
        if isinstance(memo, str):
            return None, memo
        return memo, ""

    def _remote_sound(self, url: str) -> tuple[MediaFile | None, str]:
        """A downloaded sound (fetch.py fetched it with the pictures)."""
        if not is_sound_path(url):
            return None, "not an audio or video file name"
        outcome = self.fetched.get(url)
        if outcome is None:
            return None, "not fetched"
        if outcome.data is None:
            return None, outcome.error
        if not looks_like_sound(outcome.data):
            return None, "not an audio or video file"
        ext = _url_file_name(url).rsplit(".", 1)[-1].lower()
        return MediaFile(media_name(outcome.data, ext), outcome.data), ""

    def _picture(self, note_rel: str, src: str) -> tuple[FittedImage | None, str, str]:
        """(fitted picture or None, label for messages, reason it is missing)."""
        found = self._source(note_rel, src)
        if isinstance(found, _Missing):
            return None, found.label, found.reason
        result = self._memo.get(found.key)
        if result is None:
            result = self._memo[found.key] = self._fitted_or_reason(found.load)
        if isinstance(result, str):
            return None, found.label, result
        return result, found.label, ""

    def prefit(self, notes: Sequence[RenderedNote], threads: int) -> None:
        """Fit every picture the notes' fields use, `threads` at a time: Pillow decodes, scales
        and encodes with the GIL released, so the pictures of a folder use every core.
        rewrite() then finds them done."""
        sources: dict[tuple[str, str], Callable[[], bytes]] = {}
        for rel, field in ((note.note.rel, f) for note in notes for f in note.all_fields()):
            if not _has_img(field.html):
                continue
            for match in IMG_TAG.finditer(field.html):
                src = _src(_attributes(match.group(1)))
                found = self._source(rel, src) if src else None
                if isinstance(found, _Source) and found.key not in self._memo:
                    sources.setdefault(found.key, found.load)
        if len(sources) < 2 or threads < 2:
            return
        with ThreadPoolExecutor(min(threads, len(sources))) as pool:
            results = pool.map(self._fitted_or_reason, sources.values())
            self._memo.update(zip(sources, results, strict=True))

    def _source(self, note_rel: str, src: str) -> _Source | _Missing:
        """Where a picture's bytes come from, or why there are none."""
        if _is_remote(src):
            outcome = self.fetched.get(src)
            if outcome is None:
                return _Missing(src, "not fetched")
            if outcome.data is None:
                return _Missing(src, outcome.error)
            payload = outcome.data
            return _Source(("url", src), lambda: payload, src)
        if src[:5].lower() == "data:":
            label = src[:40] + ("…" if len(src) > 40 else "")
            return _Source(("data", src), lambda: _decode_data_url(src), label)
        # The render stage percent-encodes the colon of other schemes ("ftp%3A//…",
        # "C%3A%5C…"), so they are judged as written, after unquoting.
        plain = unquote(src)
        if WINDOWS_ABSOLUTE.match(plain) or plain.startswith("//"):
            return _Missing(plain, "absolute path outside the vault")
        if url_scheme(plain):
            return _Missing(plain, "only http and https pictures are fetched")
        target = unquote(src.split("#", 1)[0].split("?", 1)[0]).replace("\\", "/")
        found, reason = _locate(self.vault, note_rel, target)
        if found is None:
            return _Missing(target, reason)
        return _Source(("file", found), lambda: self._read(found), target)

    def _fitted_or_reason(self, load: Callable[[], bytes]) -> FittedImage | str:
        try:
            return self._fit(load())
        except ImageError as exc:
            return str(exc)

    def _fit(self, data: bytes) -> FittedImage:
        """fit_image, remembered on disk by the input's hash (a rebuild skips Pillow)."""
        digest = hashlib.sha256(data).hexdigest()
        key = _fit_key(self.options, digest)
        record = self.cache.read_json(self.cache.fits, key)
        if record is not None:
            if isinstance(record.get("error"), str):
                raise ImageError(record["error"])
            sha256 = str(record.get("sha256"))
            fitted = _fitted_from_cache(self.cache.read_blob(sha256), sha256, record)
            if fitted is not None:
                return self._named(fitted, digest)
        try:
            fitted = fit_image(data, self.options.max_image_width, self.options.max_image_pixels)
        except ImageError as exc:
            self._remember(key, {"error": str(exc)})
            raise
        try:
            sha256 = self.cache.write_blob(fitted.data)
        except OSError:
            return self._named(fitted, digest)
        record = {"sha256": sha256, "ext": fitted.ext, "stable": fitted.stable}
        self._remember(key, {**record, "width": fitted.width, "height": fitted.height})
        return self._named(replace(fitted, sha256=sha256), digest)

    def _named(self, fitted: FittedImage, digest: str) -> FittedImage:
        """A picture ankigen encoded is named by its input and how it was fitted, not by its
        bytes, which differ between machines (FittedImage.stable)."""
        if fitted.stable:
            return fitted
        limits = f"{self.options.max_image_width}:{self.options.max_image_pixels}"
        return replace(fitted, name_from=f"fit{FIT_VERSION}:{limits}:{digest}")

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


def _line_of(field: CardField, src: str, cursor: int) -> tuple[int, int]:
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


def _fitted_from_cache(data: bytes | None, sha256: str, record: dict) -> FittedImage | None:
    """A cached fit, when the record checks out (the cache is read back, not trusted; read_blob
    checked that `data` hashes to `sha256`)."""
    ext, width, height = record.get("ext"), record.get("width"), record.get("height")
    stable = record.get("stable")
    if data is None or ext not in ("png", "jpg", "gif", "svg") or type(stable) is not bool:
        return None
    if ext == "svg":
        return FittedImage(data, ext, None, None, sha256, stable)
    if not all(type(n) is int and 0 < n < 1 << 31 for n in (width, height)):
        return None
    return FittedImage(data, ext, width, height, sha256, stable)


def _fit_key(options: MediaOptions, digest: str) -> str:
    limits = f"{options.max_image_width}:{options.max_image_pixels}"
    return f"fit{FIT_VERSION}:{PILLOW_VERSION}:{DEFLATE}:{limits}:{digest}"
