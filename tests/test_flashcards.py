"""The Flashcards plugin's syntax (reuseman/flashcards-obsidian), from notes in our own words."""

from __future__ import annotations

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.records import CLOZE, QUESTION, REVERSED
from ankigen.syntax import SyntaxSettings, read_note
from ankigen.syntax.cloze import plain_text
from ankigen.syntax.flashcards import PLUGIN_ID, SETTINGS_FILE

# Random examples: a few hundred, the same each run; `ANKIGEN_FUZZ_EXAMPLES=5000` for more.
EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))


def read(text: str, rel: str = "Astronomy/Planets.md", data: dict | None = None):
    plugins = {PLUGIN_ID: data} if data is not None else {}
    settings = SyntaxSettings(enabled=("flashcards",), plugins=plugins)
    note, diagnostics = read_note(rel, text, settings)
    return list(note.cards), [str(d) for d in [*settings.problems, *diagnostics]]


def test_tagged_line_heading_and_tag_below_a_heading():
    text = (
        "# Planets\n\n"
        "## Largest planet #card\nJupiter, by far.\n^1699999999001\n\n"
        "Which planet has rings? #card #rings\nSaturn\nand others, fainter.\n\n"
        "This paragraph is no card.\n\n"
        "## Red planet\n#card\nMars\n"
    )
    cards, problems = read(text)
    assert problems == []
    assert [(c.line, c.question, c.answer) for c in cards] == [
        (3, "Largest planet", "Jupiter, by far."),
        (7, "Which planet has rings?", "Saturn\nand others, fainter."),
        (13, "Red planet", "Mars"),
    ]
    largest, rings, red = cards
    assert largest.anki_id == 1699999999001
    assert largest.context == ("Planets",)
    assert rings.context == ("Planets", "Largest planet")
    assert rings.tags == ("rings", "obsidian")
    assert rings.answer_line == 8
    assert red.context == ("Planets",)
    assert all(c.note_type == QUESTION for c in cards)
    assert all("^1699" not in value for c in cards for _, value in c.fields)


def test_reverse_and_spaced_variants():
    text = (
        "Morning star #card-reverse\nVenus\n\n"
        "Evening star #card/reverse\nalso Venus\n\n"
        "Look up at night more often #card-spaced\n\n"
        "The sky is big #card/spaced\n"
    )
    cards, _ = read(text)
    assert [c.note_type for c in cards] == [REVERSED, REVERSED, QUESTION, QUESTION]
    assert cards[2].question == "Look up at night more often"
    assert cards[2].fields == (("Prompt", "Look up at night more often"),)
    assert cards[3].answer == ""


def test_inline_cards_in_a_note_with_the_tag():
    text = (
        "#card notes below\n\n"
        "Closest planet::Mercury\n"
        "Hottest planet ::: Venus #heat\n^1699999999002\n"
        "- Coldest planet :: Neptune\n"
        "`a::b` is code\n"
        "```\nc::d\n```\n"
    )
    cards, _ = read(text)
    inline = [c for c in cards if c.line > 1]
    assert [(c.question, c.answer, c.note_type) for c in inline] == [
        ("Closest planet", "Mercury", QUESTION),
        ("Hottest planet", "Venus", REVERSED),
        ("Coldest planet", "Neptune", QUESTION),
    ]
    assert inline[1].tags == ("heat", "obsidian")
    assert inline[1].anki_id == 1699999999002


def test_clozes_from_highlights_and_curly_braces():
    text = "---\ncards-deck: Sky\n---\nThe ==Sun== is a {star} and {2:Earth} orbits it.\n"
    [card], _ = read(text)
    assert card.note_type == CLOZE
    assert plain_text(card.question) == "The Sun is a star and Earth orbits it."
    assert card.question.count("\ue000") == 3
    assert card.fields[1] == ("Extra", "")
    # Math braces are no cloze.
    cards, _ = read("---\ncards-deck: Sky\n---\nEnergy $E=mc^{2}$ here.\n")
    assert cards == []


def test_decks_and_tags():
    text = "---\ncards-deck: Space::Solar System\ntags: [astro, sky/night]\n---\nQ #card\nA\n"
    [card], _ = read(text)
    assert card.deck == "Space::Solar System"
    assert card.tags == ("astro", "sky::night", "obsidian")
    [folder], _ = read("Q #card\nA\n", rel="Astronomy/Moons/Io.md")
    assert folder.deck == "Astronomy::Moons"
    data = {"folderBasedDeck": False, "deck": "Stars", "defaultAnkiTag": ""}
    [default], _ = read("Q #card\nA\n", rel="Astronomy/Moons/Io.md", data=data)
    assert (default.deck, default.tags) == ("Stars", ())
    [root], _ = read("Q #card\nA\n", rel="Io.md")
    assert root.deck == "Default"


def test_settings_tag_and_separators():
    data = {"flashcardsTag": "fc", "inlineSeparator": "=>", "inlineSeparatorReverse": "<=>"}
    cards, problems = read("Front #fc\nBack\n\nmoon => Luna\nsun <=> Sol\n", data=data)
    assert problems == []
    assert [(c.question, c.answer, c.note_type) for c in cards] == [
        ("Front", "Back", QUESTION),
        ("moon", "Luna", QUESTION),
        ("sun", "Sol", REVERSED),
    ]
    assert read("Front #card\nBack\n", data=data)[0] == []


def test_notes_without_the_tag_are_not_read():
    assert read("Closest planet::Mercury\nThe ==Sun==\n")[0] == []


def test_broken_settings_are_warnings():
    cards, problems = read("Q #card\nA\n", data={"flashcardsTag": 3, "folderBasedDeck": "yes"})
    assert len(cards) == 1
    assert f"{SETTINGS_FILE}:1: warning: 'flashcardsTag' is not a one-line text" in problems


def test_settings_file_round_trip():
    data = json.loads(json.dumps({"deck": "Orbit", "folderBasedDeck": False}))
    [card], _ = read("Q #card\nA\n", data=data)
    assert card.deck == "Orbit"


_PIECES = st.sampled_from(
    ["#card", "#card-reverse", "#card/spaced", "::", ":::", "==", "{", "}", "{2:",
     "\n^1699999999003\n", "#", "## H", "```", "`", "$", "%%", "tags:", "cards-deck:", "word",
     " ", "- "]
)  # fmt: skip


@settings(max_examples=EXAMPLES or 300, deadline=None, derandomize=not EXAMPLES)
@given(st.lists(st.lists(_PIECES, max_size=6).map("".join), max_size=25))
def test_any_text_reads_without_error_and_ids_never_in_fields(lines):
    cards, _ = read("\n".join(lines))
    for card in cards:
        assert card.line >= 1
        for _, value in card.fields:
            if "```" not in value:  # inside fenced code an id line is only text
                assert "^1699999999003" not in value.split("\n")


def test_vault_builds_and_imports_into_anki(tmp_path):
    import ankiutil
    from conftest import write_vault

    from ankigen.build import BuildOptions, build
    from ankigen.media import MediaOptions

    vault = write_vault(
        tmp_path / "vault",
        {
            f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps({"defaultAnkiTag": "fc"}),
            "Sky/Planets.md": (
                "# Planets\n\n## Largest planet #card\nJupiter\n\n"
                "Morning star #card-reverse\nVenus\n\n"
                "Closest planet::Mercury\n\nThe ==Sun== is a {star}.\n\n"
                "Look up more often #card/spaced\n"
            ),
        },
    )
    media = MediaOptions(cache_dir=tmp_path / "cache", offline=True)
    report = build(BuildOptions(vault=vault, out_dir=tmp_path / "dist", media=media))
    assert [str(d) for d in report.diagnostics] == []
    col = ankiutil.load(tmp_path, *sorted((tmp_path / "dist").glob("*.apkg")))
    notes = [col.get_note(n) for n in col.find_notes("")]
    assert len(notes) == 5
    # reversed: 2 cards; the cloze: 1 (the plugin numbers ==…== and {…} both c1)
    assert sum(len(n.cards()) for n in notes) == 6
    decks = {col.decks.name(c.did) for n in notes for c in n.cards()}
    assert decks == {"Sky"}
    assert all("fc" in n.tags for n in notes)
    largest = next(n for n in notes if "Largest planet" in n.fields[0])
    assert "Planets" in largest["Context"]
    assert "Jupiter" in largest.cards()[0].answer()
    spaced = next(n for n in notes if "Look up more often" in n.fields[0])
    assert len(spaced.cards()) == 1


def test_a_similar_tag_is_not_the_card_tag():
    assert read("#cards and #cardiology\nClosest planet::Mercury\nThe ==Sun==\n")[0] == []


def test_inline_id_on_the_same_line():
    cards, _ = read("#card\n\nClosest planet::Mercury ^1699999999004\nThe ==Sun== ^1699999999005\n")
    assert [(c.answer, c.anki_id) for c in cards if c.line > 1] == [
        ("Mercury", 1699999999004),
        ("", 1699999999005),
    ]
    assert all("^1699" not in value for c in cards for _, value in c.fields)


def test_context_aware_mode_off():
    text = "# Planets\n## Giants\nLargest #card\nJupiter\n"
    [on], _ = read(text)
    [off], _ = read(text, data={"contextAwareMode": False})
    assert (on.context, off.context) == (("Planets", "Giants"), ())
