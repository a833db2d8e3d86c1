"""Deleted cards: remembered for REMEMBER_DELETED_DAYS so the user can be told how to find them
in Anki (todo.py), and told apart from cards only not built this time (their question is still
in the note: filtered by --syntax, unreadable settings, a note type not resolved…).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .keys import normalise_question

# How long a deleted card is remembered (and listed in the search for deleted cards).
REMEMBER_DELETED_DAYS = 365


@dataclass(frozen=True)
class DeletedCard:
    """A card whose question was deleted from the notes, remembered for REMEMBER_DELETED_DAYS."""

    guid: str
    note: str  # the note it was in
    line: int  # its line there at the last build that had it (0: not known)
    question: str  # normalised
    deck: str  # where Anki keeps it
    mod: int  # its last modification time
    deleted: int  # when a build first found it gone
    text: str = ""  # the question as written ("" unknown)

    def where(self) -> str:
        return f"{self.note}:{self.line}" if self.line else self.note

    def shown(self) -> str:
        """ "path:line question" for messages, the question as it was written when known."""
        return f"{self.where()} {self.text or self.question}"


class KnownCard(Protocol):
    """What the lock remembers of a card that deletions need (lockfile.LockEntry)."""

    @property
    def guid(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def deck(self) -> str: ...
    @property
    def mod(self) -> int: ...
    @property
    def text(self) -> str: ...


Card = TypeVar("Card", bound=KnownCard)


def deleted_card(entry: KnownCard, note: str, deck: str, now: int) -> DeletedCard:
    """The record of a lock entry whose card is gone (found gone at `now`)."""
    return DeletedCard(
        entry.guid, note, entry.line, entry.question, entry.deck or deck, entry.mod, now, entry.text
    )


def remembered(deleted: Iterable[DeletedCard], live: set[str], now: int) -> tuple[DeletedCard, ...]:
    """The deleted cards still remembered: not a card again (a question written back: its GUID
    is `live`), not older than the time limit, each GUID once (the first time it was found gone
    counts); sorted by note, line and GUID."""
    oldest = now - REMEMBER_DELETED_DAYS * 86_400
    kept: dict[str, DeletedCard] = {}
    for card in deleted:
        if card.guid not in live and card.deleted >= oldest:
            kept.setdefault(card.guid, card)
    return tuple(sorted(kept.values(), key=lambda c: (c.note, c.line, c.guid)))


def not_built(
    rel: str,
    old: Sequence[Card],
    matched: set[int],
    owner: Mapping[str, str],
    still_written: Callable[[str, Card], bool] | None,
) -> list[int]:
    """The old entries no card matched whose question the note's text still holds (and whose
    GUID no other note's card wears). `still_written` None: the caller read every card."""
    if still_written is None:
        return []
    return [
        j
        for j, entry in enumerate(old)
        if j not in matched and owner.get(entry.guid, rel) == rel and still_written(rel, entry)
    ]


_CLOZE_OPEN = re.compile(r"\{+(?:c?\d+(?:::|[:|]))?")  # {{c1:: {2: {c2| {
_CLOZE_HINT = re.compile(r"::[^:{}\n]*+\}\}")  # ::hint}}
_PREFIXES = ("cloze: ", "use case: ")  # of question keys (render_stage.question_key), normalised
_WORDS = re.compile(r"\w+")


def text_words(text: str) -> str:
    """A note's text (or a normalised question) as its words only, the way questions are
    compared with notes: clozes read as their answers, no markup, case folded."""
    text = _CLOZE_OPEN.sub(" ", _CLOZE_HINT.sub(" ", text))
    return " ".join(_WORDS.findall(normalise_question(text)))


def written_in(question: str, words_of_text: str) -> bool:
    """Whether a card's normalised question stands in a note (given as text_words()): its words,
    in order and whole. A question without words cannot be told gone: it counts as written."""
    for prefix in _PREFIXES:
        if question.startswith(prefix) or question == prefix.rstrip(": "):  # a bare use case
            question = question[len(prefix) :]
            break
    words = text_words(question)
    return not words or f" {words} " in f" {words_of_text} "
