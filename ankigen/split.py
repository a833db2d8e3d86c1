"""Split a note into cards: #Question / Answer: blocks, #UseCase sections, tags, references.

Obsidian's own syntax (comments, fences, code spans, tags, headings, frontmatter) is read with
obsidian.py; this module knows ankigen's markers only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from . import obsidian
from .mdlimits import limit_markdown
from .records import CardSource, Diagnostic, ParsedNote, SeeLink

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
_MARKERS = frozenset(("question", "q"))  # "#Q" inside a card's text is text, not a tag


@dataclass
class _Block:
    """A card being collected."""

    kind: str
    line: int
    context: tuple[str, ...]
    question: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)
    answer: list[tuple[int, str]] = field(default_factory=list)
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
            if self.quote and line.lstrip().startswith(">"):
                line = line.lstrip()[1:].removeprefix(" ")
                if _is_marker(line):  # "> #Q" was quoted text, not a marker: it stays text
                    at = line.index("#")
                    line = line[:at] + "\\" + line[at:]
            self.answer.append((number, line))
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


def split_note(
    rel: str, text: str, body_scan: Callable[[], obsidian.Scan] | None = None
) -> tuple[ParsedNote, list[Diagnostic]]:
    """Cards of one note, with the warnings found on the way. `body_scan` gives the scan of
    the note's raw lines after its frontmatter (NoteText.body_scan, shared with other readers):
    used when cleaning the text changed nothing, so that it is the scan of these lines."""
    diagnostics: list[Diagnostic] = []

    def warn(line: int, message: str) -> None:
        diagnostics.append(Diagnostic(rel, line, "warning", message))

    cleaned = obsidian.clean_text(text)
    note_lines = obsidian.lines(cleaned)
    front = obsidian.frontmatter(note_lines)
    if front.problem:
        warn(front.problem_line, f"frontmatter ignored: {front.problem}")
    for index in range(1, front.end - 1):
        if _is_marker(note_lines[index].replace(obsidian.COMMENT, " ")):
            warn(index + 1, "marker inside the frontmatter; no card made")
    if body_scan is not None and cleaned == text:
        scanned = body_scan()
    else:
        scanned = obsidian.scan(note_lines[front.end :], first=front.end + 1)
    if scanned.unclosed_comment:
        warn(
            scanned.unclosed_comment,
            "%% opens a comment that is never closed: Obsidian hides the rest of the note",
        )
    title = rel.rsplit("/", 1)[-1]
    title = title[:-3] if title.lower().endswith(".md") else title
    cards: list[CardSource] = []
    headings: list[tuple[int, str]] = []
    references: list[tuple[int, str]] = []
    references_line = 0
    in_references = False
    block: _Block | None = None

    def close() -> None:
        nonlocal block
        if block is not None:
            card = _finish(rel, block, diagnostics)
            if card is not None:
                cards.append(card)
        block = None

    for item in scanned.lines:
        number, line = item.number, item.visible
        if item.code:
            if scanned.unclosed_fence and _is_marker(line):
                warn(
                    number,
                    f"marker inside the code block opened at line {scanned.unclosed_fence}, "
                    "which is never closed; no card made",
                )
        elif (
            item.comment_line
            and _is_marker(item.text.replace(obsidian.COMMENT, " "))
            and not _is_marker(line)
        ):
            warn(
                number,
                f"marker inside the %% comment opened at line {item.comment_line}; no card made",
            )
        if not item.code:
            if question := _QUESTION.match(line):
                close()
                in_references = False
                block = _Block("question", number, _context(headings), indent=_indent(line))
                if question.group(1).strip():
                    block.question.append((number, question.group(1)))
                continue
            if usecase := _USECASE.match(line):
                close()
                in_references = False
                block = _Block("usecase", number, _context(headings), indent=_indent(line))
                block.question.append((number, usecase.group(1).strip()))
                block.answer_line = number + 1
                continue
            heading = obsidian.heading(line)
            if in_references:
                if heading and not _REFERENCES.match(line):
                    in_references = False  # a new section ends the references
                    headings = _push_heading(headings, heading)
                    continue
            elif _REFERENCES.match(line) and not references_line:
                close()
                in_references = True
                references_line = number
                continue
            elif heading:
                close()
                headings = _push_heading(headings, heading)
                continue
            elif _RULE.match(line):
                close()
                continue
            if (
                block is not None
                and block.indent
                and obsidian.is_list_item(line)
                and _indent(line) < block.indent
            ):
                close()  # the next item of the list the card was written in
        if in_references:
            references.append((number, line))
        elif block is not None:
            block.add(line, number, item.code)
    close()

    lifted = _lift(references, {number for number, _ in references if scanned.at(number).code})
    kept = _trim_numbered([(number, text) for number, text, _ in lifted])
    reference_text = "\n".join(text for _, text in kept)
    for offset, message in limit_markdown(reference_text)[1] if cards else ():
        warn(kept[offset][0], message)
    note = ParsedNote(
        rel=rel,
        title=title,
        cards=tuple(cards),
        tags=obsidian.frontmatter_tags(front.data),
        references=reference_text,
        references_line=kept[0][0] if kept else 0,
    )
    return note, diagnostics


def _first_block_end(lines: list[tuple[int, str]]) -> int:
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


def _finish(rel: str, block: _Block, diagnostics: list[Diagnostic]) -> CardSource | None:
    """A card from a finished block, or None (with a warning) when it has no answer."""
    question_source = _keep_fences(_dedent(block.question, block.line), block.code)
    answer_source = _keep_fences(_dedent(block.answer, block.answer_line), block.code)
    question_lines = _lift(question_source, block.code)
    answer_lines = _lift(answer_source, block.code)
    question_tags = [tag for _, _, tags in question_lines for tag in tags]
    answer_tags = [tag for _, _, tags in answer_lines for tag in tags]
    question_part = _trim_numbered([(n, text) for n, text, _ in question_lines])
    answer_part = _trim_numbered([(n, text) for n, text, _ in answer_lines])
    if block.kind == "question" and not block.answer_line and question_part:
        # No Answer: marker: the first line is the question, the rest the answer (a code
        # block there is the question whole).
        first = _first_block_end(question_part)
        answer_part = _trim_numbered(question_part[first:])
        question_part = question_part[:first]
    elif (
        block.kind == "usecase"
        and not block.question[0][1]
        and answer_part
        and not obsidian.fence_open(answer_part[0][1])
    ):
        # "#UseCase" alone on its line: the first line below is the title (a code block is not).
        question_part = [(n, text.strip()) for n, text in answer_part[:1]]
        answer_part = _trim_numbered(answer_part[1:])
    question = "\n".join(text for _, text in question_part)
    answer = "\n".join(text for _, text in answer_part)
    what = "use case" if block.kind == "usecase" else "question"
    if block.kind == "question" and not question.strip():
        diagnostics.append(
            Diagnostic(rel, block.line, "warning", "question is empty; no card made")
        )
        return None
    # A cloze ({{c1::…}}) needs no answer: the seed reader makes it a cloze note.
    if (not answer.strip() or _shows_nothing(answer)) and "{{c" not in question:
        diagnostics.append(
            Diagnostic(rel, block.line, "warning", f"{what} has no answer; no card made")
        )
        return None
    for part in (question_part, answer_part):
        _, problems = limit_markdown("\n".join(text for _, text in part))
        diagnostics.extend(
            Diagnostic(rel, part[offset][0], "warning", message) for offset, message in problems
        )
    tags = [*question_tags, *answer_tags]
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


_TAG = re.compile(r"<[^<>]*+>")


def _shows_nothing(markdown: str) -> bool:
    """Whether the Markdown renders to nothing visible (only then is it rendered here)."""
    if re.search(r"\w", _INVISIBLE.sub("", markdown)):
        return False
    # Only the renderer knows what punctuation alone shows ("---" nothing, "✓" itself): the
    # one use of rendering by a reader, imported here so that reading notes loads no mistune.
    from .render import render_markdown

    html = render_markdown(markdown)
    return "<img" not in html and not _TAG.sub("", html).strip()


def _lift(lines: list[tuple[int, str]], code: set[int]) -> list[tuple[int, str, list[str]]]:
    """Each line with its tags lifted out (a line of tags only becomes empty)."""
    texts = [text for _, text in lines]
    in_code = [number in code for number, _ in lines]
    lifted = obsidian.lift_tags_by_line(texts, keep=_MARKERS, code=in_code)
    return [(number, kept, tags) for (number, _), (kept, tags) in zip(lines, lifted, strict=True)]


def _dedent(lines: list[tuple[int, str]], marker_line: int) -> list[tuple[int, str]]:
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


def _keep_fences(lines: list[tuple[int, str]], code: set[int]) -> list[tuple[int, str]]:
    """The card's fenced code is the note's, though the card lacks what stood above it.

    A fenced block that needed a list item above the card to be one moves left until it is
    one on the card (its lines by the opening fence's indentation, as Markdown reads them);
    a line that was no fence in the note but would open one on the card is escaped ("\\```").
    """
    result = list(lines)
    on_card: tuple[obsidian.Line, ...] | None = None  # scanned when a code line is first met
    index = 0
    while index < len(result):
        number, text = result[index]
        starts_run = number in code and (index == 0 or result[index - 1][0] not in code)
        if not starts_run:
            index += 1
            continue
        if on_card is None:  # the fences as the card reads them (before any line moves)
            on_card = obsidian.scan([text for _, text in lines]).lines
        if on_card[index].code:
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


def _trim_numbered(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
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


def _push_heading(
    headings: list[tuple[int, str]], heading: tuple[int, str]
) -> list[tuple[int, str]]:
    level, text = heading
    return [*(h for h in headings if h[0] < level), (level, obsidian.plain_text(text))]


def _context(headings: list[tuple[int, str]]) -> tuple[str, ...]:
    """The headings above a card (fields.context_html leaves out one repeating the title)."""
    return tuple(text for _, text in headings if text)
