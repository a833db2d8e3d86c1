"""Split a note into cards: #Question / Answer: blocks, #UseCase sections, tags, references."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from .model import CardSource, Diagnostic, ParsedNote, SeeLink

try:  # the C loader is ~10x faster; PyYAML wheels ship it
    _YamlLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader

_QUESTION = re.compile(r"^[ \t]*#(?:question|q)(?![\w/-])[ \t]*(.*)$", re.IGNORECASE)
_USECASE = re.compile(r"^#usecase(?![\w/-])[ \t]*(.*)$", re.IGNORECASE)
# "Answer:", "answer :", "**Answer:**", "**Answer**:", "> Answer:", indented or not.
_ANSWER = re.compile(
    r"^(?P<quote>[ \t]*(?:>[ \t]?)*)[ \t]*(?:\*\*|__)?answer[ \t]*(?:\*\*|__)?[ \t]*:"
    r"(?:[ \t]*(?:\*\*|__)(?!\S*(?:\*\*|__)))?[ \t]?(?P<rest>.*)$",
    re.IGNORECASE,
)
_SEE = re.compile(r"^[ \t]*see[ \t]*:[ \t]*(.*)$", re.IGNORECASE)
_MD_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_BARE_URL = re.compile(r"https?://\S+")
_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*#*[ \t]*$")
_RULE = re.compile(r"^[ \t]{0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_REFERENCES = re.compile(
    r"^[ \t]*(?:\*\*|__)references:?(?:\*\*|__):?[ \t]*$"
    r"|^[ \t]{0,3}#{1,6}[ \t]+references:?[ \t]*$",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^[ \t]*(?:>[ \t]?)*[ \t]*(`{3,}|~{3,})")
# An Obsidian tag: after a space or the line start, '#', then letters, digits, _ - /,
# with at least one character that is not a digit.
_TAG = re.compile(r"(?:(?<=\s)|^)#([\w/-]+)")
_CODE_SPAN = re.compile(r"(`+).+?\1")
_MARKERS = {"question", "q"}


@dataclass
class _Block:
    """A card being collected."""

    kind: str
    line: int
    context: tuple[str, ...]
    question: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)
    answer: list[str] = field(default_factory=list)
    answer_line: int = 0  # 0 until the Answer: marker is seen
    see: list[SeeLink] = field(default_factory=list)
    quote: str = ""  # the "> " prefix of a quoted Answer:, stripped from the answer's lines

    def add(self, line: str, number: int, opaque: bool) -> None:
        """One line inside the card: question text, a See: line, the Answer: marker or answer."""
        if self.kind == "usecase" or self.answer_line:
            if self.quote and line.lstrip().startswith(">"):
                line = line.lstrip()[1:].removeprefix(" ")
            self.answer.append(line)
            return
        marker = None if opaque else _ANSWER.match(line)
        if marker:
            self.answer_line = number
            self.quote = ">" if ">" in marker.group("quote") else ""
            if marker.group("rest").strip():
                self.answer.append(marker.group("rest").lstrip())
            else:
                self.answer_line = number + 1
            return
        see = None if opaque else _SEE.match(line)
        if see:
            self.see.extend(_see_links(see.group(1)))
            return
        self.question.append((number, line))


def split_note(rel: str, text: str) -> tuple[ParsedNote, list[Diagnostic]]:
    """Cards of one note, with the warnings found on the way."""
    diagnostics: list[Diagnostic] = []
    lines = text.splitlines()
    start, note_tags = _frontmatter(rel, lines, diagnostics)
    title = rel.rsplit("/", 1)[-1]
    title = title[:-3] if title.lower().endswith(".md") else title
    cards: list[CardSource] = []
    headings: list[tuple[int, str]] = []
    references: list[str] = []
    references_line = 0
    in_references = False
    block: _Block | None = None
    fence = ""  # the open code fence ("```"), or ""
    in_comment = False  # inside a multi-line %% comment %%

    def close() -> None:
        nonlocal block
        if block is not None:
            card = _finish(rel, block, diagnostics)
            if card is not None:
                cards.append(card)
        block = None

    for index in range(start, len(lines)):
        line = lines[index]
        number = index + 1
        opaque = bool(fence or in_comment)
        if not opaque:
            if in_references:
                heading = _HEADING.match(line)
                if heading and not _REFERENCES.match(line):
                    in_references = False  # a new section ends the references
                    headings = _push_heading(headings, heading)
                    continue
            elif question := _QUESTION.match(line):
                close()
                block = _Block("question", number, _context(headings))
                if question.group(1).strip():
                    block.question.append((number, question.group(1)))
                continue
            elif usecase := _USECASE.match(line):
                close()
                block = _Block("usecase", number, _context(headings))
                block.question.append((number, usecase.group(1).strip()))
                block.answer_line = number + 1
                continue
            elif _REFERENCES.match(line) and not references_line:
                close()
                in_references = True
                references_line = number
                continue
            elif heading := _HEADING.match(line):
                close()
                headings = _push_heading(headings, heading)
                continue
            elif _RULE.match(line):
                close()
                continue
        if in_references:
            references.append(line)
        elif block is not None:
            block.add(line, number, opaque)
        fence, in_comment = _scan_opaque(line, fence, in_comment)
    close()

    reference_text = "\n".join(_trim(references))
    note = ParsedNote(
        rel=rel,
        title=title,
        cards=tuple(cards),
        tags=note_tags,
        references=reference_text,
        references_line=references_line if reference_text else 0,
    )
    return note, diagnostics


def _finish(rel: str, block: _Block, diagnostics: list[Diagnostic]) -> CardSource | None:
    """A card from a finished block, or None (with a warning) when it has no answer."""
    question_lines = _trim_numbered(block.question)
    answer_lines = _trim(block.answer)
    answer_line = block.answer_line
    if block.kind == "question" and not answer_line and question_lines:
        # No Answer: marker: the first line is the question, the rest the answer.
        rest = _trim_numbered(question_lines[1:])
        question_lines = question_lines[:1]
        answer_lines = [text for _, text in rest]
        answer_line = rest[0][0] if rest else 0
    elif answer_lines and answer_line:
        answer_line += next(i for i, text in enumerate(block.answer) if text.strip())
    question, question_tags = _lift_tags("\n".join(text for _, text in question_lines))
    answer, answer_tags = _lift_tags("\n".join(answer_lines))
    what = "use case" if block.kind == "usecase" else "question"
    if block.kind == "question" and not question.strip():
        diagnostics.append(
            Diagnostic(rel, block.line, "warning", "question is empty; no card made")
        )
        return None
    if not answer.strip():
        diagnostics.append(
            Diagnostic(rel, block.line, "warning", f"{what} has no answer; no card made")
        )
        return None
    tags = [*question_tags, *answer_tags]
    if block.kind == "usecase":
        tags.insert(0, "UseCase")
    return CardSource(
        kind="usecase" if block.kind == "usecase" else "question",
        line=block.line,
        question=question.strip(),
        answer=answer.strip("\n"),
        answer_line=answer_line,
        see=tuple(block.see),
        tags=tuple(dict.fromkeys(tags)),
        context=block.context,
    )


def _trim_numbered(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    texts = [text for _, text in lines]
    kept = _trim(texts)
    if not kept:
        return []
    first = next(i for i, text in enumerate(texts) if text.strip())
    return lines[first : first + len(kept)]


def _trim(lines: list[str]) -> list[str]:
    """Without the blank lines at either end."""
    first = 0
    last = len(lines)
    while first < last and not lines[first].strip():
        first += 1
    while last > first and not lines[last - 1].strip():
        last -= 1
    return lines[first:last]


def _see_links(text: str) -> list[SeeLink]:
    links = [SeeLink(title.strip() or url, url) for title, url in _MD_LINK.findall(text)]
    if not links:
        links = [SeeLink(url, url) for url in _BARE_URL.findall(text)]
    return links


def _scan_opaque(line: str, fence: str, in_comment: bool) -> tuple[str, bool]:
    """Track code fences and %% comments, inside which markers are only text."""
    match = _FENCE.match(line)
    if fence:
        closes = match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)
        if closes and not line[match.end() :].strip():
            return "", in_comment
        return fence, in_comment
    if match and not in_comment:
        return match.group(1), in_comment
    if line.count("%%") % 2:
        return fence, not in_comment
    return fence, in_comment


def _push_heading(headings: list[tuple[int, str]], heading: re.Match[str]) -> list[tuple[int, str]]:
    level = len(heading.group(1))
    text = _plain_heading(heading.group(2) or "")
    return [*(h for h in headings if h[0] < level), (level, text)]


def _plain_heading(text: str) -> str:
    text = re.sub(r"\[\[([^\]|#]*)(?:#[^\]|]*)?(?:\|([^\]]*))?\]\]", lambda m: m[2] or m[1], text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[*_`=~]", "", text).strip()


def _context(headings: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(text for _, text in headings if text)


def _lift_tags(text: str) -> tuple[str, list[str]]:
    """Inline Obsidian tags → Anki tags, removed from the text (not in code, URLs or headings)."""
    if "#" not in text:
        return text, []
    tags: list[str] = []
    out: list[str] = []
    fence = ""
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence or opener:
            fence, _ = _scan_opaque(line, fence, False)
            out.append(line)
            continue
        if "#" not in line or _HEADING.match(line):
            out.append(line)
            continue
        kept = _lift_line_tags(line, tags)
        if kept.strip(" \t>-*+"):
            out.append(kept)  # a line (or list item) that held only tags is dropped
    return "\n".join(out), tags


def _lift_line_tags(line: str, tags: list[str]) -> str:
    spans = [m.span() for m in _CODE_SPAN.finditer(line)]
    pieces: list[str] = []
    last = 0
    for match in _TAG.finditer(line):
        start, end = match.span()
        if any(a <= start < b for a, b in spans):
            continue
        name = match.group(1).strip("/")
        if name.isdigit() or name.lower() in _MARKERS:
            continue  # "#1" is no tag in Obsidian
        tags.append(anki_tag(name))
        pieces.append(line[last:start])
        last = end
        if last < len(line) and line[last] == " ":
            last += 1  # "#UseCase pre-configured" → "pre-configured"
    if not pieces:
        return line
    pieces.append(line[last:])
    return "".join(pieces).rstrip()


def anki_tag(name: str) -> str:
    """Obsidian's nested tag "exam/tip" is Anki's hierarchical tag "exam::tip"."""
    return "::".join(part for part in name.strip().lstrip("#").split("/") if part)


def _frontmatter(
    rel: str, lines: list[str], diagnostics: list[Diagnostic]
) -> tuple[int, tuple[str, ...]]:
    """(index of the first line after the frontmatter, the note's tags)."""
    if not lines or lines[0].rstrip() != "---":
        return 0, ()
    for end in range(1, len(lines)):
        if lines[end].rstrip() in ("---", "..."):
            break
    else:
        return 0, ()
    try:
        data = yaml.load("\n".join(lines[1:end]), Loader=_YamlLoader)
    except yaml.YAMLError as error:
        line = 1 + getattr(getattr(error, "problem_mark", None), "line", 0) + 1
        problem = getattr(error, "problem", None) or "invalid YAML"
        diagnostics.append(Diagnostic(rel, line, "warning", f"frontmatter ignored: {problem}"))
        return end + 1, ()
    raw = data.get("tags", data.get("tag")) if isinstance(data, dict) else None
    if isinstance(raw, str):
        raw = re.split(r"[,\s]+", raw)
    if not isinstance(raw, list):
        return end + 1, ()
    tags = (anki_tag(str(tag)) for tag in raw if tag is not None and str(tag).strip())
    return end + 1, tuple(dict.fromkeys(tag for tag in tags if tag))
