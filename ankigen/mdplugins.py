"""Obsidian syntax for mistune 3: each public function here is a mistune plugin.

block ids (``^abc123``), math (``$…$``, ``$$…$$``), wikilinks and
embeds (``[[…]]``, ``![[…]]``), tags (``#tag``) and callouts (``> [!tip] Title``).
Every pattern is compiled once; the plugins keep no per-call state. What the syntax is (tags,
wikilinks, link schemes) is obsidian.py's; ``%%comments%%`` are removed before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from mistune.util import escape_url

from . import obsidian
from .obsidian import BLOCKED_SCHEMES, url_scheme

if TYPE_CHECKING:
    from re import Match

    from mistune import BlockParser, BlockState, InlineParser, InlineState, Markdown
    from mistune.renderers.html import HTMLRenderer

IMAGE_EXTENSIONS = frozenset(
    ("png", "jpg", "jpeg", "gif", "bmp", "svg", "webp", "avif", "tif", "tiff", "ico")
)
# Audio and video Obsidian embeds with a player and Anki plays from a [sound:…] tag.
SOUND_EXTENSIONS = frozenset(
    ("mp3", "m4a", "aac", "ogg", "oga", "opus", "wav", "flac", "webm", "3gp", "mp4", "m4v")
) | frozenset(("mov", "mkv", "ogv"))

# Schemes an <img src> keeps as written (the media stage judges file: and data:). Any other
# scheme (ftp:, "C:" of a Windows path, …) gets its colon percent-encoded, so the sanitiser
# keeps the src and the media stage, which unquotes every src, sees the target as written.
IMG_SCHEMES = frozenset(("http", "https", "data", "file"))
_SIZE = re.compile(r"\s*(\d+)\s*(?:x\s*(\d+)\s*)?")
# Characters an <img src> may hold as written (RFC 3986 reserved and unreserved, and "%").
_SRC_SAFE = ":/?#@!$&()*+,;=%~'[]"


# ---------------------------------------------------------------- helpers


def is_image_path(path: str) -> bool:
    """Whether a link target names a picture (by extension, ignoring ?query and #fragment)."""
    path = path.split("#", 1)[0].split("?", 1)[0]
    dot = path.rfind(".")
    return dot >= 0 and path[dot + 1 :].lower() in IMAGE_EXTENSIONS


def is_sound_path(path: str) -> bool:
    """Whether a link target names an audio or video file (by extension)."""
    path = path.split("#", 1)[0].split("?", 1)[0]
    dot = path.rfind(".")
    return dot >= 0 and path[dot + 1 :].lower() in SOUND_EXTENSIONS


def sound_tag(path: str, encoded: bool = False) -> str | None:
    """Anki's ``[sound:path]`` for an embedded audio or video file of the vault or an http(s) URL
    (the media stage puts it in the package and renames it); None for any other path, or one
    that cannot be written inside a sound tag. `encoded`: a Markdown URL, percent-encoded."""
    path = path.strip()
    if not is_sound_path(path):
        return None
    scheme = url_scheme(path)
    if scheme and scheme not in ("http", "https"):
        return None
    if encoded and not scheme:
        path = unquote(path)
    if not path or any(c in path for c in "[]\n"):
        return None
    return "[sound:" + escape(path, quote=False) + "]"


def parse_size(text: str) -> tuple[str, str] | None:
    """Parse a picture size: "300" → ("300", ""), "300x200" → ("300", "200"), else None."""
    m = _SIZE.fullmatch(text)
    return (m.group(1), m.group(2) or "") if m else None


def image_src(url: str) -> str | None:
    """An <img src> for a URL as written: unsafe characters percent-encoded, existing %XX kept.

    None when the URL must not be shown at all (javascript:, vbscript:).
    """
    url = url.strip()
    scheme = url_scheme(url)
    if scheme in BLOCKED_SCHEMES:
        return None
    src = quote(url, safe=_SRC_SAFE)
    if scheme and scheme not in IMG_SCHEMES:
        src = src.replace(":", "%3A", 1)
    return src


def img_tag(src: str, alt: str, width: str = "", height: str = "", title: str = "") -> str:
    """An <img> element; src must already be URL-encoded, the rest is plain text."""
    html = '<img src="' + escape(src) + '" alt="' + escape(alt) + '"'
    if width:
        html += ' width="' + width + '"'
    if height:
        html += ' height="' + height + '"'
    if title:
        html += ' title="' + escape(title) + '"'
    return html + ">"


def wikilink_span(text: str, embed: bool = False) -> str:
    """How a link to a note (which Anki cannot follow) is shown: as styled text."""
    cls = "wikilink embed" if embed else "wikilink"
    return '<span class="' + cls + '">' + escape(text, quote=False) + "</span>"


def _insert_block_rule(md: Markdown, name: str, before: str) -> None:
    """Make a registered block rule work inside block quotes (callouts) and lists as well."""
    for rules in (md.block.block_quote_rules, md.block.list_rules):
        if name not in rules:
            md.block.insert_rule(rules, name, before=before)


def _skip_newline(src: str, pos: int) -> int:
    return pos + 1 if src.startswith("\n", pos) else pos


# ---------------------------------------------------------------- ^block-ids

_BLOCK_ID_LINE = r"^ {0,3}\^[A-Za-z0-9-]+[ \t]*$"
_BLOCK_ID_INLINE = r"\^[A-Za-z0-9-]+(?=[ \t]*(?:\n|\Z))"


def _parse_block_id_line(block: BlockParser, m: Match[str], state: BlockState) -> int:
    return _skip_newline(state.src, m.end())


def _parse_block_id_inline(inline: InlineParser, m: Match[str], state: InlineState) -> int | None:
    start = m.start()
    if start and state.src[start - 1] not in " \t\n":
        return None  # "x^abc" is text, a block id follows whitespace
    tokens = state.tokens
    # Drop the whitespace (or hard line break) that separated the id from the text.
    while tokens:
        last = tokens[-1]
        if last["type"] in ("linebreak", "softbreak"):
            tokens.pop()
        elif last["type"] == "text" and last["raw"][-1:].isspace():
            last["raw"] = last["raw"].rstrip()
            if last["raw"]:
                break
            tokens.pop()
        else:
            break
    return m.end()


def obsidian_block_ids(md: Markdown) -> None:
    """Drop block ids: ``^abc123`` at the end of a line or alone on a line."""
    md.block.register("obsidian_block_id", _BLOCK_ID_LINE, _parse_block_id_line, before="list")
    _insert_block_rule(md, "obsidian_block_id", "list")
    md.inline.register(
        "obsidian_block_id", _BLOCK_ID_INLINE, _parse_block_id_inline, start_chars="^"
    )


# ---------------------------------------------------------------- leftover %%

# render_markdown removes comments with obsidian.strip_comments, which reads code spans line by
# line; mistune also pairs backticks across the lines of a paragraph, so a "%%" the scanner saw
# in code can stand in mistune's text. It is dropped: a card never shows "%%" outside code.
_LEFTOVER_COMMENT = r"%%"


def _parse_leftover_comment(inline: InlineParser, m: Match[str], state: InlineState) -> int:
    return m.end()


def leftover_comment_marks(md: Markdown) -> None:
    """Drop a ``%%`` that reaches mistune's inline text (see above)."""
    md.inline.register(
        "leftover_comment", _LEFTOVER_COMMENT, _parse_leftover_comment, start_chars="%"
    )


# ---------------------------------------------------------------- math

_MATH_BLOCK = r"^ {0,3}\$\$"
_REST_OF_LINE_BLANK = re.compile(r"[ \t]*+(?:\n|\Z)")
# $$…$$ within a line, then $…$: no space after the opening $ nor before the closing one, and
# no digit after it, so "costs $5 and $10" stays prose (Obsidian's and Pandoc's rule).
_MATH_INLINE = (
    r"\$\$(?P<math_display>(?:[^$\\]|\\.)+?)\$\$"
    r"|\$(?![\s$])(?P<math_inline>(?:[^$\\\n]|\\.)+?)(?<!\s)\$(?!\d)"
)


def _parse_math_block(block: BlockParser, m: Match[str], state: BlockState) -> int | None:
    close = state.src.find("$$", m.end())
    if close < 0:
        return None
    after = _REST_OF_LINE_BLANK.match(state.src, close + 2)
    if after is None:
        return None  # "$$a$$ and more" is a paragraph with display math in it
    state.append_token({"type": "display_math", "raw": state.src[m.end() : close].strip()})
    return after.end()


def _parse_math_inline(inline: InlineParser, m: Match[str], state: InlineState) -> int:
    display = m.group("math_display")
    if display is not None:
        state.append_token({"type": "display_math_inline", "raw": display.strip()})
    else:
        state.append_token({"type": "inline_math", "raw": m.group("math_inline")})
    return m.end()


# Anki's MathJax reads \(…\) and \[…\]; the TeX is only HTML-escaped, never Markdown-parsed.
def _render_inline_math(renderer: HTMLRenderer, text: str) -> str:
    return "\\(" + escape(text, quote=False) + "\\)"


def _render_display_math_inline(renderer: HTMLRenderer, text: str) -> str:
    return "\\[" + escape(text, quote=False) + "\\]"


def _render_display_math(renderer: HTMLRenderer, text: str) -> str:
    return '<div class="math">\\[' + escape(text, quote=False) + "\\]</div>\n"


def _register(md: Markdown, name: str, render: Callable[..., str]) -> None:
    """Render tokens of type `name` with `render` (a Markdown made without a renderer, which
    gives tokens only, has nothing to register)."""
    if md.renderer is not None:
        md.renderer.register(name, render)


def obsidian_math(md: Markdown) -> None:
    """``$…$`` → ``\\(…\\)`` and ``$$…$$`` → ``\\[…\\]``, contents kept as written."""
    md.block.register("display_math", _MATH_BLOCK, _parse_math_block, before="list")
    _insert_block_rule(md, "display_math", "list")
    md.inline.register(
        "obsidian_math", _MATH_INLINE, _parse_math_inline, before="codespan", start_chars="$"
    )
    _register(md, "inline_math", _render_inline_math)
    _register(md, "display_math_inline", _render_display_math_inline)
    _register(md, "display_math", _render_display_math)


# ---------------------------------------------------------------- [[wikilinks]] and ![[embeds]]


def _parse_wikilink(inline: InlineParser, m: Match[str], state: InlineState) -> int:
    link = obsidian.parse_wikilink(m.group("wikilink_target"), m.group(0).startswith("!"))
    attrs = {"options": link.options, "embed": link.embed}
    state.append_token({"type": "wikilink", "raw": link.target, "attrs": attrs})
    return m.end()


def _render_wikilink(
    renderer: HTMLRenderer, target: str, options: list[str], embed: bool = False
) -> str:
    path = target.split("#", 1)[0].strip()
    sound = sound_tag(path) if embed else None
    if sound:
        return sound
    if embed and is_image_path(path):
        alt, width, height = path, "", ""
        for option in options:
            size = parse_size(option)
            if size:
                width, height = size
            elif option.strip():
                alt = option.strip()
        # A vault file name, not a URL: encode everything ("%", "#", "?" too) but the slashes.
        return img_tag(quote(path, safe="/"), alt, width, height)
    link = obsidian.Wikilink(target, tuple(options), embed)
    return wikilink_span(link.label, embed=embed)


def wikilinks(md: Markdown) -> None:
    """``[[Note]]``, ``[[Note|alias]]``, ``[[Note#Heading]]`` as text; ``![[x.png|300]]`` as img."""
    md.inline.register(
        "wikilink", obsidian.WIKILINK, _parse_wikilink, before="link", start_chars=("[", "!")
    )
    _register(md, "wikilink", _render_wikilink)


# ---------------------------------------------------------------- #tags


def _parse_tag(inline: InlineParser, m: Match[str], state: InlineState) -> int | None:
    if not obsidian.is_tag_start(state.src, m.start()) or not obsidian.is_tag(m.group("tag")):
        return None  # "C#", "page#anchor", "#1984" are not tags
    state.append_token({"type": "obsidian_tag", "raw": m.group(0)})
    return m.end()


def _render_tag(renderer: HTMLRenderer, text: str) -> str:
    return '<span class="tag">' + escape(text, quote=False) + "</span>"


def obsidian_tags(md: Markdown) -> None:
    """``#tag`` in text → ``<span class="tag">#tag</span>``."""
    md.inline.register("obsidian_tag", obsidian.TAG, _parse_tag, before="link", start_chars="#")
    _register(md, "obsidian_tag", _render_tag)


# ---------------------------------------------------------------- > [!callouts]

_CALLOUT_HEAD = re.compile(r"\[!(?P<kind>[\w-]+)\](?P<fold>[+-]?)[ \t]*(?P<title>[^\n]*)\n?")


def _rewrite_callouts(tokens: list[dict[str, Any]]) -> None:
    for token in tokens:
        children = token.get("children")
        if not children:
            continue
        _rewrite_callouts(children)
        if token["type"] != "block_quote":
            continue
        first = children[0]
        if first["type"] != "paragraph":
            continue
        m = _CALLOUT_HEAD.match(first["text"])
        if m is None:
            continue
        kind = m.group("kind").lower()
        title = m.group("title").strip() or kind.capitalize()
        body = first["text"][m.end() :]
        rest = children[1:]
        if body.strip():
            rest = [{"type": "paragraph", "text": body}, *rest]
        token["type"] = "callout"
        # The fold marker (+/-) is ignored: on a card the whole callout is always shown.
        token["attrs"] = {"kind": kind}
        token["children"] = [
            {"type": "callout_title", "text": title},
            {"type": "callout_content", "children": rest},
        ]


def _callouts_hook(md: Markdown, state: BlockState) -> None:
    _rewrite_callouts(state.tokens)


def _render_callout(renderer: HTMLRenderer, text: str, kind: str) -> str:
    return '<div class="callout callout-' + kind + '">\n' + text + "</div>\n"


def _render_callout_title(renderer: HTMLRenderer, text: str) -> str:
    return '<div class="callout-title">' + text + "</div>\n"


def _render_callout_content(renderer: HTMLRenderer, text: str) -> str:
    return '<div class="callout-content">\n' + text + "</div>\n" if text else ""


def callouts(md: Markdown) -> None:
    """``> [!tip] Title`` block quotes → ``<div class="callout callout-tip">`` with a title."""
    md.before_render_hooks.append(_callouts_hook)
    _register(md, "callout", _render_callout)
    _register(md, "callout_title", _render_callout_title)
    _register(md, "callout_content", _render_callout_content)


# ---------------------------------------------------------------- speed: simple [text](url)

# mistune scans a link destination one character at a time (~0.5 µs a character, so ~50 µs for
# a typical documentation URL). A link whose text holds no Markdown and whose destination is a
# bare URL followed by ")" is parsed here with one regex into the very token mistune would make.
_SIMPLE_LINK = (
    r"!?\[(?P<simple_link_text>[^\[\]\\\n`<>*_~=$%#^&]*)\]"
    r"\((?P<simple_link_url>[^\s()<>\\&\x00-\x1f\x7f]+)\)"
)


_LINK_OPEN = re.compile(r"!?\[")


def _parse_simple_link(inline: InlineParser, m: Match[str], state: InlineState) -> int | None:
    if state.brackets or state.in_link or state.depth >= inline.max_nested_level:
        # Nesting rules apply: open the bracket as mistune's own "link" rule would have.
        opening = _LINK_OPEN.match(state.src, m.start())
        return inline.parse_link(opening, state) if opening else None  # always an opening
    text = m.group("simple_link_text")
    children = [{"type": "text", "raw": text}] if text else []
    state.append_token(
        {
            "type": "image" if m.group(0).startswith("!") else "link",
            "children": inline.finalize_tokens(children, state.depth + 1),
            "attrs": {"url": escape_url(m.group("simple_link_url"))},
        }
    )
    return m.end()


def simple_links(md: Markdown) -> None:
    """Fast path for ``[text](url)`` and ``![alt](url)`` without markup; same tokens as mistune."""
    md.inline.register(
        "simple_link", _SIMPLE_LINK, _parse_simple_link, before="link", start_chars=("[", "!")
    )
