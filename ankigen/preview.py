"""`ankigen preview`: a static site, OUT/preview/index.html, made from the packages themselves.

Each .apkg is read back (its collection, note types and media) and every card's front and
back are rendered from the note type's templates the way Anki renders them (render_card,
checked against the `anki` package's own renderer by the tests). The page needs no network
and no framework: the cards are in small scripts beside it (loaded by <script>, which works
from file:// too), each card in a shadow root with its note type's CSS, as in Anki.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import atomic
from .htmltext import html_to_text
from .package import ASSETS
from .records import Diagnostic

if TYPE_CHECKING:
    from .build import BuildReport

PREVIEW_DIR = "preview"
_STATE = "state.json"
_FORMAT = 1
_MAX_COLLECTION = 2 * 1024**3

# ---------------------------------------------------------------- Anki's template language


def field_is_empty(text: str) -> bool:
    """Anki's test for {{#Field}}: only whitespace, <br> and <div> tags."""
    at = 0
    while at < len(text):
        char = text[at]
        if char.isspace():
            at += 1
            continue
        if char != "<":
            return False
        close = text.find(">", at)
        if close < 0:
            return False
        tag = text[at + 1 : close].lower()
        tag = tag.removeprefix("/").removesuffix("/").removesuffix(" ")
        if tag not in ("br", "div"):
            return False
        at = close + 1
    return True


@dataclass(frozen=True)
class CardContext:
    """What a template can name besides the note's fields."""

    fields: Mapping[str, str]
    ord: int  # the card's template ord, or its cloze number minus one
    cloze: bool
    tags: tuple[str, ...] = ()
    deck: str = ""
    note_type: str = ""
    template: str = ""


def render_template(template: str, ctx: CardContext, question: bool, front: str = "") -> str:
    """The template with its fields, conditionals and filters replaced."""
    out: list[str] = []
    skip: list[tuple[str, bool]] = []  # open sections: (field, shown)
    at = 0
    while True:
        start = template.find("{{", at)
        if start < 0:
            if all(shown for _, shown in skip):
                out.append(template[at:])
            break
        end = template.find("}}", start + 2)
        if end < 0:
            if all(shown for _, shown in skip):
                out.append(template[at:])
            break
        visible = all(shown for _, shown in skip)
        if visible:
            out.append(template[at:start])
        tag = template[start + 2 : end].strip()
        at = end + 2
        if tag[:1] in ("#", "^"):
            name = tag[1:].strip()
            empty = field_is_empty(_field_value(name, ctx, front))
            skip.append((name, (not empty) if tag[0] == "#" else empty))
        elif tag[:1] == "/":
            if skip:
                skip.pop()
        elif visible:
            out.append(_replacement(tag, ctx, question, front))
    return "".join(out)


def _field_value(name: str, ctx: CardContext, front: str) -> str:
    if name in ctx.fields:
        return ctx.fields[name]
    special = {
        "FrontSide": front,
        "Tags": " ".join(ctx.tags),
        "Deck": ctx.deck,
        "Subdeck": ctx.deck.rsplit("::", 1)[-1],
        "Type": ctx.note_type,
        "Card": ctx.template,
        "CardFlag": "",
    }
    return special.get(name, "")


def _replacement(tag: str, ctx: CardContext, question: bool, front: str) -> str:
    *filters, name = (part.strip() for part in tag.split(":"))
    if name == "FrontSide" and not filters:
        return front
    text = _field_value(name, ctx, front)
    for name_ in reversed(filters):
        if name_ == "cloze":
            text = render_cloze(text, ctx.ord + 1, question) if ctx.cloze else text
        elif name_ == "text":
            text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return text


# ---------------------------------------------------------------- clozes

_OPEN = "{{c"
MAX_CLOZE_DEPTH = 32  # deeper clozes are shown as text (no note nests them so deep)


@dataclass
class _Cloze:
    number: int
    parts: list[Any] = field(default_factory=list)  # str or _Cloze
    hint: str = ""


def _parse_clozes(text: str) -> list[Any]:
    """Text and clozes, nested clozes inside their parent, as Anki's parser reads them."""
    root: list[Any] = []
    stack: list[_Cloze] = []
    at = 0
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            (stack[-1].parts if stack else root).append("".join(buffer))
            buffer.clear()

    while at < len(text):
        if text.startswith(_OPEN, at) and len(stack) < MAX_CLOZE_DEPTH:
            digits_end = at + 3
            while digits_end < len(text) and text[digits_end].isdigit():
                digits_end += 1
            if digits_end > at + 3 and text.startswith("::", digits_end):
                flush()
                stack.append(_Cloze(int(text[at + 3 : digits_end])))
                at = digits_end + 2
                continue
        if text.startswith("}}", at) and stack:
            flush()
            cloze = stack.pop()
            _split_hint(cloze)
            (stack[-1].parts if stack else root).append(cloze)
            at += 2
            continue
        buffer.append(text[at])
        at += 1
    flush()
    while stack:  # an unclosed cloze is text, as written
        cloze = stack.pop()
        parts: list[Any] = [f"{_OPEN}{cloze.number}::", *cloze.parts]
        (stack[-1].parts if stack else root).extend(parts)
    return root


def _split_hint(cloze: _Cloze) -> None:
    """The last "::" of the cloze's last piece of text starts its hint."""
    if cloze.parts and isinstance(cloze.parts[-1], str) and "::" in cloze.parts[-1]:
        body, cloze.hint = cloze.parts[-1].rsplit("::", 1)
        cloze.parts[-1] = body


def _plain(node: Any) -> str:
    if isinstance(node, str):
        return node
    return "".join(_plain(part) for part in node.parts)


def _has(nodes: Iterable[Any], number: int) -> bool:
    return any(
        isinstance(node, _Cloze) and (node.number == number or _has(node.parts, number))
        for node in nodes
    )


def render_cloze(text: str, number: int, question: bool) -> str:
    """The cloze field for card `number`: Anki's spans, [...] or [hint] on the front."""
    nodes = _parse_clozes(text)
    if not _has(nodes, number):
        return ""
    return "".join(_render_nodes(nodes, number, question))


def _render_nodes(nodes: list[Any], number: int, question: bool) -> Iterable[str]:
    for node in nodes:
        if isinstance(node, str):
            yield node
            continue
        if node.number == number and question:
            content = _cloze_answer_text(node, number)
            shown = f"[{node.hint}]" if node.hint else "[...]"
            yield (
                f'<span class="cloze" data-cloze="{_encode_attribute(content)}" '
                f'data-ordinal="{node.number}">{shown}</span>'
            )
        else:
            inner = "".join(_render_nodes(node.parts, number, question))
            kind = "cloze" if node.number == number else "cloze-inactive"
            yield f'<span class="{kind}" data-ordinal="{node.number}">{inner}</span>'


def _cloze_answer_text(node: _Cloze, number: int) -> str:
    return "".join(_render_nodes(node.parts, number, False))


def _encode_attribute(text: str) -> str:
    """Anki's attribute encoding (htmlescape's encode_attribute)."""
    out = []
    for char in text:
        if char.isascii() and char.isalnum():
            out.append(char)
        elif char == "&":
            out.append("&amp;")
        elif char == "<":
            out.append("&lt;")
        elif char == ">":
            out.append("&gt;")
        elif char == '"':
            out.append("&quot;")
        elif ord(char) < 256:
            out.append(f"&#x{ord(char):X};")
        else:
            out.append(char)
    return "".join(out)


# ---------------------------------------------------------------- a card, both sides


def render_card(qfmt: str, afmt: str, ctx: CardContext) -> tuple[str, str]:
    """(front, back) as Anki renders them, before its sound tags become play buttons."""
    front = render_template(qfmt, ctx, question=True)
    back = render_template(afmt, ctx, question=False, front=front)
    return front, back


_SOUND = re.compile(r"\[sound:([^\]\[]*)\]")


def anki_play_tags(text: str, side: str) -> str:
    """[sound:x] as Anki's card.question()/answer() write it: [anki:play:q:0], …"""
    counter = iter(range(1 << 30))
    return _SOUND.sub(lambda _: f"[anki:play:{side}:{next(counter)}]", text)


_SRC = re.compile(r"""(\bsrc=)("[^"]*"|'[^']*')""")


def for_page(text: str, media: Mapping[str, str]) -> str:
    """A rendered side as the preview shows it: media from media/, sounds as players."""

    def src(match: re.Match[str]) -> str:
        value = match.group(2)[1:-1]
        name = html.unescape(value)
        if name in media:
            return f'{match.group(1)}"{html.escape(media[name])}"'
        return match.group(0)

    def sound(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in media:
            return html.escape(match.group(0), quote=False)
        return f'<audio controls preload="none" src="{html.escape(media[name])}"></audio>'

    return _SOUND.sub(sound, _SRC.sub(src, text))


_STYLE = re.compile(r"<(style|script)\b[^<>]*>[^<]*</\1>", re.IGNORECASE)


def plain_text(text: str) -> str:
    """The words of rendered HTML, for the search box."""
    return html_to_text(_STYLE.sub(" ", text))


# ---------------------------------------------------------------- reading a package


@dataclass(frozen=True)
class PreviewCard:
    deck: str
    note_type: str
    template: str
    tags: tuple[str, ...]
    front: str  # as Anki renders it (sounds still [sound:…])
    back: str
    source: str  # "rel/path.md:LINE" ("" when the note has no Source field)
    css: str
    guid: str
    ord: int


@dataclass(frozen=True)
class PreviewPackage:
    cards: tuple[PreviewCard, ...]
    media: dict[str, bytes]  # name → data


_SOURCE = re.compile(r">([^<>]*):(\d+)</a>")


def read_package(path: Path) -> PreviewPackage:
    """Every card of one .apkg (ours: the legacy schema), rendered from its templates."""
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as work:
        info = archive.getinfo("collection.anki2")
        if info.file_size > _MAX_COLLECTION:
            raise ValueError("collection too large")
        database = Path(work) / "collection.anki2"
        with archive.open(info) as source, open(database, "wb") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
        media_map = json.loads(archive.read("media"))
        media = {name: archive.read(index) for index, name in media_map.items()}
        cards = _cards(database)
    return PreviewPackage(tuple(cards), media)


def _cards(database: Path) -> list[PreviewCard]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        models_json, decks_json = connection.execute("select models, decks from col").fetchone()
        models = json.loads(models_json)
        decks = {int(did): deck["name"] for did, deck in json.loads(decks_json).items()}
        rows = connection.execute(
            "select n.guid, n.mid, n.flds, n.tags, c.ord, c.did from cards c "
            "join notes n on n.id = c.nid order by c.did, c.due, c.ord, c.id"
        ).fetchall()
    finally:
        connection.close()
    cards = []
    for guid, mid, flds, tags, ord_, did in rows:
        model = models[str(mid)]
        names = [f["name"] for f in sorted(model["flds"], key=lambda f: f["ord"])]
        values = dict(zip(names, flds.split("\x1f"), strict=False))
        cloze = model.get("type") == 1
        templates = sorted(model["tmpls"], key=lambda t: t["ord"])
        template = templates[0] if cloze else templates[min(ord_, len(templates) - 1)]
        deck = decks.get(did, "")
        ctx = CardContext(
            values, ord_, cloze, tuple(tags.split()), deck, model["name"], template["name"]
        )
        front, back = render_card(template["qfmt"], template["afmt"], ctx)
        found = _SOURCE.search(values.get("Source", ""))
        source = f"{html.unescape(found.group(1))}:{found.group(2)}" if found else ""
        css = model.get("css", "")
        cards.append(
            PreviewCard(
                deck,
                model["name"],
                template["name"],
                ctx.tags,
                front,
                back,
                source,
                css,
                guid,
                ord_,
            )
        )
    return cards


# ---------------------------------------------------------------- the site


def write_preview(
    out_dir: Path, report: BuildReport, vault: Path, diagnostics: Iterable[Diagnostic]
) -> Path:
    """Write OUT/preview/index.html for the packages of this build; return its path.

    A package unchanged since the last preview (same size and time) is not read again."""
    site = out_dir / PREVIEW_DIR
    (site / "cards").mkdir(parents=True, exist_ok=True)
    (site / "media").mkdir(exist_ok=True)
    state = _load_state(site)
    packages = sorted({*report.written, *report.unchanged})
    kept: dict[str, list[Any]] = {}
    for number, name in enumerate(packages):
        path = out_dir / name
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        script = f"cards/{Path(name).stem}.js"
        old = state.get(name)
        if old and old[:2] == stamp and (site / script).is_file():
            kept[name] = old
            continue
        card_sources = _write_package_script(site, path, number, script)
        kept[name] = [*stamp, script, card_sources]
    for name, old in state.items():  # packages gone from the build
        if name not in kept and isinstance(old, list) and len(old) > 2:
            (site / str(old[2])).unlink(missing_ok=True)
    _write_warnings(site, diagnostics)
    page = site / "index.html"
    scripts = [kept[name][2] for name in packages]
    _write_text(page, _page(vault.name, scripts))
    _write_text(site / _STATE, json.dumps({"format": _FORMAT, "packages": kept}))
    return page


def _write_package_script(site: Path, path: Path, number: int, script: str) -> list[str]:
    """Write the package's cards (and their media) as the page script `script`; return the
    notes they come from."""
    try:
        package = read_package(path)
    except (OSError, ValueError, KeyError, sqlite3.Error, zipfile.BadZipFile) as error:
        raise OSError(f"cannot read {path} for the preview: {error}") from error
    media = {}
    for media_name, data in package.media.items():
        media[media_name] = _write_media(site, media_name, data)
    styles: dict[str, str] = {}
    records = []
    for index, card in enumerate(package.cards):
        css_id = "css-" + hashlib.sha256(card.css.encode()).hexdigest()[:12]
        styles[css_id] = card.css
        records.append(
            {
                "id": f"p{number}c{index}",
                "deck": card.deck,
                "type": card.note_type,
                "template": card.template,
                "tags": list(card.tags),
                "source": card.source,
                "css": css_id,
                "front": for_page(card.front, media),
                "back": for_page(card.back, media),
                "text": plain_text(f"{card.front} {card.back}"),
            }
        )
    payload = json.dumps({"package": path.name, "cards": records, "css": styles})
    _write_text(site / script, f"ankigenPreview.packages.push({_script_safe(payload)});\n")
    return sorted({card.source.rsplit(":", 1)[0] for card in package.cards})


def _write_warnings(site: Path, diagnostics: Iterable[Diagnostic]) -> None:
    """warnings.js: the build's diagnostics for the page."""
    from .diagnostics import code_of

    warnings = [
        {
            "file": item.path,
            "line": item.line,
            "severity": item.severity,
            "code": code_of(item),
            "message": item.message,
        }
        for item in diagnostics
    ]
    _write_text(
        site / "warnings.js",
        f"ankigenPreview.diagnostics = {_script_safe(json.dumps(warnings))};\n",
    )


def _write_media(site: Path, name: str, data: bytes) -> str:
    """media/<name>, written only when missing or different; returns its page-relative URL."""
    target = site / "media" / os.path.basename(name)
    try:
        same = target.stat().st_size == len(data) and target.read_bytes() == data
    except OSError:
        same = False
    if not same:
        atomic.write_bytes(target, data)
    return f"media/{target.name}"


def _write_text(path: Path, text: str) -> None:
    atomic.write_bytes(path, text.encode("utf-8"))


def _script_safe(text: str) -> str:
    """JSON inside a <script>: "</" and line separators cannot end or break it."""
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _load_state(site: Path) -> dict[str, list[Any]]:
    try:
        data = json.loads((site / _STATE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return {}
    packages = data.get("packages")
    if not isinstance(packages, dict):
        return {}
    return {
        name: value
        for name, value in packages.items()
        if isinstance(value, list) and len(value) == 4 and isinstance(value[2], str)
    }


def _page(title: str, scripts: list[str]) -> str:
    css = (ASSETS / "preview.css").read_text("utf-8")
    js = (ASSETS / "preview.js").read_text("utf-8")
    tags = "\n".join(f'<script src="{html.escape(s)}"></script>' for s in scripts)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · ankigen preview</title>
<style>
{css}
</style>
</head>
<body>
<header>
  <h1>{html.escape(title)} <span id="total"></span></h1>
  <div class="controls">
    <input id="search" type="search" placeholder="Search cards" aria-label="Search cards">
    <select id="deck" aria-label="Deck"><option value="">All decks</option></select>
    <select id="tag" aria-label="Tag"><option value="">All tags</option></select>
    <select id="type" aria-label="Note type"><option value="">All note types</option></select>
    <label><input id="warned" type="checkbox"> with warnings</label>
    <label><input id="night" type="checkbox"> night mode</label>
  </div>
</header>
<main id="decks"></main>
<script>window.ankigenPreview = {{packages: [], diagnostics: []}};</script>
{tags}
<script src="warnings.js"></script>
<script>
{js}
</script>
</body>
</html>
"""
