"""A card's Context never repeats its note's title, whichever syntax the card is written in:
through the real CLI into a real Anki collection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ankiutil
from conftest import REPO, write_vault

from ankigen.fields import context_html
from ankigen.syntax import flashcards, obsidian_to_anki

NOTE = """---
tags: [flashcards/French]
---
# French Basics

## Animals

the cat::le chat

What is chien? #card
the dog

STARTI [Basic] What is cheval? Back: the horse ENDI

#Q What is oiseau?
Answer: the bird

### french  basics

the cow::la vache
"""


def test_no_card_context_repeats_the_note_title(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "vault",
        {
            f".obsidian/plugins/{obsidian_to_anki.PLUGIN_ID}/data.json": "{}",
            f".obsidian/plugins/{flashcards.PLUGIN_ID}/data.json": json.dumps(
                {"contextAwareMode": True}
            ),
            "Languages/French Basics.md": NOTE,
        },
    )
    out = tmp_path / "dist"
    result = subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    col = ankiutil.new_collection(tmp_path)
    for apkg in sorted(out.glob("*.apkg")):
        ankiutil.import_package(col, apkg)
    contexts = {}
    for note in ankiutil.notes(col):
        front = next(iter(note.fields.values()))
        key = next(w for w in ("the cat", "chien", "oiseau", "cheval", "cow") if w in front)
        contexts[key] = note.fields["Context"]
    # One card per syntax: Spaced Repetition, Flashcards, the seed's, Obsidian_to_Anki.
    assert set(contexts) == {"the cat", "chien", "oiseau", "cheval", "cow"}
    for key in ("the cat", "chien", "oiseau", "cheval"):
        assert contexts[key] == "French Basics › Animals", (key, contexts)
    # A deeper heading that only repeats the title (spacing and case aside) is left out too.
    assert contexts["cow"] == "French Basics › Animals"


def test_context_leaves_out_only_headings_that_are_the_title() -> None:
    assert context_html("AMI", ("AMI", "Details")) == "AMI › Details"
    assert context_html("AMI", ("AMI Details",)) == "AMI › AMI Details"
    assert context_html("A & B", ("a  &  b", "C")) == "A &amp; B › C"
    assert context_html("Note", ()) == "Note"


def test_a_card_inside_another_syntaxs_card_is_warned_about(tmp_path: Path) -> None:
    """Another syntax's markup inside a card: one syntax reads each line (README's rule), so
    the Obsidian_to_Anki inline note is made and the #Question card around it is not, with a
    warning that says so."""
    from ankigen.syntax import SyntaxSettings, read_note

    text = NOTE.replace("STARTI [Basic] What is cheval? Back: the horse ENDI\n\n", "") + (
        "\n#Q What is a mule?\nAnswer: half horse\n"
        "STARTI [Basic] What is cheval? Back: horse ENDI\n"
    )
    settings = SyntaxSettings(plugins={obsidian_to_anki.PLUGIN_ID: {}, flashcards.PLUGIN_ID: {}})
    parsed, diagnostics = read_note("Languages/French Basics.md", text, settings)
    assert [c.syntax for c in parsed.cards].count("obsidian-to-anki") == 1
    assert "What is a mule?" not in [c.question for c in parsed.cards]
    assert [str(d) for d in diagnostics] == [
        "Languages/French Basics.md:20: warning: #Question card not made: line 22 is "
        "Obsidian_to_Anki's STARTI line, and one line is read by one syntax only (see the "
        "README's order)"
    ]
