"""Obsidian's Markdown syntax facts, in one place: every reader and every stage uses these.

- text and lines: `clean_text` (first, on every note), `lines` (lines as an editor counts
  them), `indentation`, `columns`
- ``%%comments%%``, fenced and inline code: `scan` ("is line i in a fence or a comment", the
  line without its comments, unclosed comment or fence), `strip_comments`, `fence_open`,
  `fence_closes`, `code_spans`, `mask_code_spans`
- ``#tags``: `line_tags`, `lift_tags`, `lift_tags_by_line`, `is_tag`, `is_tag_start`, `TAG`,
  `anki_tag`
- ``[[wikilinks]]`` and ``![[embeds]]``: `wikilinks`, `parse_wikilink`, `wikilink_label`,
  `WIKILINK`
- link schemes: `url_scheme`, `is_link_url`, `LINK_SCHEMES`, `BLOCKED_SCHEMES`
- frontmatter: `frontmatter` (safe YAML, bounded; problems with their line), `frontmatter_tags`
- Markdown to plain text (headings, context lines): `heading`, `plain_text`
- settings files (`.obsidian/*.json`, a plugin's data.json): `read_settings`

Every regular expression here runs in linear time on any line (no nested or adjacent
quantifiers over the same characters); callers may rely on that for hostile notes.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import atomic

if TYPE_CHECKING:
    import types


@functools.cache
def _yaml() -> tuple[types.ModuleType, type]:
    """PyYAML and its loader, imported when a note has frontmatter (a build with nothing to
    read imports no YAML parser)."""
    import yaml

    # The C parser is ~10x faster; PyYAML wheels ship it.
    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------- text and lines

# C0 controls but tab, newline and carriage return; DEL; C1 controls. Anki uses U+001F as its
# field separator, and str.splitlines() (not an editor) breaks lines at \f, \v, \x1c-\x1e, \x85.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """A note's text as ankigen reads it: no byte-order mark, "\\n" line ends, no controls.

    Line numbers do not change: only "\\r" of "\\r\\n" and characters inside lines go.
    """
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "")
    return _CONTROL.sub("", text)


def lines(text: str) -> list[str]:
    """The note's lines as an editor counts them: split at "\\n" only (never splitlines()).

    Line n (1-based) is ``lines(text)[n - 1]``; U+2028 and form feeds stay inside their line.
    """
    return [line.removesuffix("\r") for line in text.split("\n")]


def indentation(line: str) -> str:
    """The leading whitespace of a line: spaces, tabs and any Unicode space (no-break too)."""
    return line[: len(line) - len(line.lstrip())]


TAB_WIDTH = 4  # Obsidian's default


def columns(indent: str) -> int:
    """How wide some indentation is: a tab moves to the next multiple of 4, others are one."""
    return len(indent.expandtabs(TAB_WIDTH)) if "\t" in indent else len(indent)


# ---------------------------------------------------------------- fenced code

# A fence opens a line, maybe indented, maybe inside block quotes ("> ```"). The quantifiers
# are possessive: on a line of 50,000 spaces this fails in one pass.
_FENCE = re.compile(r"[ \t]*+(?:>[ \t]*+)*+(`{3,}+|~{3,}+)")


def fence_open(line: str, base: int | None = None) -> str | None:
    """The fence ("```", "~~~~") when the line opens a fenced code block, else None.

    With `base` (the content column of the list item the line is in, 0 outside lists) the
    fence may be indented at most 3 columns past it, as Markdown says (more is indented code,
    or text inside a paragraph); without, any indentation is accepted.
    """
    if "```" not in line and "~~~" not in line:  # no fence can match: most lines
        return None
    m = _FENCE.match(line)
    if m is None:
        return None
    if base is not None and columns(indentation(line)) - base > 3:
        return None
    fence = m.group(1)
    if fence[0] == "`" and "`" in line[m.end() :]:
        return None  # "```a`b" is inline code, not a fence (CommonMark)
    return fence


def outside_fences(lines: list[str], start: int = 0) -> Iterator[tuple[int, str]]:
    """(index, line) of each line from `start` on that is neither in a fenced code block nor
    one of its fence lines. Linear in the lines' length."""
    fence = ""
    for index in range(start, len(lines)):
        line = lines[index]
        if fence:
            fence = "" if fence_closes(line, fence) else fence
            continue
        fence = fence_open(line) or ""
        if not fence:
            yield index, line


def fence_closes(line: str, fence: str) -> bool:
    """Whether the line closes a block opened by `fence` (same character, at least as long)."""
    if fence[:3] not in line:
        return False
    m = _FENCE.match(line)
    return bool(
        m
        and m.group(1)[0] == fence[0]
        and len(m.group(1)) >= len(fence)
        and not line[m.end() :].strip()
    )


# ---------------------------------------------------------------- inline code

_BACKTICKS = re.compile(r"`++")


def code_spans(line: str) -> list[tuple[int, int]]:
    """(start, end) of each inline code span in one line, backticks included (CommonMark).

    A run of n backticks opens a span closed by the next run of exactly n; linear time.
    """
    if "`" not in line:
        return []
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(line)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    spans = []
    index = 0
    while index < len(runs):
        start, end = runs[index]
        same = by_length[end - start]
        at = bisect.bisect_right(same, index)
        if at < len(same):
            closing = same[at]
            spans.append((start, runs[closing][1]))
            index = closing + 1
        else:
            index += 1
    return spans


def mask_code_spans(line: str, fill: str = "\x00") -> str:
    """The line with every inline code span's characters replaced by `fill` (same length).

    After `clean_text` a note holds no "\\x00", so the default fill matches nothing a syntax
    reader looks for, and positions in the masked line are positions in the line.
    """
    spans = code_spans(line)
    if not spans:
        return line
    out = []
    last = 0
    for start, end in spans:
        out.append(line[last:start])
        out.append(fill * (end - start))
        last = end
    out.append(line[last:])
    return "".join(out)


def math_spans(line: str) -> list[tuple[int, int]]:
    """(start, end) of each ``$…$`` and ``$$…$$`` within one line, outside inline code."""
    if "$" not in line:
        return []
    masked = mask_code_spans(line)
    spans: list[tuple[int, int]] = []
    i = 0
    while True:
        start = masked.find("$", i)
        if start < 0:
            return spans
        width = 2 if masked.startswith("$$", start) else 1
        end = masked.find("$" * width, start + width)
        if end < 0:
            return spans
        spans.append((start, end + width))
        i = end + width


# ---------------------------------------------------------------- %% comments and the scanner

COMMENT = "%%"


class Line(NamedTuple):
    """One line of a note as Obsidian's reading view sees it (a NamedTuple: immutable, and
    made three times faster than a frozen dataclass; every line of every note is one)."""

    number: int  # 1-based, as an editor counts
    text: str  # as written
    visible: str  # without %% comments (the text itself in fenced code); "" when all hidden
    code: bool  # part of a fenced code block, its fence lines included
    hidden: bool  # entirely inside a %% comment
    comment_line: int  # line where the comment covering (part of) this line opened, else 0


@dataclass(frozen=True)
class Scan:
    """A note's lines with fences and comments resolved."""

    lines: tuple[Line, ...]
    unclosed_comment: int  # line of a %% that is never closed (it hides the rest), else 0
    unclosed_fence: int  # line of a fence that is never closed, else 0

    def at(self, number: int) -> Line:
        """The line with this 1-based number."""
        return self.lines[number - self.lines[0].number] if self.lines else _NO_LINE


_NO_LINE = Line(0, "", "", False, False, 0)


def scan(note_lines: list[str], first: int = 1) -> Scan:
    """Resolve fenced code and ``%%`` comments, line by line, in one pass.

    Obsidian's rules: ``%%`` outside code opens a comment anywhere in a line ("50%% off" too)
    and the next ``%%`` closes it, across lines and blank lines; an unclosed one hides the rest
    of the note. Inside fenced code and inline code spans ``%%`` is text. `first` is the number
    of `note_lines[0]` (after frontmatter, say).
    """
    result: list[Line] = []
    fence = ""
    fence_line = 0
    comment = 0  # line of the open comment, or 0
    items: list[tuple[int, int]] = []  # open list items: (marker column, content column)
    for offset, text in enumerate(note_lines):
        number = first + offset
        if fence:
            if fence_closes(text, fence):
                fence = ""
            result.append(Line(number, text, text, True, False, 0))
            continue
        if not comment:
            items = _list_items(text, items)
            opened = ("```" in text or "~~~" in text) and fence_open(
                text, items[-1][1] if items else 0
            )
            if opened:
                fence, fence_line = opened, number
                result.append(Line(number, text, text, True, False, 0))
                continue
        if COMMENT not in text and not comment:  # most lines: nothing hidden, nothing opened
            result.append(Line(number, text, text, False, False, 0))
            continue
        visible, still_open = _strip_line_comments(text, bool(comment))
        covering = comment or (number if visible != text else 0)
        comment = (comment or number) if still_open else 0
        hidden = bool(covering) and not visible.strip() and COMMENT not in text
        result.append(Line(number, text, visible, False, hidden, covering))
    return Scan(tuple(result), comment, fence_line if fence else 0)


_LIST_ITEM = re.compile(r"[ \t]*+(?:[-*+]|\d{1,9}+[.)])(?:[ \t]{1,4}+|$)")


def is_list_item(line: str) -> bool:
    """Whether the line starts a list item ("- x", "* x", "1. x", "2) x"), indented or not."""
    return _LIST_ITEM.match(line) is not None


def _list_items(line: str, items: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The list items a line sits in, after it: enough of Markdown's lists to place fences."""
    stripped = line.lstrip()
    if not stripped or (not items and stripped[0] not in "-*+0123456789"):
        return items  # a blank line does not end a list; most lines are no list item
    indent = columns(line[: len(line) - len(stripped)])
    while items and indent < items[-1][1] and indent <= items[-1][0]:
        items = items[:-1]  # a line left of an item's marker ends that item
    m = _LIST_ITEM.match(line)
    if m is None:
        return items
    while items and indent <= items[-1][0]:
        items = items[:-1]  # a sibling item replaces the previous one
    return [*items, (indent, columns(line[: m.end()]))]


def _strip_line_comments(text: str, in_comment: bool) -> tuple[str, bool]:
    """(the line without its comments, whether a comment is still open at its end).

    One pass over the line: inside a comment only the closing ``%%`` matters, outside it an
    inline code span is skipped whole. Linear in the line's length.
    """
    if COMMENT not in text:
        return ("", True) if in_comment else (text, False)
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)] if "`" in text else []
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    out: list[str] = []
    visible_from = 0
    cursor = 0
    run = 0
    mark = -1  # the next %% at or after the cursor, once looked up
    while True:
        if in_comment:
            close = text.find(COMMENT, cursor)
            if close < 0:
                return "".join(out), True
            cursor = visible_from = close + 2
            in_comment = False
            continue
        while run < len(runs) and runs[run][0] < cursor:
            run += 1
        if mark < cursor:
            mark = text.find(COMMENT, cursor)
        if run < len(runs) and (mark < 0 or runs[run][0] < mark):
            start, end = runs[run]
            same = by_length[end - start]
            at = bisect.bisect_right(same, run)
            closing = same[at] if at < len(same) else -1
            cursor = runs[closing][1] if closing >= 0 else end
            continue
        if mark < 0:
            out.append(text[visible_from:])
            return "".join(out), False
        out.append(text[visible_from:mark])
        cursor = mark + 2
        in_comment = True


def strip_comments(text: str) -> str:
    """Markdown without its ``%%comments%%``; fenced and inline code are kept as written.

    A line that held only a comment becomes an empty line (line numbers do not move).
    """
    if COMMENT not in text:
        return text
    return "\n".join(line.visible for line in scan(lines(text)).lines)


# ---------------------------------------------------------------- link schemes

# Link schemes that stay clickable links on a card; links without a scheme point into the vault.
LINK_SCHEMES = frozenset(("http", "https", "mailto", "obsidian"))
# Schemes that never survive anywhere.
BLOCKED_SCHEMES = frozenset(("javascript", "vbscript"))

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*+):")


def url_scheme(url: str) -> str:
    """The lower-cased scheme of a URL, or "" for a relative one ("C:" counts as a scheme)."""
    m = _SCHEME.match(url.lstrip())
    return m.group(1).lower() if m else ""


def is_link_url(url: str) -> bool:
    """Whether a URL stays a clickable link on a card (web, mail, obsidian://)."""
    return url_scheme(url) in LINK_SCHEMES


# ---------------------------------------------------------------- [[wikilinks]]

# [[target#heading|alias]] and ![[embed|300]] within one line; "\]" escapes.
WIKILINK = r"!?\[\[(?P<wikilink_target>(?:[^\[\]\n\\]|\\.)+?)\]\]"
_WIKILINK = re.compile(WIKILINK)
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_LINK_SUBPATH = re.compile(r"[#^]")


@dataclass(frozen=True)
class Wikilink:
    """One ``[[…]]`` or ``![[…]]``."""

    target: str  # "Note#Heading" as written, without the options
    options: tuple[str, ...]  # what followed "|": an alias, or a size for an embed
    embed: bool

    @property
    def path(self) -> str:
        """The linked file or note, without "#heading" or "#^block"."""
        return self.target.split("#", 1)[0].strip()

    @property
    def label(self) -> str:
        """How the link reads in text: its alias, else `wikilink_label`."""
        alias = self.options[0].strip() if self.options and not self.embed else ""
        return alias or wikilink_label(self.target)


def parse_wikilink(inner: str, embed: bool = False) -> Wikilink:
    """A wikilink from the text between the brackets ("Note#H|alias")."""
    # In a table "\|" separates target and alias, as Obsidian writes it there.
    target, *options = _UNESCAPED_PIPE.split(inner.replace("\\|", "|"))
    return Wikilink(target.strip(), tuple(options), embed)


def wikilinks(text: str) -> list[tuple[int, int, Wikilink]]:
    """(start, end, link) of every wikilink and embed in the text."""
    return [
        (m.start(), m.end(), parse_wikilink(m.group("wikilink_target"), m.group(0)[0] == "!"))
        for m in _WIKILINK.finditer(text)
    ]


def wikilink_label(target: str) -> str:
    """Readable text for a link target: "Note", "Note › Heading", "Heading" for "#Heading".

    Block references (``Note#^id``, ``Note^id``) show the note's name only.
    """
    target = target.strip()
    m = _LINK_SUBPATH.search(target)
    note, subpath = (target[: m.start()], target[m.start() :]) if m else (target, "")
    note = note.strip()
    if note.lower().endswith(".md"):
        note = note[:-3]
    parts = [note] if note else []
    if subpath and not subpath.startswith(("^", "#^")):
        parts += [h.strip() for h in subpath.split("#") if h.strip()]
    return " › ".join(parts) or target


# ---------------------------------------------------------------- #tags

# Obsidian tags: "#", then letters, digits, "_", "-", "/" (nesting), at least one non-digit,
# after whitespace or at the start of a line ("C#", "page#anchor" and URLs hold no tags).
TAG = r"#(?P<tag>[\w/-]++)"  # then check is_tag_start and is_tag
_TAG = re.compile(TAG)


def is_tag(name: str) -> bool:
    """Whether "name" (after "#") is a tag: it holds a letter or "_" ("#1984", "#1-2" do not)."""
    return any(c.isalpha() or c == "_" for c in name)


def is_tag_start(text: str, pos: int) -> bool:
    """Whether a "#" at `pos` may start a tag: at the start or after whitespace."""
    return pos == 0 or text[pos - 1].isspace()


def anki_tag(name: str) -> str:
    """Obsidian's nested tag "exam/tip" is Anki's hierarchical tag "exam::tip"."""
    return "::".join(part for part in name.strip().lstrip("#").split("/") if part)


def line_tags(line: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each tag in one line of prose, not in inline code."""
    if "#" not in line:
        return []
    masked = mask_code_spans(line)
    found = []
    for m in _TAG.finditer(masked):
        name = m.group(1)
        if is_tag_start(masked, m.start()) and is_tag(name):
            found.append((m.start(), m.end(), name.strip("/")))
    return found


def lift_tags(text: str, keep: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """Inline tags → Anki tags, removed from the Markdown; lines keep their numbers.

    See `lift_tags_by_line`.
    """
    if "#" not in text:
        return text, []
    lifted = lift_tags_by_line(text.split("\n"), keep)
    return "\n".join(kept for kept, _ in lifted), [tag for _, tags in lifted for tag in tags]


def lift_tags_by_line(
    text_lines: list[str], keep: frozenset[str] = frozenset(), code: list[bool] | None = None
) -> list[tuple[str, list[str]]]:
    """(line without its tags, the tags in Anki form) for each line of a Markdown text.

    Not in fenced or inline code, URLs or headings. A line (or list item) that held only tags
    becomes empty. Names in `keep` (lower case) are left in the text and not lifted. `code`
    says which lines are fenced code when the caller knows (else they are found here).
    """
    if not any("#" in line for line in text_lines):
        return [(line, []) for line in text_lines]
    out: list[tuple[str, list[str]]] = []
    if code is None and any("`" in t or "~" in t for t in text_lines):
        code = [line.code for line in scan(text_lines).lines]
    for index, line in enumerate(text_lines):
        if code and code[index]:
            out.append((line, []))
            continue
        if "#" not in line or heading(line) is not None:
            out.append((line, []))
            continue
        tags: list[str] = []
        pieces: list[str] = []
        last = 0
        for start, end, name in line_tags(line):
            if name.lower() in keep:
                continue
            tags.append(anki_tag(name))
            pieces.append(line[last:start])
            last = end
            if last < len(line) and line[last] == " ":
                last += 1  # "#UseCase pre-configured" → "pre-configured"
        if not pieces:
            out.append((line, []))
            continue
        pieces.append(line[last:])
        kept = "".join(pieces).rstrip()
        out.append((kept if kept.strip(" \t>-*+") else "", tags))
    return out


# ---------------------------------------------------------------- headings and plain text

_HEADING = re.compile(r"[ \t]{0,3}+(#{1,6}+)(?=[ \t]|$)")


def heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line ("## Title ##" → (2, "Title")), else None."""
    m = _HEADING.match(line)
    if m is None:
        return None
    text = line[m.end() :].strip(" \t")
    # A closing run of "#" after a space is no part of the title (CommonMark).
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        text = bare.rstrip(" \t")
    return len(m.group(1)), text


class Headings:
    """The headings standing above a line as a note is read top to bottom: a heading ends
    the ones of its level and below (the one heading stack every reader keeps)."""

    __slots__ = ("stack",)

    def __init__(self) -> None:
        self.stack: list[tuple[int, str]] = []  # (level, plain title), outermost first

    def push(self, level: int, title: str) -> None:
        """A heading of `level` whose (Markdown) title is `title`."""
        self.enter(level, plain_text(title))

    def enter(self, level: int, plain: str) -> None:
        """A heading of `level` whose title is plain text already."""
        self.stack = [h for h in self.stack if h[0] < level]
        self.stack.append((level, plain))

    def context(self) -> tuple[str, ...]:
        """The titles above, outermost first (empty titles left out)."""
        return tuple(title for _, title in self.stack if title)

    def parents(self) -> tuple[str, ...]:
        """The titles above the last heading entered (the context of a card it starts)."""
        return tuple(title for _, title in self.stack[:-1] if title)


# Obsidian's highlight, ==text== on one line (a cloze in the Spaced Repetition and
# Flashcards plugins, and in Obsidian_to_Anki's highlight mode).
HIGHLIGHT = re.compile(r"==([^=\n]+)==")


_MD_LINK = re.compile(r"!?\[([^\]\n]*+)\]\([^)\n]*+\)")
_EMPHASIS = re.compile(r"[*_`=~]++")


def plain_text(markdown: str) -> str:
    """One line of Markdown as plain text: links read as their text, no emphasis marks."""
    text = _WIKILINK.sub(
        lambda m: parse_wikilink(m.group("wikilink_target"), m.group(0)[0] == "!").label, markdown
    )
    text = _MD_LINK.sub(r"\1", text)
    return " ".join(_EMPHASIS.sub("", text).split())


# ---------------------------------------------------------------- frontmatter

MAX_FRONTMATTER_CHARS = 64 * 1024
MAX_FRONTMATTER_NODES = 10_000  # after expanding aliases: a "billion laughs" is refused


@dataclass(frozen=True)
class Frontmatter:
    """A note's YAML frontmatter."""

    end: int  # index of the first line after it (0 when the note has none)
    data: dict[str, Any]  # {} when absent or ignored
    problem: str = ""  # why it was ignored ("" when read or absent)
    problem_line: int = 0  # 1-based line of the problem


def frontmatter(note_lines: list[str]) -> Frontmatter:
    """The frontmatter at the top of a note, read with a safe, bounded YAML loader.

    Frontmatter that is too large, expands too far through aliases, or is not valid YAML is
    ignored (`problem` says why and where); the note's text after it is still the note.
    """
    if not note_lines or note_lines[0].rstrip() != "---":
        return Frontmatter(0, {})
    size = 0
    for end in range(1, len(note_lines)):
        if note_lines[end].rstrip() in ("---", "..."):
            break
        size += len(note_lines[end]) + 1
        if size > MAX_FRONTMATTER_CHARS:
            for close in range(end + 1, len(note_lines)):
                if note_lines[close].rstrip() in ("---", "..."):
                    limit = MAX_FRONTMATTER_CHARS // 1024
                    return Frontmatter(close + 1, {}, f"larger than {limit} KB", 1)
            return Frontmatter(0, {})
    else:
        return Frontmatter(0, {})
    source = "\n".join(note_lines[1:end])
    yaml, loader = _yaml()
    try:
        if "&" in source and "*" in source and _expanded_nodes(source) > MAX_FRONTMATTER_NODES:
            return Frontmatter(end + 1, {}, "its aliases expand too far", 1)
        data = yaml.load(source, Loader=loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = 2 + (mark.line if mark is not None else -1)
        problem = getattr(error, "problem", None) or "invalid YAML"
        return Frontmatter(end + 1, {}, str(problem), line)
    except RecursionError:
        return Frontmatter(end + 1, {}, "nested too deeply", 1)
    return Frontmatter(end + 1, data if isinstance(data, dict) else {})


def _expanded_nodes(source: str) -> int:
    """How many nodes the YAML would have with every alias expanded (stops past the limit)."""
    sizes: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = [(None, 0)]
    yaml, loader = _yaml()
    for event in yaml.parse(source, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            count = sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            count = 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append((event.anchor, 1))
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, count = stack.pop()
            if anchor:
                sizes[anchor] = count
        else:
            continue
        anchor, total = stack[-1]
        stack[-1] = (anchor, total + count)
        if stack[-1][1] > MAX_FRONTMATTER_NODES:
            return stack[-1][1]
    return stack[0][1]


def frontmatter_tags(data: dict[str, Any]) -> tuple[str, ...]:
    """The note's tags from its frontmatter (``tags:`` or ``tag:``, list or string), Anki form."""
    raw = data.get("tags", data.get("tag"))
    if isinstance(raw, str):
        raw = re.split(r"[,\s]+", raw)
    if not isinstance(raw, list):
        return ()
    scalars = (tag for tag in raw if isinstance(tag, str | int | float))
    names = (str(tag) for tag in scalars if not isinstance(tag, bool))
    tags = (anki_tag(name) for name in names if name.strip())
    return tuple(dict.fromkeys(tag for tag in tags if tag))


# ---------------------------------------------------------------- settings files

SETTINGS_MAX_BYTES = 16 << 20  # a plugin's data.json; Obsidian_to_Anki's grows with media hashes


class SettingsError(Exception):
    """A settings file that cannot be used; the message says why in a few words."""


def read_settings(path: Path) -> dict[str, Any]:
    """One of the vault's JSON settings files (`.obsidian/app.json`, a plugin's data.json) as
    an object; a byte-order mark at its start is allowed. A pipe or folder is refused at once,
    never waited on.

    Raises FileNotFoundError when there is no such file, SettingsError when it cannot be used."""
    try:
        data = atomic.read_regular(path, SETTINGS_MAX_BYTES)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise SettingsError(error.strerror or type(error).__name__) from None
    except ValueError as error:  # larger than SETTINGS_MAX_BYTES
        raise SettingsError(str(error)) from None
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SettingsError("not UTF-8 text") from None
    except ValueError:
        raise SettingsError("not valid JSON") from None
    except RecursionError:
        raise SettingsError("nested too deeply") from None
    if not isinstance(value, dict):
        raise SettingsError("not a JSON object")
    return value
