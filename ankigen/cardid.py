"""The id a card carries in its Source field, which an Anki Browser search finds it by.

Below fields.py (which writes the Source field), identity/identify.py (which marks it once the
GUID is known) and todo.py (which searches for it), so none of them imports another for it."""

from __future__ import annotations

import hashlib


def card_id(guid: str) -> str:
    """The card's id as written in its Source field: "ankigen-" and 16 hex digits.

    Anki has no search for GUIDs and may give an imported note another id, so this id is what
    an Anki Browser search finds a card by (see todo.py); it is made of letters, digits and "-"
    only, which Anki's search reads literally."""
    return "ankigen-" + hashlib.sha256(guid.encode()).hexdigest()[:16]


def with_card_id(source: str, guid: str) -> str:
    """The Source field marked with the card's id (a tooltip on the source line)."""
    return f'<span title="{card_id(guid)}">{source}</span>'
