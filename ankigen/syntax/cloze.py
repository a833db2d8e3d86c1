"""Clozes between the readers and Anki.

A reader marks each cloze in a card's Markdown with private-use characters (`mark`); the marks
pass through Markdown rendering untouched, and `marks_to_anki` turns them into Anki's
`{{c1::answer::hint}}` in the rendered HTML. Working on the HTML keeps Anki's rules in one
place: Anki ends a cloze at the first `}}` and splits the hint at `::`, even inside code or
math, so those are written as character references there (the browser and MathJax still see
`}}` and `::`).
"""

from __future__ import annotations

import re

OPEN = "\ue000"  # OPEN number NUMBER_END answer [HINT hint] CLOSE
NUMBER_END = "\ue001"
HINT = "\ue002"
CLOSE = "\ue003"
_MARKS = str.maketrans("", "", OPEN + NUMBER_END + HINT + CLOSE)
_MARKED = re.compile(
    f"{OPEN}(\\d+){NUMBER_END}([^{OPEN}{CLOSE}{HINT}]*)(?:{HINT}([^{OPEN}{CLOSE}]*))?{CLOSE}"
)
_ANKI_OPEN = re.compile(r"\{\{c(\d{1,4})::")


def unmarked(text: str) -> str:
    """User text without the mark characters (they must come from a reader only)."""
    return text.translate(_MARKS)


def mark(number: int, answer: str, hint: str = "") -> str:
    """A cloze in Markdown, for `marks_to_anki` to finish after rendering."""
    hint_part = f"{HINT}{unmarked(hint)}" if hint else ""
    return f"{OPEN}{number}{NUMBER_END}{unmarked(answer)}{hint_part}{CLOSE}"


def marks_to_anki(html: str) -> str:
    """Rendered HTML with marks → Anki's cloze syntax, `}}`, `{{` and `::` escaped inside."""
    return _MARKED.sub(_anki_cloze, html)


def _anki_cloze(match: re.Match[str]) -> str:
    answer = _escape(match.group(2))
    hint = match.group(3)
    hint_part = f"::{_escape(hint)}" if hint else ""
    return f"{{{{c{match.group(1)}::{answer}{hint_part}}}}}"


def _escape(html: str) -> str:
    html = html.replace("}}", "}&#125;").replace("{{", "{&#123;").replace("::", ":&#58;")
    # A "}" or ":" at the end would join the "}}" or "::" that follows the answer.
    if html.endswith("}"):
        html = html[:-1] + "&#125;"
    elif html.endswith(":"):
        html = html[:-1] + "&#58;"
    return html


def plain_text(text: str) -> str:
    """The text with each cloze replaced by its answer (for identity and messages)."""
    return _MARKED.sub(lambda m: m.group(2), text)


def anki_clozes_to_marks(markdown: str) -> tuple[str, int]:
    """Anki clozes written in Markdown (`{{c1::answer::hint}}`) → marks; (text, clozes found).

    A `}}` or `::` inside inline code or `$math$` belongs to the answer. An unclosed cloze is
    left as text."""
    markdown = unmarked(markdown)
    out: list[str] = []
    position = 0
    found = 0
    while True:
        match = _ANKI_OPEN.search(markdown, position)
        if match is None:
            break
        end, hint_at = _cloze_end(markdown, match.end())
        if end < 0:
            break
        start = match.end()
        answer = markdown[start : hint_at if hint_at >= 0 else end]
        hint = markdown[hint_at + 2 : end] if hint_at >= 0 else ""
        out.append(markdown[position : match.start()])
        out.append(mark(int(match.group(1)), answer, hint))
        found += 1
        position = end + 2
    out.append(markdown[position:])
    return "".join(out), found


def _cloze_end(text: str, start: int) -> tuple[int, int]:
    """(index of the closing `}}`, index of the hint's `::` or -1), skipping code and math;
    (-1, -1) when the cloze does not close."""
    i = start
    hint = -1
    n = len(text)
    while i < n:
        char = text[i]
        if char == "`":
            run = i
            while run < n and text[run] == "`":
                run += 1
            ticks = text[i:run]
            close = text.find(ticks, run)
            i = close + len(ticks) if close >= 0 else run
            continue
        if char == "$":
            close = text.find("$", i + 1)
            i = close + 1 if close > i + 1 else i + 1
            continue
        if char == "\\":
            i += 2
            continue
        if text.startswith("}}", i):
            return i, hint
        if hint < 0 and text.startswith("::", i):
            hint = i
            i += 2
            continue
        i += 1
    return -1, -1
