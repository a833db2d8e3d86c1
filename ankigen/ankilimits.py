"""What Anki accepts at import, checked once per card before packaging.

Anki refuses a whole package for one deck nested too deep or one blank field name, and quietly
makes fewer or other cards than a package holds for clozes it does not read as clozes. So every
note is checked here against those rules before it is written; a note that breaks one is left
out with a `file:line` warning that says why, and the rest of its folder is written as usual.

The limits were found by importing packages into a real collection with the `anki` package
(tests/test_ankilimits.py imports a package at each limit and one past it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from .records import CLOZE, AnkiNote, Diagnostic

# Anki refuses the whole package ("deck nesting level too deep") when one deck name has more
# than this many "::"-separated parts; empty parts count (Anki names them "blank").
MAX_DECK_DEPTH = 11
DEFAULT_DECK_NAME = "Default"
_SURROGATES = re.compile(r"[\ud800-\udfff]")  # undecodable bytes of a file name
# Anki reads a cloze number as a 16-bit number (c65536 and above are text, not clozes; c0 is a
# cloze that makes no card), but makes cards for c1 to c500 only: its own card generation gives
# every higher number the card of c500, so a note with c501 would get duplicate cards the first
# time it is edited in Anki.
MAX_CLOZE_NUMBER = 500
_CLOZE_NUMBER_BITS = 65535
# Characters Anki removes from a field name at import (the templates then name a field that is
# no longer there), and those a name may not start with (Mustache's section and delimiter tags).
_FIELD_NAME_REMOVED = frozenset(':{}"')
_FIELD_NAME_BAD_START = ("#", "/", "^", "=")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's control characters (Cc)
_CLOZE_TOKEN = re.compile(r"\{\{c([0-9]+)::|\}\}")
# C0 controls but tab, newline and carriage return, and DEL. U+001F is Anki's field separator:
# one inside a field makes Anki reject the whole package; the others break its deck names.
# The packager removes them from every field, tag and deck name (package.py).
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Checked:
    """The notes Anki imports in full, and a warning for each note left out."""

    notes: tuple[AnkiNote, ...]
    left_out: tuple[AnkiNote, ...]
    diagnostics: tuple[Diagnostic, ...]


def importable(notes: Iterable[AnkiNote], package_deck: str) -> Checked:
    """Split `notes` into those Anki imports as built and those it would refuse or change."""
    kept: list[AnkiNote] = []
    left_out: list[AnkiNote] = []
    diagnostics: list[Diagnostic] = []
    deck_problems: dict[str, str] = {}  # deck name → problem ("" for none), checked once
    for note in notes:
        deck = note.deck or package_deck
        if deck not in deck_problems:
            deck_problems[deck] = deck_problem(deck)
        problem = deck_problems[deck] or note_problem(note)
        if problem:
            message = f"{problem}; card left out (Anki would not import it as written)"
            diagnostics.append(Diagnostic(note.note_rel, note.line, "warning", message))
            left_out.append(note)
        else:
            kept.append(note)
    return Checked(tuple(kept), tuple(left_out), tuple(diagnostics))


def anki_deck_name(name: str) -> str:
    """A deck name as Anki keeps it: each `::` part NFC, without control characters and
    trimmed, empty parts dropped; "" (nothing left) is Anki's Default deck."""
    parts = (
        unicodedata.normalize("NFC", without_controls(part)).strip() for part in name.split("::")
    )
    return "::".join(part for part in parts if part) or DEFAULT_DECK_NAME


def without_controls(text: str) -> str:
    """The text without the control characters Anki refuses (undecodable bytes shown)."""
    return _SURROGATES.sub("\ufffd", CONTROLS.sub("", text))


def deck_problem(deck: str) -> str:
    """Why Anki would refuse a package holding this deck ("" when it would not)."""
    depth = anki_deck_name(deck).count("::") + 1  # as the packager writes it
    if depth > MAX_DECK_DEPTH:
        shown = deck if len(deck) <= 120 else deck[:117] + "…"
        return (
            f"deck '{shown}' is {depth} levels deep; Anki refuses a package with a deck more "
            f"than {MAX_DECK_DEPTH} levels deep"
        )
    return ""


def note_problem(note: AnkiNote) -> str:
    """Why Anki would refuse this note or make other cards of it ("" when it would not)."""
    if note.foreign is not None:
        problem = field_names_problem(note.foreign.fields)
        if problem:
            return problem
        if note.foreign.cloze:
            return cloze_problem(note.fields)
        return ""
    if note.note_type == CLOZE:
        return cloze_problem(note.fields[:1])
    return ""


def field_names_problem(names: Iterable[str]) -> str:
    """Why Anki would refuse or rename one of a note type's field names ("" when it would not).

    Anki trims a name, removes `:{}"` from it, refuses a blank one and renames the second of two
    names that differ only in case; the templates then name fields that are not there."""
    seen: set[str] = set()
    for name in names:
        if not name.strip():
            return "a field name is blank (in the plugin's fields_dict?)"
        if name != name.strip() or any(char in _FIELD_NAME_REMOVED for char in name):
            return f"field name '{_shown(name)}' has spaces around it or one of : {{ }} \""
        if name.startswith(_FIELD_NAME_BAD_START):
            return f"field name '{_shown(name)}' starts with #, /, ^ or ="
        if name == "FrontSide":  # a template's {{FrontSide}} is the card's front, not the field
            return "field name 'FrontSide' is Anki's name for a card's front"
        if _CONTROL.search(name):
            return f"field name '{_shown(name)}' holds a control character"
        key = name.casefold()
        if key in seen:
            return f"two fields are named '{_shown(name)}' (Anki ignores case in field names)"
        seen.add(key)
    return ""


def cloze_problem(fields: Iterable[str]) -> str:
    """Why a cloze note's fields would not give Anki the cards written ("" when they would)."""
    numbers, too_big = _clozes(fields)
    if too_big:
        return (
            f"cloze number c{_shown(too_big)}: Anki makes cards for c1 to c{MAX_CLOZE_NUMBER} only"
        )
    if 0 in numbers:
        return "cloze number c0: Anki numbers clozes from c1 and makes no card for c0"
    if not numbers:
        return "a cloze note without a cloze ({{c1::…}}) that Anki reads"
    return ""


def cloze_numbers(fields: Iterable[str]) -> set[int]:
    """The cloze numbers Anki reads in the fields: each `{{cN::` closed by its `}}`, nested
    ones too; a number too big for 16 bits is text to Anki."""
    return _clozes(fields)[0]


def _clozes(fields: Iterable[str]) -> tuple[set[int], str]:
    """(cloze_numbers, the first number written that is too big for Anki or "")."""
    numbers: set[int] = set()
    too_big = ""
    for text in fields:
        if "{{c" not in text and "{" not in CONTROLS.sub("", text):
            continue
        text = CONTROLS.sub("", text)  # as written into the package
        # Clozes open, innermost last: their numbers and where they start (two lists of ints,
        # not tuples, which the garbage collector would walk again and again).
        open_numbers: list[int] = []
        open_at: list[int] = []
        closed: list[int] = []  # numbers of the clozes closed, and where each opened
        closed_at: list[int] = []
        for match in _CLOZE_TOKEN.finditer(text):
            digits = match.group(1)
            if digits is None:  # "}}"
                if open_numbers:
                    closed.append(open_numbers.pop())
                    closed_at.append(open_at.pop())
                continue
            number = int(digits) if len(digits.lstrip("0")) <= 5 else _CLOZE_NUMBER_BITS + 1
            if number > MAX_CLOZE_NUMBER:
                too_big = too_big or digits.lstrip("0")
            if number <= _CLOZE_NUMBER_BITS:
                open_numbers.append(number)
                open_at.append(match.start())
        # A cloze never closed is text to Anki, with every cloze inside it: those that opened
        # after the first one left open.
        cutoff = open_at[0] if open_at else len(text)
        numbers.update(n for n, where in zip(closed, closed_at, strict=True) if where < cutoff)
    return numbers, too_big


def card_ords(fields: Iterable[str]) -> list[int]:
    """The template ordinals of a checked cloze note's cards: one per cloze number."""
    return sorted(number - 1 for number in cloze_numbers(fields) if number > 0)


def _shown(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "…"
