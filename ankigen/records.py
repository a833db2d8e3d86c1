"""Plain data passed between the pipeline's stages.

find notes (discover) → split into cards (split) → render Markdown (render)
→ resolve media (media) → identity and lock (lock) → write packages (package)

Every stage takes and returns these frozen dataclasses; none of them does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# ---------------------------------------------------------------- discovery


@dataclass(frozen=True)
class NoteFile:
    """A Markdown note inside the vault."""

    rel: str  # path relative to the vault, POSIX separators: "AWS/Compute/AMI.md"
    path: Path  # absolute path on disk


@dataclass(frozen=True)
class Folder:
    """A vault folder that directly holds notes; one package is written per such folder."""

    rel: str  # "" for the vault root, else "AWS/Compute"
    deck: str  # "AWS::Compute"
    package: str  # flat, safe file name: "AWS-Compute.apkg"
    notes: tuple[NoteFile, ...]


@dataclass(frozen=True)
class Vault:
    """What discovery found: the notes by folder and every other file, for picture lookup."""

    root: Path
    name: str  # the vault folder's name; also Obsidian's vault name
    folders: tuple[Folder, ...]
    # Every non-note file (attachments), vault-relative POSIX paths, sorted.
    attachments: tuple[str, ...] = ()
    # Obsidian's attachment folder from .obsidian/app.json ("" when unset or "/").
    attachment_folder: str = ""


# ---------------------------------------------------------------- split


CardKind = Literal["question", "usecase"]

# The Anki note type a card becomes: "question" (ours, for question and use-case cards),
# "reversed" (two cards: front→back and back→front), "cloze", or "custom:<Name>" for a
# user's own note type (Obsidian_to_Anki) whose named fields are in CardSource.fields.
QUESTION, REVERSED, CLOZE = "question", "reversed", "cloze"


@dataclass(frozen=True)
class ReviewState:
    """Review progress carried over from another tool, for one card of a note.

    `due` is a calendar date ("2024-08-16"); the package turns it into Anki's day number.
    """

    due: str  # ISO date
    interval: int  # days
    ease: int  # Anki's ease factor in permille: 2500 = 250%
    stability: float | None = None  # FSRS memory state, when the tool kept one
    difficulty: float | None = None
    line: int = 0  # 1-based line of the comment that held it, for messages


@dataclass(frozen=True, slots=True)  # one per card: no __dict__
class SeeLink:
    title: str
    url: str


@dataclass(frozen=True, slots=True)  # one per card: no __dict__
class CardSource:
    """One card (one Anki note) as written in a note: Markdown still, tags already lifted out.

    For a cloze, `question` is the text with its clozes as `{{c1::answer::hint}}`."""

    kind: CardKind
    line: int  # 1-based line of the #Question / #UseCase marker
    question: str  # Markdown (for a use case: the title)
    answer: str  # Markdown
    answer_line: int  # 1-based line where the answer's text starts
    see: tuple[SeeLink, ...] = ()
    tags: tuple[str, ...] = ()  # Anki tags: "UseCase", "exam::tip"
    context: tuple[str, ...] = ()  # headings above the card, outermost first
    note_type: str = QUESTION  # see QUESTION, REVERSED, CLOZE above
    deck: str = ""  # a deck the syntax chose, full Anki name; "" = the folder's deck
    schedule: tuple[ReviewState | None, ...] = ()  # per sibling card (ord); None = new
    fields: tuple[tuple[str, str], ...] = ()  # custom note types: (name, Markdown) pairs
    syntax: str = "seed"  # the reader that found it
    end_line: int = 0  # 1-based last line of the card in the note (0: same as line)
    anki_id: int = 0  # the Anki note id a plugin wrote beside the card (<!--ID: n-->), 0 = none
    question_line: int = 0  # 1-based line where the question's text starts (0: same as line)
    field_lines: tuple[int, ...] = ()  # 1-based first line of each of `fields` (0: unknown)


@dataclass(frozen=True)
class ParsedNote:
    """A note split into cards."""

    rel: str
    title: str  # file name without ".md"
    cards: tuple[CardSource, ...]
    tags: tuple[str, ...] = ()  # frontmatter tags, Anki form, for every card of the note
    references: str = ""  # Markdown of the note's references section ("" when none)
    references_line: int = 0


# ---------------------------------------------------------------- render / media


@dataclass(frozen=True, slots=True)  # two or more per card: no __dict__
class CardField:
    """One field of a card: its name, its HTML, and the Markdown it was rendered from.

    The render stage makes them, the media stage rewrites their pictures and sounds, and the
    card keeps them by name to the package (a plugin's note type fills its fields by name)."""

    name: str  # "Question", "Answer", or the name in the card's own note type ("Front", …)
    html: str
    markdown: str  # the Markdown it came from (to find the exact line of each picture)
    line: int  # 1-based line in the note where the field's Markdown starts


@dataclass(frozen=True, slots=True)  # one per card: no __dict__
class RenderedCard:
    """A card with its fields rendered: front, back, then its note type's later fields."""

    source: CardSource
    fields: tuple[CardField, ...]  # fields[0] the front, fields[1] the back, then the rest

    @property
    def own_fields(self) -> tuple[CardField, ...]:
        """The fields of the card's own note type (CardSource.fields), by name; () for ours."""
        return self.fields[: len(self.source.fields)]


@dataclass(frozen=True)
class RenderedNote:
    """A note's cards rendered, and its references rendered once for all of them."""

    note: ParsedNote
    cards: tuple[RenderedCard, ...]
    references: CardField | None  # None when the note has no references (or no card)
    stamp: tuple[int, int, str]

    def all_fields(self) -> Iterator[CardField]:
        """Every field of the note's cards, then its references."""
        for card in self.cards:
            yield from card.fields
        if self.references is not None:
            yield self.references


@dataclass(frozen=True)
class MediaFile:
    """A file that goes into a package's media, named by its content hash."""

    name: str  # ASCII, e.g. "ankigen-3f2a9c0e1b7d4a55.png"
    data: bytes


# ---------------------------------------------------------------- fields / identity


@dataclass(frozen=True, slots=True)  # one per card: no __dict__
class CardDraft:
    """A card with its final HTML fields, before it has an identity."""

    note_rel: str  # "AWS/AMI.md"
    line: int
    question_key: str  # the question's Markdown, tags removed; normalised by identity.keys
    answer_key: str  # the answer's Markdown, to recognise a reworded card
    fields: tuple[str, ...]  # our six; the last one, Source, gets the card's id from identity
    tags: tuple[str, ...]
    deck: str = ""  # the deck a syntax chose (CardSource.deck); "" = the folder's deck
    source: str = ""  # fields.source_hash: the card's text as written, for adopted cards
    card: CardSource | None = None  # the card as read from its note
    named: tuple[CardField, ...] = ()  # its own note type's fields, final (RenderedCard.own_fields)

    @property
    def note_type(self) -> str:
        return self.card.note_type if self.card is not None else QUESTION

    @property
    def schedule(self) -> tuple[ReviewState | None, ...]:
        return self.card.schedule if self.card is not None else ()


# ---------------------------------------------------------------- package


@dataclass(frozen=True)
class ForeignNoteType:
    """A note type that is not one of ours: a user's own, named in their notes
    (Obsidian_to_Anki), or one kept from their collection by `ankigen adopt`."""

    id: int
    name: str
    fields: tuple[str, ...]
    templates: tuple[str, ...] = ("Card",)  # template names
    cloze: bool = False
    # Adopted: the collection's mod, never newer, so Anki keeps its own note type. None: ours.
    mod: int | None = None


@dataclass(frozen=True, slots=True)  # one per card: no __dict__
class AnkiNote:
    """A note ready for Anki: HTML fields in the model's order."""

    guid: str
    fields: tuple[str, ...]  # Question, Answer, Context, See, References, Source
    tags: tuple[str, ...]
    mod: int  # modification time, seconds since the epoch
    source: str = ""  # "rel/path.md:LINE", for messages only
    note_type: str = QUESTION
    deck: str = ""  # "" = the package's deck
    schedule: tuple[ReviewState | None, ...] = ()  # per card (template ord / cloze number order)
    foreign: ForeignNoteType | None = (
        None  # the note type when not one of ours (fields in its order)
    )
    note_rel: str = ""  # the note the card is written in, "AWS/AMI.md"
    line: int = 0  # its line there
    named: tuple[CardField, ...] = ()  # the fields of the card's own note type (CardDraft.named)


@dataclass(frozen=True)
class DeckPackage:
    """Everything one .apkg holds: one deck, its notes in card order, its media."""

    deck: str
    filename: str
    notes: tuple[AnkiNote, ...]
    media: tuple[MediaFile, ...] = ()


# ---------------------------------------------------------------- diagnostics


# A note says what ankigen did about a problem it worked around; it is not a warning.
Severity = Literal["error", "warning", "note"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One message about the input, always naming the file and line."""

    path: str  # vault-relative ("AWS/AMI.md"); "" for messages about the build itself
    line: int
    severity: Severity = field(compare=False)
    message: str = ""
    detail: str = field(default="", compare=False)  # a traceback, shown with --verbose only

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.path else "ankigen"
        return f"{where}: {self.severity}: {self.message}"
