"""The Spaced Repetition plugin's syntax (st3v3nmw/obsidian-spaced-repetition)."""

from __future__ import annotations

from ..model import CardSource, Diagnostic
from . import NoteText, SyntaxSettings

PLUGIN_ID = "obsidian-spaced-repetition"


class SpacedRepetitionReader:
    name = "spaced-repetition"

    def read(
        self, note: NoteText, settings: SyntaxSettings
    ) -> tuple[list[CardSource], list[Diagnostic]]:
        return [], []


READER = SpacedRepetitionReader()
