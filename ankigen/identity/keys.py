"""What a card is known by: its normalised question, its GUID, and the hashes of its content.

A card's GUID comes from its note's vault path and its normalised question, so it survives
re-builds on any machine; the content hash decides when its modification time moves forward.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from ..records import CardDraft

# No "[" inside: each try stops at the next bracket, so a line of "[[[[" is linear, not quadratic.
_LINK = re.compile(r"!?\[([^\[\]]*+)\]\([^)\[]*+\)")  # [text](url) → text
_WIKILINK = re.compile(r"!?\[\[(?:[^\[\]|]*+\|)?([^\[\]]*+)\]\]")  # [[target|alias]] → alias
_MARKUP = re.compile(r"[*_`~=]+")  # emphasis, code, strike-through, highlight
_QUOTES = (("‘", "'"), ("’", "'"), ("“", '"'), ("”", '"'))  # curly quotes as straight ones
_TRAILING_CHARS = " ?.!:;,"  # after the spaces are collapsed


def normalise_question(markdown: str) -> str:
    """The question as compared: link text only, no emphasis marks, spaces collapsed, case
    folded, no trailing punctuation. "What is **AMI**? " and "what is AMI" are the same."""
    text = unicodedata.normalize("NFKC", markdown)
    for curly, straight in _QUOTES:  # str.replace: far cheaper than str.translate
        text = text.replace(curly, straight)
    if "[" in text:  # both link patterns start with one
        text = _WIKILINK.sub(r"\1", text)
        text = _LINK.sub(r"\1", text)
    text = _MARKUP.sub("", text)
    text = " ".join(text.split()).casefold()  # split(): at the characters `\s` matches
    return text.rstrip(_TRAILING_CHARS)  # a regex "[…]+$" is quadratic on a long run of "?"


def genanki_guid(*values: object) -> str:
    """genanki's GUID of the values (10 printable ASCII characters)."""
    # Imported on first use: genanki takes ~60 ms to import, which a rebuild with no card to
    # identify does not need.
    from genanki.util import guid_for as genanki_guid_for

    return genanki_guid_for(*values)


def guid_for(note_rel: str, question_key: str) -> str:
    """The card's natural GUID: its note's vault path and normalised question, not the answer."""
    return genanki_guid("ankigen", note_rel, normalise_question(question_key))


def short_hash(*parts: str) -> str:
    """16 hex digits of the SHA-256 of the parts (joined by a unit separator)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def content_hash(draft: CardDraft, tags: tuple[str, ...]) -> str:
    """The hash that moves a card's mod forward when it changes."""
    # The rule for when a card's mod moves forward (README, "When a re-import replaces a card"):
    # every field and tag Anki receives, and the note's path (a moved or renamed note must not
    # leave a Source link to a gone file). Not the Source field's line: lines added above a
    # card are no change to the card.
    later = [f"{field.name}\x1f{field.html}" for field in draft.named[2:]]
    if later:  # a user's own note type's later fields reach Anki too (none: the hash as before)
        return short_hash(*draft.fields[:-1], "\x1e", *tags, "\x1e", draft.note_rel, *later)
    return short_hash(*draft.fields[:-1], "\x1e", *tags, "\x1e", draft.note_rel)


def answer_hash(markdown: str) -> str:
    """The hash of an answer's Markdown, spaces collapsed: a reworded card is recognised by it."""
    # str.split() splits at exactly the characters `\s` matches in a str pattern (both are
    # str.isspace), and costs a third of _SPACE.sub on a long answer.
    return short_hash(" ".join(markdown.split()))


def first_line(markdown: str) -> str:
    """The question's first line as written (at most 200 characters), for messages."""
    lines = markdown.strip().splitlines()
    return lines[0][:200] if lines else ""
