"""The Obsidian_to_Anki reader: every form of the plugin's syntax, from notes in our own words."""

from __future__ import annotations

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.records import CLOZE, QUESTION, REVERSED
from ankigen.syntax import SyntaxSettings, read_note
from ankigen.syntax.cloze import plain_text
from ankigen.syntax.obsidian_to_anki import PLUGIN_ID, SETTINGS_FILE, ota_settings

ID = "<!--ID: 1712345678901-->"

# Random examples: a few hundred, the same each run; `ANKIGEN_FUZZ_EXAMPLES=5000` for more.
EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))


def read(text: str, rel: str = "Garden/Plants.md", data: dict | None = None):
    plugins = {PLUGIN_ID: data} if data is not None else {}
    settings_ = SyntaxSettings(enabled=("obsidian-to-anki",), plugins=plugins)
    note, diagnostics = read_note(rel, text, settings_)
    return list(note.cards), [str(d) for d in [*settings_.problems, *diagnostics]]


def with_settings(settings_: dict | None = None, **top) -> dict:
    return {"settings": settings_ or {}, **top}


def test_block_note_with_fields_tags_and_id():
    text = (
        "# Plants\n\nSTART\nBasic\nFront: Which gas do leaves take in?\nBack: Carbon dioxide,\n"
        f"through the stomata.\nTags: botany leaves\n{ID}\nEND\n"
    )
    cards, problems = read(text)
    assert problems == []
    [card] = cards
    assert card.note_type == QUESTION
    assert card.line == 3
    assert card.question == "Which gas do leaves take in?"
    assert card.answer == "Carbon dioxide,\nthrough the stomata."
    assert card.answer_line == 6
    assert card.anki_id == 1712345678901
    assert card.tags == ("Obsidian_to_Anki", "botany", "leaves")
    assert card.deck == "Default"
    assert card.context == ("Plants",)
    assert card.fields == (
        ("Front", "Which gas do leaves take in?"),
        ("Back", "Carbon dioxide,\nthrough the stomata."),
    )
    assert all("ID:" not in value for _, value in card.fields)


def test_first_line_without_a_field_name_is_the_first_field():
    cards, _ = read("START\nBasic\nWhat colour is chlorophyll?\nBack: Green\nEND\n")
    assert (cards[0].question, cards[0].answer) == ("What colour is chlorophyll?", "Green")


def test_inline_note_with_tags_and_id():
    text = f"Intro STARTI [Basic] Where is xylem? Back: In the stem Tags: anatomy {ID} ENDI end\n"
    [card], problems = read(text)
    assert problems == []
    assert (card.question, card.answer) == ("Where is xylem?", "In the stem")
    assert card.tags == ("Obsidian_to_Anki", "anatomy")
    assert card.anki_id == 1712345678901
    assert card.line == 1


def test_two_inline_notes_on_one_line_and_none_in_code():
    text = (
        "STARTI [Basic] one Back: 1 ENDI and STARTI [Basic] two Back: 2 ENDI\n"
        "`STARTI [Basic] code Back: no ENDI`\n"
        "```\nSTART\nBasic\nFront: fenced\nEND\n```\n"
        "%%\nSTART\nBasic\nFront: commented\nEND\n%%\n"
    )
    cards, problems = read(text)
    assert [c.question for c in cards] == ["one", "two"]
    assert problems == []


def test_note_types_map_to_ours():
    text = (
        "START\nBasic (and reversed card)\nFront: sun\nBack: soleil\nEND\n\n"
        "START\nBasic (optional reversed card)\nFront: moon\nBack: lune\nEND\n\n"
        "START\nBasic (optional reversed card)\nFront: star\nBack: étoile\nAdd Reverse: y\nEND\n\n"
        "START\nBasic (type in the answer)\nFront: 2+2\nBack: 4\nEND\n\n"
        "START\nCloze\nText: Water boils at {{c1::100}} °C at {{c2::sea level::where}}.\n"
        "Back Extra: at 1 atm\nEND\n"
    )
    cards, problems = read(text)
    assert problems == []
    assert [c.note_type for c in cards] == [REVERSED, QUESTION, REVERSED, QUESTION, CLOZE]
    cloze = cards[-1]
    assert plain_text(cloze.question) == "Water boils at 100 °C at sea level."
    assert cloze.answer == "at 1 atm"
    assert cards[2].fields[2] == ("Add Reverse", "y")


def test_curly_cloze_and_highlights_to_clozes():
    data = with_settings(
        {"Defaults": {"CurlyCloze": True, "CurlyCloze - Highlights to Clozes": True}}
    )
    text = (
        "START\nCloze\nRoots take up {water} and {2:minerals}; ==phloem== moves sugar; "
        "`{not}` and $x^{2}$ stay.\nEND\n"
    )
    [card], problems = read(text, data=data)
    assert problems == []
    assert card.note_type == CLOZE
    assert plain_text(card.question) == (
        "Roots take up water and minerals; phloem moves sugar; `{not}` and $x^{2}$ stay."
    )
    assert card.question.count("\ue000") == 3
    assert "\ue0002\ue001minerals" in card.question
    # Without CurlyCloze, braces are text and a Cloze note without a cloze is no card.
    cards, problems = read(text)
    assert cards == []
    assert any("without a cloze" in p for p in problems)


def test_target_deck_file_tags_and_defaults():
    text = (
        "TARGET DECK\nNature::Trees\nFILE TAGS: forest wood\n"
        "TARGET DECK: Ignored::Second\n\nSTART\nBasic\nFront: Oak fruit?\nBack: Acorn\nEND\n"
    )
    [card], _ = read(text)
    assert card.deck == "Nature::Trees"
    assert card.tags == ("Obsidian_to_Anki", "forest", "wood")


def test_folder_decks_and_tags_from_settings():
    data = with_settings(
        {
            "FOLDER_DECKS": {"Garden": "Home::Garden", "Garden/Herbs": "Home::Herbs"},
            "FOLDER_TAGS": {"Garden": "outdoors", "Garden/Herbs": "kitchen"},
            "Defaults": {"Tag": "from-obsidian", "Deck": "Inbox"},
        }
    )
    note = "START\nBasic\nFront: Basil family?\nBack: Mint\nEND\n"
    [herb], _ = read(note, rel="Garden/Herbs/Basil.md", data=data)
    assert herb.deck == "Home::Herbs"
    assert herb.tags == ("kitchen", "outdoors", "from-obsidian")
    [other], _ = read(note, rel="Kitchen/Basil.md", data=data)
    assert (other.deck, other.tags) == ("Inbox", ("from-obsidian",))


def test_custom_markers_from_settings():
    data = with_settings(
        {
            "Syntax": {
                "Begin Note": "START_CARD",
                "End Note": "END_CARD",
                "Target Deck Line": "TARGET_DECK",
                "Delete Note Line": "REMOVE",
            }
        }
    )
    text = (
        "TARGET_DECK: Birds\nSTART_CARD\nBasic\nFront: Fastest bird?\nBack: Peregrine falcon\n"
        "END_CARD\nSTART\nBasic\nFront: not read\nEND\n"
    )
    [card], _ = read(text, data=data)
    assert (card.question, card.deck) == ("Fastest bird?", "Birds")


def test_custom_note_type_from_fields_dict():
    data = with_settings(fields_dict={"Vocab": ["Word", "Meaning", "Example"]})
    text = (
        "START\nVocab\nWord: arbre\nMeaning: tree\nExample: L'arbre est grand.\nTags: french\nEND\n"
    )
    [card], problems = read(text, data=data)
    assert problems == []
    assert card.note_type == "custom:Vocab"
    assert card.fields == (
        ("Word", "arbre"),
        ("Meaning", "tree"),
        ("Example", "L'arbre est grand."),
    )
    assert (card.question, card.answer) == ("arbre", "tree")


def test_custom_note_type_from_field_names_seen():
    [card], problems = read("START\nPlant Fact\nName: fern\nSpores: yes\nEND\n")
    assert problems == []
    assert card.note_type == "custom:Plant Fact"
    assert card.fields == (("Name", "fern"), ("Spores", "yes"))


def test_unresolvable_note_type_is_a_warning_with_its_line():
    cards, problems = read("text\n\nSTART\nMystery\nsome words\nEND\n")
    assert cards == []
    assert len(problems) == 1
    assert problems[0].startswith("Garden/Plants.md:4: warning: note type 'Mystery' is unknown")


def test_delete_marks_are_never_cards_or_fields():
    text = (
        f"START\nBasic\nFront: old question\nBack: old answer\nDELETE\n{ID}\nEND\n\n"
        f"DELETE\n<!--ID: 1712345678902-->\n\n"
        "START\nBasic\nFront: kept\nBack: yes\nEND\n"
    )
    cards, problems = read(text)
    assert [c.question for c in cards] == ["kept"]
    assert problems == []


def test_unclosed_block_is_a_warning():
    cards, problems = read("START\nBasic\nFront: never ends\n")
    assert cards == []
    assert problems == [
        "Garden/Plants.md:1: warning: 'START' without 'END': no card read from here to the "
        "note's end"
    ]


def test_broken_settings_are_warnings_and_defaults_apply():
    data = {"settings": {"Syntax": {"Begin Note": 7}, "Defaults": {"CurlyCloze": "yes"}}}
    cards, problems = read("START\nBasic\nFront: q\nBack: a\nEND\n", data=data)
    assert len(cards) == 1
    assert f"{SETTINGS_FILE}:1: warning: Syntax 'Begin Note' is not a one-line text" in problems
    assert ota_settings(data).curly_cloze is False


def test_obsidian_tags_option_lifts_tags():
    data = with_settings({"Defaults": {"Add Obsidian Tags": True}})
    [card], _ = read("START\nBasic\nFront: Moss #plants/simple\nBack: no roots\nEND\n", data=data)
    assert card.question == "Moss"
    assert "plants::simple" in card.tags


def test_scan_directory_limits_the_notes_read():
    data = with_settings({"Defaults": {"Scan Directory": "Cards"}})
    note = "START\nBasic\nFront: q\nBack: a\nEND\n"
    assert read(note, rel="Cards/A.md", data=data)[0]
    assert read(note, rel="Other/A.md", data=data)[0] == []


def test_settings_file_round_trip_through_json():
    data = json.loads(json.dumps(with_settings({"Defaults": {"Deck": "Roots"}})))
    assert ota_settings(data).deck == "Roots"


_PIECES = st.sampled_from(
    [
        "START",
        "END",
        "STARTI",
        "ENDI",
        "Basic",
        "Cloze",
        "Front:",
        "Back:",
        "Tags: a b",
        "DELETE",
        ID,
        "TARGET DECK",
        "FILE TAGS: x",
        "```",
        "%%",
        "`",
        "{",
        "}",
        "{{c1::",
        "}}",
        "==",
        "$",
        "[Basic]",
        "# Head",
        " ",
        "word",
    ]
)


@settings(max_examples=EXAMPLES or 300, deadline=None, derandomize=not EXAMPLES)
@given(st.lists(st.lists(_PIECES, max_size=6).map(" ".join), max_size=30), st.booleans())
def test_any_text_reads_without_error_and_no_bookkeeping_in_fields(lines, curly):
    data = with_settings(
        {"Defaults": {"CurlyCloze": curly, "CurlyCloze - Highlights to Clozes": curly}}
    )
    cards, _ = read("\n".join(lines), data=data)
    for card in cards:
        for _, value in card.fields:
            assert "<!--ID:" not in value
        assert card.line >= 1


# ---------------------------------------------------------------- through the build into Anki


def test_vault_builds_and_imports_into_anki(tmp_path):
    import ankiutil
    from conftest import write_vault

    from ankigen.build import BuildOptions, build
    from ankigen.media import MediaOptions

    data = with_settings(
        {
            "FOLDER_DECKS": {"Languages": "Words"},
            "Defaults": {
                "CurlyCloze": True,
                "CurlyCloze - Highlights to Clozes": True,
                "Tag": "from-ota",
            },
        },
        fields_dict={"Vocab": ["Word", "Meaning", "Example"]},
    )
    vault = write_vault(
        tmp_path / "vault",
        {
            f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps(data),
            "Languages/French.md": (
                "# Greetings\n\nSTART\nBasic\nFront: How do you say *hello*?\nBack: Bonjour\n"
                f"Tags: greeting\n{ID}\nEND\n\n"
                "START\nBasic (and reversed card)\nFront: chat\nBack: cat\nEND\n\n"
                "START\nCloze\nText: Paris is the {capital} of {2:France}.\nEND\n\n"
                "START\nCloze\nText: Lyon is on the ==Rhône==.\nEND\n\n"
                "START\nVocab\nWord: arbre\nMeaning: tree\nExample: *L'arbre* est grand.\nEND\n\n"
                "DELETE\n<!--ID: 1712345678999-->\n"
            ),
            "Other/Misc.md": (
                "TARGET DECK: Misc::Facts\nSTARTI [Basic] Two plus two? Back: four ENDI\n"
            ),
        },
    )
    media = MediaOptions(cache_dir=tmp_path / "cache", offline=True)
    # A fresh collection: the note ids in the vault are in none, built as new notes on purpose.
    options = BuildOptions(vault=vault, out_dir=tmp_path / "dist", media=media, new_notes=True)
    report = build(options)
    assert [str(d) for d in report.diagnostics] == []
    col = ankiutil.load(tmp_path, *sorted((tmp_path / "dist").glob("*.apkg")))
    by_front = {}
    for nid in col.find_notes(""):
        note = col.get_note(nid)
        by_front[note.fields[0]] = note
    assert len(by_front) == 6
    lyon = next(n for f, n in by_front.items() if "Lyon" in f)
    assert "{{c1::Rhône}}" in lyon.fields[0]
    hello = next(n for f, n in by_front.items() if "hello" in f)
    assert "<em>hello</em>" in hello.fields[0]
    assert sorted(hello.tags) == ["from-ota", "greeting"]
    assert {col.decks.name(c.did) for c in hello.cards()} == {"Words"}
    chat = next(n for f, n in by_front.items() if "chat" in f)
    assert len(chat.cards()) == 2
    paris = next(n for f, n in by_front.items() if "Paris" in f)
    assert "{{c1::capital}}" in paris.fields[0] and "{{c2::France}}" in paris.fields[0]
    assert len(paris.cards()) == 2
    arbre = next(n for f, n in by_front.items() if "arbre" in f)
    assert arbre.note_type()["name"] == "ankigen Vocab"
    assert arbre["Meaning"].strip() in ("tree", "<p>tree</p>")
    assert "<em>L'arbre</em>" in arbre["Example"]
    assert "Context" in arbre  # our fields too
    assert "tree" in arbre.cards()[0].answer()
    two = next(n for f, n in by_front.items() if "Two plus two" in f)
    assert {col.decks.name(c.did) for c in two.cards()} == {"Misc::Facts"}
    for note in by_front.values():
        assert all("ID:" not in value and "DELETE" not in value for value in note.fields)


def test_regular_expression_notes_are_read():
    data = with_settings({"CUSTOM_REGEXPS": {"Basic": "^Q: (.*)\\nA: (.*)", "Cloze": ""}})
    cards, problems = read("Q: one\nA: two\n", data=data)
    assert problems == []
    assert [(c.question, c.answer, c.line) for c in cards] == [("one", "two", 1)]


def test_a_missing_picture_in_a_third_field_names_that_fields_line(tmp_path):
    """Every field carries its pictures (test_card_fields.py): one not found is a warning
    naming the line of its field, not of the card."""
    from conftest import write_vault

    from ankigen.build import BuildOptions, build
    from ankigen.media import MediaOptions

    data = with_settings(fields_dict={"Vocab": ["Word", "Meaning", "Picture"]})
    vault = write_vault(
        tmp_path / "vault",
        {
            f".obsidian/plugins/{PLUGIN_ID}/data.json": json.dumps(data),
            "Words.md": "START\nVocab\nWord: tree\nMeaning: arbre\nPicture: ![[tree.png]]\nEND\n",
        },
    )
    media = MediaOptions(cache_dir=tmp_path / "cache", offline=True)
    report = build(BuildOptions(vault=vault, out_dir=tmp_path / "dist", media=media))
    assert [str(d) for d in report.diagnostics] == [
        "Words.md:5: warning: picture tree.png not included: not found in the vault"
    ]


def test_a_users_own_cloze_note_type_is_a_cloze():
    data = with_settings(
        {"Defaults": {"CurlyCloze": True}}, fields_dict={"Cloze+": ["Text", "Hint", "Source"]}
    )
    note = "START\nCloze+\nText: Ice melts at {0} °C.\nHint: water\nEND\n"
    [card], problems = read(note, data=data)
    assert problems == []
    assert card.note_type == CLOZE
    assert plain_text(card.question) == "Ice melts at 0 °C."
    assert [name for name, _ in card.fields] == ["Text", "Hint", "Source"]
