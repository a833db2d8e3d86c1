"""The seed syntax: `#Question` / `Answer:` blocks and `#UseCase` sections (split.py reads them)."""

from __future__ import annotations

from dataclasses import replace

from ..records import CLOZE, CardSource, Diagnostic
from ..split import split_note
from . import NoteText, SyntaxSettings
from .cloze import anki_clozes_to_marks


class SeedReader:
    name = "seed"

    def read(
        self, note: NoteText, settings: SyntaxSettings
    ) -> tuple[list[CardSource], list[Diagnostic]]:
        parsed, diagnostics = split_note(note.rel, note.text, lambda: note.body_scan)
        note.references = parsed.references
        note.references_line = parsed.references_line
        note.tags = parsed.tags  # read already: no second pass over the frontmatter
        cards = [_with_cloze(card) for card in parsed.cards]
        return cards, diagnostics


def _with_cloze(card: CardSource) -> CardSource:
    """A question card whose question holds Anki clozes (`{{c1::…}}`) becomes a cloze note."""
    if card.kind != "question" or "{{c" not in card.question:
        return card
    text, count = anki_clozes_to_marks(card.question)
    if not count:
        return card
    return replace(card, question=text, note_type=CLOZE)


READER = SeedReader()
