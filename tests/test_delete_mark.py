"""Obsidian_to_Anki's DELETE mark, read as the plugin reads it (issue 15, point 2).

The plugin deletes a note only where its deletion pattern matches: the `DELETE` line, then
directly the ID (`DELETE<!--ID: n-->`, or `DELETE` alone on its line and the ID line right below
it). The word DELETE anywhere else (a card's answer, a line above a Tags line, a line with more
words) is text: the card is built, and nothing is reported deleted.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.syntax import NoteText, SyntaxSettings, read_note
from ankigen.syntax.obsidian_to_anki import deletions

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
ID = "<!--ID: 1712345678901-->"
SETTINGS = SyntaxSettings(enabled=("obsidian-to-anki",))


def _read(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """(the answers of the cards read, the deletions found) of one note."""
    parsed, _ = read_note("Notes/A.md", text, SETTINGS)
    return [card.answer for card in parsed.cards], deletions(NoteText("Notes/A.md", text), SETTINGS)


@pytest.mark.parametrize(
    ("text", "answers", "deleted"),
    [
        # Deletions, as the plugin makes them.
        (f"START\nBasic\nFront: q\nBack: a\nDELETE\n{ID}\nEND\n", [], [(5, 1712345678901)]),
        (f"DELETE\n{ID}\n", [], [(1, 1712345678901)]),
        ("DELETE<!--ID: 17-->\n", [], [(1, 17)]),
        ("DELETE\nID: 17\n", [], [(1, 17)]),  # the plugin's ID Comments option off
        (f"START\nBasic\nFront: q\nBack: a\nDELETE{ID}\nEND\n", [], [(5, 1712345678901)]),
        # The word as an answer, or not directly above the ID: text.
        (f"START\nBasic\nFront: q\nBack:\nDELETE\nTags: t\n{ID}\nEND\n", ["DELETE"], []),
        (f"START\nBasic\nFront: q\nBack:\nDELETE\nmore\n{ID}\nEND\n", ["DELETE\nmore"], []),
        ("START\nBasic\nFront: What removes a note?\nBack:\nDELETE\nEND\n", ["DELETE"], []),
        (f"START\nBasic\nFront: q\nBack: DELETE\n{ID}\nEND\n", ["DELETE"], []),
        ("STARTI [Basic] Which word deletes? Back: DELETE ENDI\n", ["DELETE"], []),
        (f"DELETE\n\n{ID}\n", [], []),  # a blank line between
        (f"DELETE \n{ID}\n", [], []),  # a space after the word
        (f"DELETE\n  {ID}\n", [], []),  # spaces before the ID
        ("DELETE the note ID: 17 later\n", [], []),
        ("DELETED\nID: 17\n", [], []),
        (f"```\nDELETE\n{ID}\n```\n", [], []),  # code is text
    ],
)
def test_delete_is_a_deletion_only_directly_above_the_id(text, answers, deleted) -> None:
    assert _read(text) == (answers, deleted)


# The plugin's deletion pattern (its setting-to-data), written here from its description.
_PLUGIN = re.compile(r"DELETE\n?(?:<!--)?ID: (\d+)")
_PIECES = st.sampled_from(
    [
        "START", "END", "Basic", "Front: q", "Back: a", "Back:", "Tags: t", "DELETE", "DELETE ",
        " DELETE", "DELETE<!--ID: 11-->", ID, "ID: 12", "  " + ID, "", "text", "```",
        "STARTI [Basic] q Back: DELETE ENDI",
    ]
)  # fmt: skip


@settings(max_examples=EXAMPLES or 300, deadline=None, derandomize=not EXAMPLES)
@given(st.lists(_PIECES, max_size=14))
def test_every_deletion_is_one_the_plugin_makes(pieces: list[str]) -> None:
    """Never a deletion the plugin would not make (a false one tells the user to delete a
    live card); and a card is never both built and deleted."""
    text = "\n".join(pieces) + "\n"
    parsed, _ = read_note("Notes/A.md", text, SETTINGS)
    found = [nid for _, nid in deletions(NoteText("Notes/A.md", text), SETTINGS)]
    plugin = [int(m.group(1)) for m in _PLUGIN.finditer(text)]
    for nid in found:
        assert nid in plugin
        plugin.remove(nid)
    built = {card.anki_id for card in parsed.cards if card.anki_id}
    assert not built & set(found)
