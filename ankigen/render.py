"""Render one card field's Markdown (Obsidian flavour) into a sanitised HTML fragment.

One mistune instance and one nh3 cleaner are built at import time and reused (also by forked
worker processes). The output's pictures are all ``<img src=…>`` with the src as written
(percent-encoded); the media stage resolves them. Nothing else references a local file: links to
notes and local files become ``<span class="wikilink">``.
"""

from __future__ import annotations

import hashlib
import re
import string
import threading
from functools import lru_cache
from html import escape
from typing import Any

import mistune
import nh3
from mistune import BlockParser, BlockState, InlineParser
from mistune.plugins import import_plugin
from mistune.renderers.html import HTMLRenderer
from mistune.util import striptags
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from ankigen import mdplugins, obsidian
from ankigen.fastlex import speed_up
from ankigen.fastmd import QuickMarkdown, clean_plain
from ankigen.mdlimits import limit_markdown
from ankigen.mdplugins import image_src, img_tag, is_image_path, parse_size
from ankigen.obsidian import LINK_SCHEMES, url_scheme

__all__ = ["CODE_STYLE", "CODE_STYLE_DARK", "limit_markdown", "pygments_css", "render_markdown"]

# Pygments styles whose rules are in assets/markdown.css (see pygments_css()).
CODE_STYLE = "default"
CODE_STYLE_DARK = "monokai"
_CODE_FORMATTER = HtmlFormatter(style=CODE_STYLE, cssclass="highlight", wrapcode=True)


@lru_cache(maxsize=256)
def _lexer(language: str) -> Lexer | None:
    """The language's lexer, made once, with the joined-rule loop (fastlex.py)."""
    try:
        return speed_up(get_lexer_by_name(language))
    except ClassNotFound:
        return None


class CardRenderer(HTMLRenderer):
    """mistune's HTML renderer with Obsidian's links, pictures and highlighted code."""

    @property
    def held(self) -> list[str] | None:
        """Highlighted code blocks held out of the sanitiser (see _render_full), per thread;
        None: not held."""
        return getattr(_HOLDING, "held", None)

    @held.setter
    def held(self, value: list[str] | None) -> None:
        _HOLDING.held = value

    def link(self, text: str, url: str, title: str | None = None) -> str:
        scheme = url_scheme(url)
        if scheme in LINK_SCHEMES:
            attrs = ' title="' + escape(title) + '"' if title else ""
            return '<a href="' + escape(url) + '"' + attrs + ">" + text + "</a>"
        if not scheme:
            # [Region](Region.md), [x](../a/b.md#h), [x](#Heading): a note Anki cannot open.
            return '<span class="wikilink">' + text + "</span>"
        return text  # file:, javascript:, …: keep the words, drop the link

    def image(self, text: str, url: str, title: str | None = None) -> str:
        alt = striptags(text)
        width = height = ""
        # Obsidian sizes Markdown images in the alt text: ![alt|300](x.png), ![alt|300x200](…).
        head, bar, tail = alt.rpartition("|")
        size = parse_size(tail) if bar else None
        if size:
            alt, (width, height) = head, size
        scheme = url_scheme(url)
        sound = mdplugins.sound_tag(url, encoded=True)
        if sound:  # ![](x.mp3): Anki's [sound:…]; the media stage puts the file in
            return sound
        if not scheme and not is_image_path(url):
            # ![x](doc.pdf), ![x](Note.md): an embedded vault file that is no picture.
            return mdplugins.wikilink_span(alt or url, embed=True)
        src = image_src(url)
        if src is None:
            return escape(alt, quote=False)
        return img_tag(src, alt, width, height, title or "")

    def block_code(self, code: str, info: str | None = None) -> str:
        language = info.split(None, 1)[0].lower() if info and info.strip() else ""
        lexer = _lexer(language) if language else None
        if lexer is None:
            cls = ' class="language-' + escape(language) + '"' if language else ""
            return "<pre><code" + cls + ">" + escape(code, quote=False) + "</code></pre>\n"
        html = highlight(code, lexer, _CODE_FORMATTER)
        if (
            self.held is not None
            and _PLAIN_CODE.fullmatch(code)
            and html.startswith(_CODE_HEAD)
            and html.endswith(_CODE_TAIL)
        ):
            # The sanitiser would change nothing in Pygments' spans of printable ASCII code
            # (tests/test_held_code.py): they are held out of it and put back after it (see
            # _render_full). The frame stays, as plugins slice the rendered HTML at its ends
            # (footnotes cut "</p>").
            self.held.append(html[len(_CODE_HEAD) : -len(_CODE_TAIL)])
            place = _HELD_OPEN + str(len(self.held) - 1) + _HELD_CLOSE
            return _CODE_HEAD + place + _CODE_TAIL
        return html

    def inline_html(self, html: str) -> str:
        return _keep_img_src(html)

    def block_html(self, html: str) -> str:
        return _keep_img_src(html) + "\n"


_HOLDING = threading.local()
# Code whose highlighted HTML the sanitiser would only re-serialise: printable ASCII lines.
_PLAIN_CODE = re.compile(r"[\t\n\x20-\x7e]*")
_CODE_HEAD = '<div class="highlight"><pre><span></span><code>'
_CODE_TAIL = "</code></pre></div>\n"
# Where a held code block goes back (private-use characters; a field holding them is not held).
_HELD_OPEN, _HELD_CLOSE = "\ue000", "\ue001"
_HELD = re.compile("\ue000([0-9]+)\ue001")
_HOLD_UNSAFE = re.compile("[<\ue000\ue001]")


# Raw HTML <img src="file:…">: the sanitiser would drop a src of an unlisted scheme, so its
# colon is percent-encoded here like a Markdown image's (javascript:/vbscript: are left for
# the sanitiser to drop).
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC_ATTR = re.compile(r"""(\bsrc\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.I)


def _fix_src(m: re.Match[str]) -> str:
    url = next(v for v in m.group(2, 3, 4) if v is not None)
    src = image_src(url)
    if src is None:
        return m.group(0)
    return m.group(1) + '"' + escape(src) + '"'


def _fix_img(m: re.Match[str]) -> str:
    return _SRC_ATTR.sub(_fix_src, m.group(0), count=1)


def _keep_img_src(html: str) -> str:
    if "<img" not in html and "<IMG" not in html:
        return html
    return _IMG_TAG.sub(_fix_img, html)


class _CardBlockParser(BlockParser):
    """mistune's block parser, with its plain-paragraph path open to more lines."""

    def parse_atx_heading(self, m: re.Match[str], state: BlockState) -> int:
        # mistune trims a closing "###" with a regex that backtracks on long runs of spaces
        # ("# a" + 3,000 spaces + "b": seconds); the same trim with str methods.
        text = m.group("atx_2").strip(string.whitespace)
        bare = text.rstrip("#")
        if bare != text and (not bare or bare[-1].isspace()):
            text = bare.rstrip()
        token = {"type": "heading", "text": text, "attrs": {"level": len(m.group("atx_1"))}}
        state.append_token({**token, "style": "atx"})
        return m.end() + 1

    def _parse_plain_paragraph(self, state: BlockState, sc: re.Pattern[str]) -> bool:
        # mistune calls this only when no block rule matched at the cursor, yet takes this path
        # only for lines starting with a letter; for "![[x.png]]" or "**bold**" it searches the
        # rest of the field with every block rule at every character instead (~0.5 µs a char).
        # Block rules all match at line starts only, so collecting lines here gives the same.
        if state.cursor >= len(state.src) or state.src[state.cursor].isspace():
            return False
        pos = state.cursor
        while pos < state.cursor_max:
            if pos > state.cursor and sc.match(state.src, pos):
                break
            line = state.get_line(pos)
            if not line.strip():
                break
            pos += len(line)
        state.add_paragraph(state.get_text(pos))
        state.cursor = pos
        return True


def _build_markdown(fast: bool = True) -> mistune.Markdown:
    """The Markdown parser; fast=False is mistune's own parsing throughout (tests compare)."""
    plugins: list[Any] = [
        "strikethrough",
        "mark",
        "footnotes",
        "table",
        "mistune.plugins.table.table_in_quote",
        "mistune.plugins.table.table_in_list",
        "url",
        "task_lists",
        mdplugins.leftover_comment_marks,
        mdplugins.obsidian_block_ids,
        mdplugins.obsidian_math,
        mdplugins.wikilinks,
        mdplugins.obsidian_tags,
        mdplugins.callouts,
    ]
    if fast:
        plugins.append(mdplugins.simple_links)
    # QuickMarkdown: mistune.Markdown with a quick path for plain fields (fastmd.py).
    return (QuickMarkdown if fast else mistune.Markdown)(
        renderer=CardRenderer(escape=False),
        block=_CardBlockParser() if fast else BlockParser(),
        # Obsidian shows a single newline as a line break ("strict line breaks" is off by default).
        inline=InlineParser(hard_wrap=True),
        plugins=[import_plugin(plugin) for plugin in plugins],
    )


_MARKDOWN = _build_markdown()

# ---------------------------------------------------------------- sanitising

_TAGS = {
    # our own output
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "div", "span"),
    *("ul", "ol", "li", "input", "pre", "code", "em", "strong", "del", "mark", "a", "img"),
    *("table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col"),
    *("section", "sup", "sub"),
    # safe HTML users write in notes
    *("b", "i", "u", "s", "ins", "small", "kbd", "samp", "var", "abbr", "cite", "q", "dfn"),
    *("details", "summary", "dl", "dt", "dd", "figure", "figcaption", "center", "font"),
    *("ruby", "rt", "rp", "wbr", "bdi", "bdo", "time"),
}
_ATTRIBUTES = {
    "*": {"class", "id", "title", "style", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "input": {"checked", "disabled"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span", "width"},
    "colgroup": {"span"},
    "details": {"open"},
    "font": {"color", "size", "face"},
    "abbr": {"title"},
    "time": {"datetime"},
}
_STYLE_PROPERTIES = {
    *("color", "background-color", "font-weight", "font-style", "font-size", "font-family"),
    *("text-decoration", "text-align", "vertical-align", "width", "height", "max-width"),
    *("white-space", "border", "padding", "margin"),
}


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    # nh3 has one scheme list for href and src; links must not carry data: or file:.
    if name == "href" and url_scheme(_strip_url_noise(value)) not in LINK_SCHEMES | {""}:
        return None
    return value


_URL_NOISE = re.compile(r"[\x00-\x20]")


def _strip_url_noise(url: str) -> str:
    # URL parsers ignore tabs, newlines and leading control characters: "java\tscript:".
    return _URL_NOISE.sub("", url)


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes=_ATTRIBUTES,
    tag_attribute_values={"input": {"type": {"checkbox"}}},
    attribute_filter=_filter_attribute,
    url_schemes={"http", "https", "mailto", "obsidian", "data", "file"},
    filter_style_properties=_STYLE_PROPERTIES,
)

# ---------------------------------------------------------------- the stage

# A field of words and plain punctuation only (starting with a letter, one line) renders as one
# paragraph with nothing to parse: "What are AMIs used for?".
_PLAIN_TEXT = re.compile(r"[^\W\d_](?:[^\W_]|[ ,.?!;:'\"()/-])*")


def render_markdown(text: str) -> str:
    """Markdown (one card field, Obsidian flavour) → sanitised HTML fragment."""
    text = obsidian.strip_comments(text)
    plain = text.rstrip(" \t\r\n\f")
    if _PLAIN_TEXT.fullmatch(plain) and "://" not in plain:
        # Byte-for-byte what mistune + nh3 make of it: text needs no escaping, nh3 writes '"'.
        return "<p>" + plain + "</p>\n"
    return _render_full(text)


def _render_full(text: str, markdown: mistune.Markdown = _MARKDOWN, hold: bool = True) -> str:
    """The full path: within the limits, mistune, then nh3, then what HTML cannot say."""
    source = text
    text, _ = limit_markdown(text)
    renderer = markdown.renderer
    # Without raw HTML ("<") every tag is the renderer's own, balanced: a held code block's
    # place is text inside its frame, and the sanitiser's work on its spans can be skipped.
    held: list[str] = []
    if not (hold and isinstance(renderer, CardRenderer) and not _HOLD_UNSAFE.search(text)):
        renderer = None
    if renderer:
        renderer.held = held
    try:
        html: Any = markdown(text)
    finally:
        if renderer:
            renderer.held = None
    cleaned = clean_plain(html)  # what nh3 gives, for the quick path's plain HTML (fastmd.py)
    html = _CLEANER.clean(html) if cleaned is None else cleaned
    if held:
        html, count = _HELD.subn(lambda m: held[int(m.group(1))], html)
        if count != len(held) or _HELD_OPEN in html:  # a place lost or copied: never seen
            return _render_full(source, markdown, hold=False)
    if 'class="footnote' in html:
        html = _own_footnote_ids(html, text)
    if "\\" in html:
        html = _neutralise_tex(html)
    return html


# A card's back shows its front too: footnote ids made from the field's text do not clash.
_FOOTNOTE_ID = re.compile(r'(id="|href="#)(fn|fnref)-')


def _own_footnote_ids(html: str, text: str) -> str:
    prefix = hashlib.sha256(text.encode()).hexdigest()[:8]
    return _FOOTNOTE_ID.sub(lambda m: f"{m.group(1)}{m.group(2)}-{prefix}-", html)


# MathJax commands that make links, load extensions or set styles and ids: a TeX
# \href{javascript:…}{…} would be a live link on the card. They become \text (shown as text).
_TEX_ACTIVE = re.compile(r"\\(?:href|url|class|cssId|style|data|require|html)(?![A-Za-z])")
_CODE_BLOCK = re.compile(r"<(pre|code)\b")


def _neutralise_tex(html: str) -> str:
    """Every active MathJax command outside <pre> and <code> becomes \text."""
    if not _TEX_ACTIVE.search(html):
        return html
    out = []
    pos = 0
    while True:
        m = _CODE_BLOCK.search(html, pos)
        end = len(html) if m is None else m.start()
        out.append(_TEX_ACTIVE.sub(r"\\text", html[pos:end]))
        if m is None:
            return "".join(out)
        close = html.find(f"</{m.group(1)}>", m.end())
        close = len(html) if close < 0 else close + len(m.group(1)) + 3
        out.append(html[end:close])
        pos = close


def sanitise_html(html: str) -> str:
    """The sanitiser every rendered fragment went through (to check HTML read back)."""
    return _CLEANER.clean(html)


def pygments_css() -> str:
    """The code highlighting rules that assets/markdown.css carries (light, and Anki's night)."""
    light_prefix = ".highlight"
    dark_prefix = [".nightMode .highlight", ".night_mode .highlight"]
    dark = HtmlFormatter(style=CODE_STYLE_DARK, cssclass="highlight")
    rules = [
        *_CODE_FORMATTER.get_background_style_defs(light_prefix),
        *_CODE_FORMATTER.get_token_style_defs(light_prefix),
        *dark.get_background_style_defs(dark_prefix),
        *dark.get_token_style_defs(dark_prefix),
    ]
    return "\n".join(rules) + "\n"
