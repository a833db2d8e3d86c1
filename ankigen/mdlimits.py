"""The renderer's limits: what a field is simplified to before mistune parses it.

Pure text work, below both the readers (which warn about each change at its line) and the
renderer (which applies the same limits to every field)."""

from __future__ import annotations

import re

from . import obsidian

# mistune's list parsing grows with the square of the nesting depth, the sanitiser's HTML parser
# with the square of the number of unclosed elements: past these limits a field is simplified
# (limit_markdown says how, with the line, so the reader can warn).
MAX_INDENT_COLUMNS = 100
MAX_HTML_DEPTH = 200
_VOID_ELEMENTS = frozenset(
    ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr")
)
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*+)")
_LONG_INDENT = re.compile(rf"^[^\S\n]{{{MAX_INDENT_COLUMNS // 4},}}+", re.MULTILINE)


def limit_markdown(text: str) -> tuple[str, list[tuple[int, str]]]:
    """The field within the renderer's limits, and (0-based line, what was changed) for each.

    Lines indented past MAX_INDENT_COLUMNS lose the excess; a field whose raw HTML nests past
    MAX_HTML_DEPTH elements shows its HTML as text.
    """
    problems: list[tuple[int, str]] = []
    if text.count("<") > MAX_HTML_DEPTH:  # fewer cannot nest that deep
        text, problem = _limit_html_depth(text)
        if problem:
            problems.append(problem)
    if _LONG_INDENT.search(text):
        lines = text.split("\n")
        first = -1
        fence = ""
        for index, line in enumerate(lines):
            if fence:  # code keeps its indentation: it nests nothing
                fence = "" if obsidian.fence_closes(line, fence) else fence
                continue
            indent = obsidian.indentation(line)
            if (
                len(indent) * 4 < MAX_INDENT_COLUMNS
                or obsidian.columns(indent) <= MAX_INDENT_COLUMNS
            ):
                fence = obsidian.fence_open(line) or ""
                continue
            lines[index] = " " * MAX_INDENT_COLUMNS + line[len(indent) :]
            first = index if first < 0 else first
        if first >= 0:
            message = f"indented more than {MAX_INDENT_COLUMNS} columns; indentation reduced"
            problems.append((first, message))
            text = "\n".join(lines)
    return text, problems


def _limit_html_depth(text: str) -> tuple[str, tuple[int, str] | None]:
    """Raw HTML outside code nested past MAX_HTML_DEPTH is shown as text (outside code)."""
    lines = text.split("\n")
    prose: list[int] = []  # lines outside fenced code
    depth = 0
    deepest = -1
    for index, line in obsidian.outside_fences(lines):
        if "<" not in line:
            continue
        prose.append(index)
        for m in _HTML_TAG.finditer(obsidian.mask_code_spans(line)):
            if m.group(2).lower() in _VOID_ELEMENTS:
                continue
            depth = max(depth - 1, 0) if m.group(1) else depth + 1
            if depth > MAX_HTML_DEPTH and deepest < 0:
                deepest = index
    if deepest < 0:
        return text, None
    for index in prose:
        lines[index] = lines[index].replace("<", "&lt;")
    return "\n".join(lines), (
        deepest,
        f"HTML nested more than {MAX_HTML_DEPTH} deep; shown as text",
    )
