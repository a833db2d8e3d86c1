"""A quick parser for the Markdown most card fields are made of, giving mistune's own output.

Most answers are paragraphs of words with **strong**, *emphasis*, `code` and [links](…), flat
"- " lists, fenced code blocks and pictures. For a field made only of those, written plainly
(see the rules below), this module finds the same tokens mistune would and calls the same
renderer methods with the same arguments, at a fraction of mistune's cost. Any other field, or
anything unusual in one (a character that starts other syntax, an unmatched delimiter, a line
that could start another kind of block), makes it give up (None): mistune then parses it.

tests/test_fastmd.py proves the output equal to mistune's on a corpus and on generated fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import mistune
from mistune.renderers.html import HTMLRenderer

__all__ = ["QuickMarkdown", "quick_html"]

# Text between inline tokens: words and plain punctuation. Everything that can start other
# syntax is missing: * _ ` [ ] ! before [, $ % & < > = | ~ ^ \ and "://" (checked apart); "#"
# only before digits and dashes that end there ("#1-2", "C#"): Obsidian's tag needs a letter.
_TEXT = r"(?:[^\W_]|[ ,.;:?'\"()/+-]|!(?!\[)|\#[0-9-]*+(?![\w/]))+"
_WORDS = r"[^\W_](?:(?:[^\W_]|[ ,.;:?'\"()/+-])*[^\W_])?"  # starts and ends with a letter/digit
_URL = r"[A-Za-z0-9/._#:-]+"
_INLINE = re.compile(
    rf"""
    (?P<text>{_TEXT})
    | `(?P<code>[!-_a-~](?:[ !-_a-~]*[!-_a-~])?)`
    | \*\*(?P<strong>{_WORDS})\*\*
    | \*(?P<em>{_WORDS})\*
    | !\[(?P<alt>{_TEXT}|)\]\((?P<src>{_URL})\)
    | \[(?P<label>{_TEXT})\]\((?P<href>{_URL})\)
    | \[(?P<bracket>[^\W_](?:{_TEXT})?)\](?![(\[])
    """,
    re.VERBOSE,
)
# How a paragraph line or list item may start: a letter or digit (not "1." or "1)"), an opening
# bracket or quote, `code` (not a fence), emphasis (not a bullet or a rule), a link or picture.
_LINE_START = re.compile(r"(?!\d+[.)])[^\W_]|[(\"']|`(?!``)|\*\*?[^\W_]|!?\[")
_FENCE = re.compile(r"```([A-Za-z0-9+#.-]*)")
_FENCE_LIKE = re.compile(r"[ \t]*(?:`{3,}|~{3,})")
# Outside code: no tabs, carriage returns or other control characters, no trailing spaces.
_BAD_LINE = re.compile(r"[\x00-\x1f\x7f]|\s$")


class _Renderer:
    """The renderer methods mistune would call, looked up the way mistune looks them up."""

    def __init__(self, renderer: Any) -> None:
        method: Callable[[str], Callable[..., str]] = renderer._get_method
        self.text = method("text")
        if getattr(self.text, "__func__", None) is HTMLRenderer.text and not renderer._escape:
            # mistune's own text(): for the characters _TEXT lets through, only '"' changes.
            self.text = _quote_text
        self.codespan = method("codespan")
        self.strong = method("strong")
        self.emphasis = method("emphasis")
        self.link = method("link")
        self.image = method("image")
        self.linebreak = method("linebreak")
        self.paragraph = method("paragraph")
        self.block_text = method("block_text")
        self.list_item = method("list_item")
        self.list = method("list")
        self.block_code = method("block_code")
        self.blank_line = method("blank_line")


def _quote_text(text: str) -> str:
    return text.replace('"', "&quot;") if '"' in text else text


def quick_html(text: str, renderer: Any) -> str | None:
    """mistune's HTML for `text`, or None when the field is not plain enough for this path."""
    r = renderer if isinstance(renderer, _Renderer) else _Renderer(renderer)
    if "]:" in text:
        return None  # a link reference definition: "[x]" elsewhere may then be a link
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # mistune adds a final newline when there is none: one ending is the same
    out: list[str] = []
    i, count = 0, len(lines)
    while i < count:
        line = lines[i]
        if not line:
            out.append(r.blank_line())
            i += 1
            continue
        fence = _FENCE.fullmatch(line)
        if fence:
            end = i + 1
            while end < count and lines[end] != "```":
                if _FENCE_LIKE.match(lines[end]) or "\r" in lines[end]:
                    return None
                end += 1
            if end >= count or end == i + 1:
                return None  # unclosed or empty: left to mistune
            code = "\n".join(lines[i + 1 : end]) + "\n"
            info = fence.group(1)
            out.append(r.block_code(code, info=info) if info else r.block_code(code))
            i = end + 1
            continue
        if line.startswith("- "):
            items = []
            while i < count and lines[i].startswith("- "):
                item = lines[i][2:]
                if not _LINE_START.match(item):
                    return None
                html = _inline(item, r)
                if html is None:
                    return None
                items.append(r.list_item(r.block_text(html)))
                i += 1
            if i < count and lines[i]:
                return None  # a line that continues the last item
            after = i
            while after < count and not lines[after]:
                after += 1
            if after < count and lines[after][:2] in ("- ", "* ", "+ "):
                return None  # a list after blank lines: mistune joins it, loose
            out.append(r.list("".join(items), depth=0, ordered=False))
            continue
        parts = []
        while i < count and lines[i] and not _FENCE.fullmatch(lines[i]):
            line = lines[i]
            if not _LINE_START.match(line):
                return None
            html = _inline(line, r)
            if html is None:
                return None
            parts.append(html)
            i += 1
        out.append(r.paragraph(r.linebreak().join(parts)))
    return "".join(out)


def _inline(line: str, r: _Renderer) -> str | None:
    """One line's inline HTML, or None."""
    if _BAD_LINE.search(line):
        return None
    out = []
    pos, end = 0, len(line)
    while pos < end:
        m = _INLINE.match(line, pos)
        if m is None:
            return None
        kind = m.lastgroup
        start, pos = m.start(), m.end()
        if kind == "text":
            words = m.group("text")
            if "://" in words:  # a bare web address: mistune's url plugin links it
                return None
            out.append(r.text(words))
        elif kind == "code":
            if (start and line[start - 1] == "`") or (pos < end and line[pos] == "`"):
                return None  # `a``b`: a run of two backticks, not two spans
            out.append(r.codespan(m.group("code")))
        elif kind in ("strong", "em"):
            # A delimiter run that goes on ("***", "**a***") is mistune's to pair up.
            if (start and line[start - 1] == "*") or (pos < end and line[pos] == "*"):
                return None
            inner = r.text(m.group(kind))
            out.append(r.strong(inner) if kind == "strong" else r.emphasis(inner))
        elif kind == "src":
            alt = m.group("alt")
            if "://" in alt:
                return None
            out.append(r.image(r.text(alt) if alt else "", url=m.group("src")))
        elif kind == "bracket":
            # "[0.7]": words in brackets that no reference defines (see quick_html) are text,
            # unless a list item starts with "[x]" (a task).
            words = m.group("bracket")
            if "://" in words or (start == 0 and len(words) == 1):
                return None
            out.append(r.text("[" + words + "]"))
        else:
            label, href = m.group("label"), m.group("href")
            if "://" in label:
                return None
            out.append(r.link(r.text(label), url=href))
    return "".join(out)


class QuickMarkdown(mistune.Markdown):
    """mistune.Markdown that takes the quick path when a field allows it."""

    _quick: _Renderer | None = None

    def __call__(self, s: str) -> Any:
        if s is not None and self.renderer is not None and not self.before_parse_hooks:
            if self._quick is None:
                self._quick = _Renderer(self.renderer)
            html = quick_html(s, self._quick)
            if html is not None:
                return html
        return super().__call__(s)


# ---------------------------------------------------------------- the sanitiser's output

# What the sanitiser (nh3, render._CLEANER) makes of HTML shaped as the quick path shapes it:
# the same HTML with "<br>" for "<br />", rel= on links, '"' and "'" for their entities in
# text. clean_plain() gives that for such HTML and None for any other HTML
# (tests/test_clean_plain.py compares it with nh3). Possessive throughout: linear.
# Text nh3 passes unchanged: no "<", ">", no "&" but these entities, no control characters,
# no no-break spaces (it writes "&nbsp;"), surrogates or noncharacters.
_T = (
    "(?:[^<>&\x00-\x08\x0b-\x1f\x7f-\xa0\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
    "|&(?:lt|gt|amp|quot|#39|#x27);)*+"
)
_INLINE_HTML = (
    rf"(?:{_T}(?:<strong>{_T}</strong>|<em>{_T}</em>|<code>{_T}</code>|<br />\n?+"
    rf'|<a href="https?://[-A-Za-z0-9/._#:]++">{_T}</a>|<span class="wikilink">{_T}</span>))*+{_T}'
)
_PLAIN_HTML = re.compile(
    "(?:\n"
    rf"|<p>{_INLINE_HTML}</p>\n"
    rf"|<ul>\n(?:<li>{_INLINE_HTML}</li>\n)++</ul>\n"
    rf'|<div class="highlight"><pre><span></span><code>'
    rf'(?:{_T}<span class="[A-Za-z0-9]++(?: [A-Za-z0-9]++)*+">{_T}</span>)*+{_T}'
    "</code></pre></div>\n"
    rf'|<pre><code(?: class="language-[A-Za-z0-9+#.-]++")?+>{_T}</code></pre>\n'
    ")*+"
)
_LINK_OPEN = re.compile(r'(<a href="[^"]*+")>')
_TEXT_ENTITIES = re.compile("&(?:quot|#39|#x27);")
_TEXT_ENTITY = {"&quot;": '"', "&#39;": "'", "&#x27;": "'"}


def clean_plain(html: str) -> str | None:
    """nh3's output for HTML shaped as the quick path shapes it, or None for any other HTML."""
    if not _PLAIN_HTML.fullmatch(html):
        return None
    if "<br />" in html:
        html = html.replace("<br />", "<br>")
    if "<a " in html:
        html = _LINK_OPEN.sub(r'\1 rel="noopener noreferrer">', html)
    if "&" in html:
        html = _TEXT_ENTITIES.sub(lambda m: _TEXT_ENTITY[m.group(0)], html)
    return html
