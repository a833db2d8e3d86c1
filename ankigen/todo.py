"""What the user does in Anki after an import: remove deleted cards, move cards of moved notes.

Anki's importer adds and updates notes, but never deletes one and never moves an existing card
to another deck. So ankigen writes the Anki Browser searches that find those cards, in the
summary and in OUT/ankigen-todo.txt. A deleted card is found by the id in its Source field
(cardid.card_id); a card Anki keeps in its old deck carries the tag `ankigen::moved::<deck>`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import atomic
from .cardid import with_card_id
from .diagnostics import printable
from .discover import package_name
from .identity.deletions import REMEMBER_DELETED_DAYS, DeletedCard

TODO_FILE = "ankigen-todo.txt"  # in the output folder, next to the packages
MOVED_TAG = "ankigen::moved"


def moved_tag(package: str) -> str:
    """The tag of cards that belong in the package's deck but were first built for another:
    "ankigen::moved::AWS-Compute" (the package's flat name: one tag per deck, no sub-tags)."""
    return f"{MOVED_TAG}::{package.removesuffix('.apkg')}"


def deck_moved_tag(deck: str) -> str:
    """The tag of cards that belong in a deck a syntax chose (a TARGET DECK, a flashcard tag)
    but were first built for another: the deck's flat name and a digest of its full name, as
    two decks can have the same flat name: "ankigen::moved::flashcards-lang-words-1a2b3c"."""
    flat = package_name(deck.split("::")).removesuffix(".apkg")
    digest = hashlib.sha1(deck.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{MOVED_TAG}::{flat}-{digest}"


@dataclass(frozen=True)
class MovedCards:
    """Cards that Anki keeps in another deck than the one their note is in now."""

    deck: str  # where they belong: "AWS::Compute"
    tag: str  # their moved_tag
    cards: int

    def search(self) -> str:
        """Those of the cards that are not in the deck itself (a sub-deck is another deck)."""
        deck = quote(self.deck)
        return f'"tag:{quote(self.tag)}" (-"deck:{deck}" OR "deck:{deck}::*")'


@dataclass(frozen=True)
class AnkiTodo:
    deleted: tuple[DeletedCard, ...] = ()  # every deleted card the lock remembers
    moved: tuple[MovedCards, ...] = ()
    # Anki note ids of adopted notes (ankigen adopt), by GUID: found by id, having no Source.
    note_ids: Mapping[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.deleted or self.moved)

    def deleted_search(self) -> str:
        """One Anki Browser search that finds every remembered deleted card and no other."""
        return deleted_search((card.guid for card in self.deleted), self.note_ids)

    def text(self) -> str:
        """The todo file's text (no clock: the same lock gives the same text)."""
        lines = ["ankigen: what to do in Anki after importing the packages of this folder", ""]
        if self.deleted:
            lines += [
                f"Cards whose question was deleted from the notes ({len(self.deleted)}). Anki's",
                "importer never deletes a card. In Anki: Browse, paste this search, select all",
                "cards (Ctrl+A), Notes > Delete:",
                "",
                f"    {self.deleted_search()}",
                "",
                f"Each deleted card is remembered for {REMEMBER_DELETED_DAYS} days after the build "
                "that found it gone:",
            ]
            lines += [
                printable(
                    f"    {card.shown()}  (deleted {_date(card.deleted)}, in deck {card.deck})"
                )
                for card in self.deleted
            ]
            lines.append("")
        if self.moved:
            lines += [
                "Cards whose note moved to another folder, or whose deck the note changed",
                "(TARGET DECK, a flashcard tag, cards-deck). Anki's importer never moves a card",
                "to another deck. In Anki: Browse, paste the search, select all cards,",
                "Cards > Change Deck, choose the deck:",
                "",
            ]
            for moved in self.moved:
                lines += [
                    printable(f"    {moved.search()}"),
                    printable(f"        → deck {moved.deck}"),
                ]
            lines.append("")
        return "\n".join(lines)


def deleted_search(guids: Iterable[str], note_ids: Mapping[str, int] | None = None) -> str:
    """The cards of these GUIDs and no other: an adopted card by its note id, any other by
    the start of its Source field, which only ankigen writes (cardid.with_card_id). The id
    alone would also find a card whose note's path holds it (a note named "ankigen-…")."""
    note_ids = note_ids or {}
    return " OR ".join(
        f"nid:{note_ids[guid]}" if guid in note_ids else source_search(guid)
        for guid in sorted(guids)
    )


def source_search(guid: str) -> str:
    """The Anki search for the card whose Source field starts with this GUID's card id."""
    return f'"Source:{quote(with_card_id("", guid).removesuffix("</span>"))}*"'


def quote(text: str) -> str:
    """`text` for use inside a quoted Anki search term: wildcards and quotes escaped."""
    for char in '\\"*_':
        text = text.replace(char, "\\" + char)
    return text


def write_todo(out_dir: Path, todo: AnkiTodo) -> Path | None:
    """Write OUT/ankigen-todo.txt (atomically) when there is something to do, else remove it."""
    path = out_dir / TODO_FILE
    if not todo:
        path.unlink(missing_ok=True)
        return None
    text = todo.text()
    try:
        if atomic.read_regular(path).decode("utf-8") == text:
            return path
    except (OSError, ValueError):
        pass
    atomic.write_text(path, text)
    return path


def _date(seconds: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(seconds))
