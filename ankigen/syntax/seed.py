"""The seed syntax: `#Question` / `Answer:` blocks, `#UseCase` sections, a References section.

Obsidian's own syntax (comments, fences, code spans, tags, headings, frontmatter) is read with
obsidian.py, once per note (NoteText); this module knows ankigen's markers only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import obsidian
from ..records import CLOZE, CardSource, Diagnostic, SeeLink
from . import NoteText
from .cloze import anki_clozes_to_marks

NAME = "seed"
LABEL = "#Question"
PRIORITY = 0  # explicit markers: first in the overlap order
IMPLICIT = False
PLUGIN_ID = None  # ankigen's own syntax: no plugin settings file

# Any whitespace before a marker is indentation (tabs, no-break spaces, …); punctuation right
# after it ("#Question:", "#Q.") is no part of the question. Possessive: linear on long lines.
_MARKER_TAIL = r"(?![\w/-])[:.)\u2013\u2014]*+\s*+(.*)"
# Zero-width spaces and word joiners, pasted from the web, are no text either.
_MARKER_HEAD = r"[\s\u200b\u2060\ufeff]*+#"
_QUESTION = re.compile(_MARKER_HEAD + r"(?:question|q)" + _MARKER_TAIL, re.IGNORECASE)
_USECASE = re.compile(_MARKER_HEAD + r"usecase" + _MARKER_TAIL, re.IGNORECASE)
# "Answer:", "answer :", "**Answer:**", "**Answer**:", "> Answer:", indented or not.
_ANSWER = re.compile(
    r"(?P<quote>\s*+(?:>\s*+)*+)(?:\*\*|__)?answer\s*+(?:\*\*|__)?\s*+:"
    r"(?:\s*+(?:\*\*|__)(?!\S*(?:\*\*|__)))?\s?(?P<rest>.*)",
    re.IGNORECASE,
)
_SEE = re.compile(r"\s*+see\s*+:\s*+(.*)", re.IGNORECASE)
_MD_LINK = re.compile(r"\[([^\]]*+)\]\(\s*+<?([^)\s>]++)>?(?:\s++\"[^\"]*+\")?\s*+\)")
_BARE_URL = re.compile(r"https?://\S++")
_RULE = re.compile(r"[ \t]{0,3}+(?:(?:-[ \t]*+){3,}+|(?:\*[ \t]*+){3,}+|(?:_[ \t]*+){3,}+)$")
_REFERENCES = re.compile(
    r"[ \t]*+(?:\*\*|__)references:?(?:\*\*|__):?[ \t]*+$"
    r"|[ \t]{0,3}+#{1,6}+[ \t]++references:?[ \t]*+$",
    re.IGNORECASE,
)
# Every marker, heading, References line, rule and list item holds one of these.
_MAY_STRUCTURE = re.compile(r"[#*_\-+\d]")
_MARKERS = frozenset(("question", "q"))  # "#Q" inside a card's text is text, not a tag

Numbered = list[tuple[int, str]]  # (line number, text)


@dataclass(frozen=True)
class Settings:
    """The seed syntax has no settings of its own."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, problems: list[str]) -> Settings:
        return cls()


def read(note: NoteText, settings: Settings) -> tuple[list[CardSource], list[Diagnostic]]:
    """The note's seed cards, its References section (set on `note`) and the warnings."""
    splitter = _Splitter(note)
    splitter.run()
    note.references, note.references_line = splitter.references_text()
    return [_with_cloze(card) for card in splitter.cards], splitter.diagnostics


def _with_cloze(card: CardSource) -> CardSource:
    """A question card whose question holds Anki clozes (`{{c1::…}}`) becomes a cloze note."""
    if card.kind != "question" or "{{c" not in card.question:
        return card
    text, count = anki_clozes_to_marks(card.question)
    if not count:
        return card
    return replace(card, question=text, note_type=CLOZE)


@dataclass
class _Block:
    """A card being collected."""

    kind: str
    line: int
    context: tuple[str, ...]
    question: Numbered = field(default_factory=list)
    answer: Numbered = field(default_factory=list)
    answer_line: int = 0  # 0 until the Answer: marker is seen
    see: list[SeeLink] = field(default_factory=list)
    quote: str = ""  # the "> " prefix of a quoted Answer:, stripped from the answer's lines
    code: set[int] = field(default_factory=set)  # lines in fenced code, as the note reads
    indent: int = 0  # columns before the marker: a card inside a list item ends with the item

    def add(self, line: str, number: int, opaque: bool) -> None:
        """One line inside the card: question text, a See: line, the Answer: marker or answer."""
        if opaque:
            self.code.add(number)
        if self.kind == "usecase" or self.answer_line:
            self.answer.append((number, self._unquoted(line)))
            return
        marker = None if opaque else _ANSWER.match(line)
        if marker:
            self.answer_line = number
            self.quote = ">" if ">" in marker.group("quote") else ""
            if marker.group("rest").strip():
                self.answer.append((number, marker.group("rest").lstrip()))
            return
        see = None if opaque else _SEE.match(line)
        if see:
            self.see.extend(_see_links(see.group(1)))
            return
        self.question.append((number, line))

    def _unquoted(self, line: str) -> str:
        """An answer line without the quote of a quoted `> Answer:`."""
        if self.quote and line.lstrip().startswith(">"):
            line = line.lstrip()[1:].removeprefix(" ")
            if _is_marker(line):  # "> #Q" was quoted text, not a marker: it stays text
                at = line.index("#")
                line = line[:at] + "\\" + line[at:]
        return line


class _Splitter:
    """Reads one note's scanned lines top to bottom into cards and its References section."""

    def __init__(self, note: NoteText) -> None:
        self.note = note
        self.scanned = note.body_scan
        self.diagnostics: list[Diagnostic] = []
        self.cards: list[CardSource] = []
        self.headings = obsidian.Headings()
        self.references: Numbered = []
        self.references_line = 0
        self.in_references = False
        self.block: _Block | None = None

    def warn(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.note.rel, line, "warning", message))

    def run(self) -> None:
        self._frontmatter_markers()
        if self.scanned.unclosed_comment:
            self.warn(
                self.scanned.unclosed_comment,
                "%% opens a comment that is never closed: Obsidian hides the rest of the note",
            )
        for item in self.scanned.lines:
            self._hidden_marker(item)
            if item.code or not self._structure(item.number, item.visible):
                self._text(item)
        self._close()

    def _frontmatter_markers(self) -> None:
        lines = self.note.lines
        for index in range(1, self.note.body_start - 1):
            if _is_marker(lines[index].replace(obsidian.COMMENT, " ")):
                self.warn(index + 1, "marker inside the frontmatter; no card made")

    def _hidden_marker(self, item: obsidian.Line) -> None:
        """A marker Obsidian does not show (in never-closed code, in a comment) makes no card."""
        if item.code:
            if self.scanned.unclosed_fence and _is_marker(item.visible):
                self.warn(
                    item.number,
                    "marker inside the code block opened at line "
                    f"{self.scanned.unclosed_fence}, which is never closed; no card made",
                )
        elif (
            item.comment_line
            and _is_marker(item.text.replace(obsidian.COMMENT, " "))
            and not _is_marker(item.visible)
        ):
            self.warn(
                item.number,
                f"marker inside the %% comment opened at line {item.comment_line}; no card made",
            )

    def _structure(self, number: int, line: str) -> bool:
        """A marker, heading, References heading or rule: True when the line is used up."""
        if not _MAY_STRUCTURE.search(line):  # most lines: none of "#", "*", "_", "-", "+", digit
            return False
        if question := _QUESTION.match(line):
            self._open("question", number, line)
            if question.group(1).strip():
                self._block().question.append((number, question.group(1)))
            return True
        if usecase := _USECASE.match(line):
            block = self._open("usecase", number, line)
            block.question.append((number, usecase.group(1).strip()))
            block.answer_line = number + 1
            return True
        heading = obsidian.heading(line)
        if self.in_references:
            if heading and not _REFERENCES.match(line):
                self.in_references = False  # a new section ends the references
                self.headings.push(*heading)
                return True
        elif _REFERENCES.match(line) and not self.references_line:
            self._close()
            self.in_references = True
            self.references_line = number
            return True
        elif heading or _RULE.match(line):
            self._close()
            if heading:
                self.headings.push(*heading)
            return True
        held = self.block
        if held and held.indent and obsidian.is_list_item(line) and _indent(line) < held.indent:
            self._close()  # the next item of the list the card was written in
        return False

    def _text(self, item: obsidian.Line) -> None:
        if self.in_references:
            self.references.append((item.number, item.visible))
        elif self.block is not None:
            self.block.add(item.visible, item.number, item.code)

    def _open(self, kind: str, number: int, line: str) -> _Block:
        self._close()
        self.in_references = False
        self.block = _Block(kind, number, self.headings.context(), indent=_indent(line))
        return self.block

    def _block(self) -> _Block:
        assert self.block is not None
        return self.block

    def _close(self) -> None:
        if self.block is not None:
            card = _finish(self.note, self.block, self.diagnostics)
            if card is not None:
                self.cards.append(card)
        self.block = None

    def references_text(self) -> tuple[str, int]:
        """The References section's Markdown (tags lifted out, blank ends trimmed), its line."""
        code = {number for number, _ in self.references if self.scanned.at(number).code}
        lifted = _lift(self.references, code)
        kept = _trim_numbered([(number, text) for number, text, _ in lifted])
        return "\n".join(text for _, text in kept), kept[0][0] if kept else 0


def _first_block_end(lines: Numbered) -> int:
    """How many lines the first line takes: one, or a whole fenced code block."""
    fence = obsidian.fence_open(lines[0][1], 0)
    if not fence:
        return 1
    for index in range(1, len(lines)):
        if obsidian.fence_closes(lines[index][1], fence):
            return index + 1
    return len(lines)


def _indent(line: str) -> int:
    return obsidian.columns(obsidian.indentation(line))


def _is_marker(line: str) -> bool:
    return bool(_QUESTION.match(line) or _USECASE.match(line))


def _parts(block: _Block) -> tuple[Numbered, Numbered, list[str]]:
    """The question's and the answer's lines (indentation, fences and tags sorted out) and
    the tags lifted from them."""
    question_lines = _lift(
        _keep_fences(_dedent(block.question, block.line), block.code), block.code
    )
    answer_source = _keep_fences(_dedent(block.answer, block.answer_line), block.code)
    answer_lines = _lift(answer_source, block.code)
    tags = [tag for _, _, found in [*question_lines, *answer_lines] for tag in found]
    question = _trim_numbered([(n, text) for n, text, _ in question_lines])
    answer = _trim_numbered([(n, text) for n, text, _ in answer_lines])
    if block.kind == "question" and not block.answer_line and question:
        # No Answer: marker: the first line is the question, the rest the answer (a code
        # block there is the question whole).
        first = _first_block_end(question)
        return question[:first], _trim_numbered(question[first:]), tags
    if (
        block.kind == "usecase"
        and not block.question[0][1]
        and answer
        and not obsidian.fence_open(answer[0][1])
    ):
        # "#UseCase" alone on its line: the first line below is the title (a code block is not).
        return [(n, text.strip()) for n, text in answer[:1]], _trim_numbered(answer[1:]), tags
    return question, answer, tags


def _finish(note: NoteText, block: _Block, diagnostics: list[Diagnostic]) -> CardSource | None:
    """A card from a finished block, or None (with a warning) when it has no answer."""
    question_part, answer_part, tags = _parts(block)
    question = "\n".join(text for _, text in question_part)
    answer = "\n".join(text for _, text in answer_part)
    what = "use case" if block.kind == "usecase" else "question"
    problem = ""
    if block.kind == "question" and not question.strip():
        problem = "question is empty; no card made"
    # A cloze ({{c1::…}}) needs no answer: the seed reader makes it a cloze note.
    elif "{{c" not in question and (not answer.strip() or _shows_nothing(note, answer)):
        problem = f"{what} has no answer; no card made"
    if problem:
        diagnostics.append(Diagnostic(note.rel, block.line, "warning", problem))
        return None
    if block.kind == "usecase":
        tags.insert(0, "UseCase")
    return CardSource(
        kind="usecase" if block.kind == "usecase" else "question",
        line=block.line,
        question=question.strip(),
        answer=answer,
        answer_line=answer_part[0][0] if answer_part else block.line,
        question_line=question_part[0][0] if question_part else block.line,
        see=tuple(block.see),
        tags=tuple(dict.fromkeys(tags)),
        context=block.context,
    )


# What never shows on a card: tags, fence lines, block ids, comments; a word or a picture does.
# A tag holds no "<": an unclosed "<a " then costs only itself, not a scan to the text's end.
_INVISIBLE = re.compile(
    r"<[^<>]*+>|^[ \t>]*+(?:`{3,}+|~{3,}+).*+$|\^[A-Za-z0-9-]++[ \t]*+$", re.MULTILINE
)
_WORD = re.compile(r"\w")


def shows_text(markdown: str) -> bool:
    """Whether the Markdown certainly shows something: a word outside tags, fences, block ids.
    Punctuation alone ("---" nothing, "✓" itself) only the renderer can tell."""
    return bool(_WORD.search(_INVISIBLE.sub("", markdown)))


def _shows_nothing(note: NoteText, markdown: str) -> bool:
    """Whether the answer shows nothing: asked of the renderer (handed in by the render stage
    with the note) only for an answer without a word."""
    if shows_text(markdown):
        return False
    return note.shows_nothing is not None and note.shows_nothing(markdown)


def _lift(lines: Numbered, code: set[int]) -> list[tuple[int, str, list[str]]]:
    """Each line with its tags lifted out (a line of tags only becomes empty)."""
    texts = [text for _, text in lines]
    in_code = [number in code for number, _ in lines]
    lifted = obsidian.lift_tags_by_line(texts, keep=_MARKERS, code=in_code)
    return [(number, kept, tags) for (number, _), (kept, tags) in zip(lines, lifted, strict=True)]


def _dedent(lines: Numbered, marker_line: int) -> Numbered:
    """Without the lines' common indentation (a tab is 4 columns, any Unicode space is one).

    Only fenced code is code on a card: an answer indented under a list item in the note is
    the list item's text, as Obsidian shows it. The text after a marker on its own line
    ("Answer: text") has no indentation of its own and is not measured.
    """
    widths = [
        obsidian.columns(text[: len(text) - len(stripped)])
        for number, text in lines
        if number != marker_line and (stripped := text.lstrip())
    ]
    width = min(widths, default=0)
    return [
        (number, text if number == marker_line else _remove_columns(text, width))
        for number, text in lines
    ]


def _keep_fences(lines: Numbered, code: set[int]) -> Numbered:
    """The card's fenced code is the note's, though the card lacks what stood above it.

    A fenced block that needed a list item above the card to be one moves left until it is
    one on the card (its lines by the opening fence's indentation, as Markdown reads them);
    a line that was no fence in the note but would open one on the card is escaped ("\\```").
    """
    result = list(lines)
    starts = [
        index
        for index, (number, _) in enumerate(lines)
        if number in code and (index == 0 or lines[index - 1][0] not in code)
    ]
    # The fences as the card reads them (before any line moves).
    on_card = dict(zip(starts, card_code_at([text for _, text in lines], starts), strict=True))
    index = 0
    while index < len(result):
        number, text = result[index]
        if index not in on_card or on_card[index]:
            index += 1
            continue
        width = obsidian.columns(obsidian.indentation(text))
        while index < len(result) and result[index][0] in code:
            number, text = result[index]
            result[index] = (number, _remove_columns(text, width))
            index += 1
    for index, (number, text) in enumerate(result):
        if number not in code and obsidian.fence_open(text):
            at = len(text) - len(text.lstrip(" \t>"))
            result[index] = (number, text[:at] + "\\" + text[at:])
    return result


# From the scanner's start state, a line without these leaves it there (see card_code_at).
_SCAN_STATE_CHARS = frozenset("-*+0123456789")


def card_code_at(texts: list[str], indexes: list[int]) -> list[bool]:
    """Whether each of the lines at `indexes` (ascending) is fenced code as the card reads
    them: obsidian.scan(texts), scanning only what it needs. A scanned line depends only on
    the lines above it, so the lines after the last index are not scanned; and lines that
    leave the scanner in its start state (no fence, comment or list item can begin in them)
    are not scanned before the first one."""
    if not indexes:
        return []
    first = 0
    while first < indexes[0] and not _may_change_scan(texts[first]):
        first += 1
    scanned = obsidian.scan(texts[first : indexes[-1] + 1]).lines
    return [scanned[index - first].code for index in indexes]


def _may_change_scan(text: str) -> bool:
    """Whether scanning this line from the scanner's start state can leave another state."""
    if "`" in text or "~" in text or obsidian.COMMENT in text:
        return True  # a fence or a %% comment
    head = text.lstrip()[:1]
    return bool(head) and head in _SCAN_STATE_CHARS  # a list item (its column places fences)


_UNICODE_SPACE = re.compile(r"[^\S\t\n ]")


def _remove_columns(text: str, width: int) -> str:
    """The line without `width` columns of indentation; other spaces in what is left of it
    (no-break, em, …) become plain spaces, so Markdown sees them as indentation."""
    if not text[:1].isspace():  # no indentation: most lines
        return text
    indent = obsidian.indentation(text)
    if len(indent) == len(text):
        return ""
    column = 0
    cut = 0
    while cut < len(indent) and column < width:
        char = indent[cut]
        column = (
            column + obsidian.TAB_WIDTH - column % obsidian.TAB_WIDTH
            if char == "\t"
            else column + 1
        )
        cut += 1
    kept = " " * (column - width) + indent[cut:]  # a tab cut in two leaves its spaces
    if not kept.isascii():
        kept = _UNICODE_SPACE.sub(" ", kept)
    return kept + text[len(indent) :]


def _trim_numbered(lines: Numbered) -> Numbered:
    """Without the blank lines at either end."""
    first = 0
    last = len(lines)
    while first < last and not lines[first][1].strip():
        first += 1
    while last > first and not lines[last - 1][1].strip():
        last -= 1
    return lines[first:last]


def _see_links(text: str) -> list[SeeLink]:
    links = [SeeLink(title.strip() or url, url) for title, url in _MD_LINK.findall(text)]
    if not links:
        links = [SeeLink(url, url) for url in _BARE_URL.findall(text)]
    return links
