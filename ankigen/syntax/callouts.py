"""Callout cards: a syntax of ankigen's own, off until the user names the callouts to read.

With ``--callout-cards question,faq`` every callout of those names is one card, its title the
front and its body the back; with ``--callout-cards-reversed`` its names make two cards
(front→back and back→front)::

    > [!question]- What does a mitochondrion make?
    > ATP, the cell's fuel.

Names are case-insensitive, as Obsidian reads them; the fold mark (``-`` or ``+``) may be there
or not. A callout ends at the first line that does not start with ``>``. Callouts in fenced
code or ``%%`` comments are text. The same callout reading serves the Flashcards plugin's
``> [!CARD]`` cards (flashcards.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..records import QUESTION, REVERSED, CardSource, Diagnostic
from . import CheckedValues, NoteText

NAME = "callouts"
LABEL = "Callout"
PRIORITY = 1  # explicit containers: "a::b" inside one is its text
IMPLICIT = False
PLUGIN_ID = None  # ankigen's own options (--callout-cards, --callout-cards-reversed)


@dataclass(frozen=True)
class Settings:
    """The callout names read as cards, lower case."""

    basic: frozenset[str] = frozenset()
    both: frozenset[str] = frozenset()  # reversed too: two cards each

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, problems: list[str]) -> Settings:
        values = CheckedValues(data or {}, problems)
        return cls(
            frozenset(n.lower() for n in values.texts("callout_cards")),
            frozenset(n.lower() for n in values.texts("callout_cards_reversed")),
        )


# "> [!name]" with its fold mark and title; a metadata part "[!name|meta]" is allowed.
_CALLOUT = re.compile(r"[ \t]{0,3}+>[ \t]*+\[!([^\]|\n]++)(?:\|[^\]\n]*+)?+\]([-+]?+)(.*+)")
_QUOTE = re.compile(r"[ \t]{0,3}+>[ \t]?+")


@dataclass(frozen=True)
class Callout:
    """One top-level callout of a note."""

    line: int  # its first line (1-based)
    end_line: int  # its last line
    name: str  # lower case
    title: str
    body: str  # Markdown, one ">" level removed
    body_line: int  # first line of the body with text (0: none)


def callouts(note: NoteText, wanted: frozenset[str]) -> list[Callout]:
    """The note's callouts whose (lower-case) name is in `wanted`, in order; linear time."""
    rows = note.body_scan.lines
    found: list[Callout] = []
    index = 0
    while index < len(rows):
        row = rows[index]
        index += 1
        if row.code or row.hidden or "[!" not in row.visible:
            continue
        match = _CALLOUT.match(row.visible)
        if match is None or match.group(1).strip().lower() not in wanted:
            continue
        body: list[str] = []
        body_line = 0
        end = row.number
        while index < len(rows):
            below = rows[index]
            quote = _QUOTE.match(below.visible) if not below.code else None
            if quote is None and not (below.code and below.text.lstrip().startswith(">")):
                break
            text = below.text[quote.end() :] if quote else _unquote(below.text)
            if not body_line and text.strip():
                body_line = below.number
            body.append(text)
            end = below.number
            index += 1
        found.append(
            Callout(
                line=row.number,
                end_line=end,
                name=match.group(1).strip().lower(),
                title=match.group(3).strip(),
                body="\n".join(body).strip("\n"),
                body_line=body_line,
            )
        )
    return found


def _unquote(text: str) -> str:
    """A fenced-code line inside a callout, one ">" level removed."""
    match = _QUOTE.match(text)
    return text[match.end() :] if match else text


def read(note: NoteText, settings: Settings) -> tuple[list[CardSource], list[Diagnostic]]:
    """A card of every callout of the names the settings give."""
    wanted = settings.basic | settings.both
    if not wanted or "[!" not in note.text:
        return [], []
    found = callouts(note, wanted)
    if not found:
        return [], []
    cards: list[CardSource] = []
    diagnostics: list[Diagnostic] = []
    for callout in found:
        gaps = [
            *(["front (its title)"] if not callout.title else []),
            *(["back (its body)"] if not callout.body.strip() else []),
        ]
        if gaps:
            missing = " and ".join(gaps)
            message = f"[!{callout.name}] callout without a {missing}; no card made"
            diagnostics.append(Diagnostic(note.rel, callout.line, "warning", message))
            continue
        note_type = REVERSED if callout.name in settings.both else QUESTION
        cards.append(
            CardSource(
                kind="question",
                line=callout.line,
                question=callout.title,
                answer=callout.body,
                answer_line=callout.body_line or callout.line,
                context=note.context_at(callout.line),
                note_type=note_type,
                syntax=NAME,
                end_line=callout.end_line,
            )
        )
    return cards, diagnostics
