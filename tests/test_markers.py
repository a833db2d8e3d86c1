"""Every marker is a card or a message, in all four syntaxes at once (issue 16, 4).

A note is made of cards in every syntax (#Question, Spaced Repetition, Obsidian_to_Anki,
Flashcards), each holding a word of its own; then one piece of text that can hide others (an
unclosed HTML or %% comment, an unclosed fence or math block, a scheduling comment too long, an
"ID: 0" in a card's text, a URL line) is put somewhere among them. Every card the note had
without it is still a card with it, or a warning stands between that piece and the card."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen.syntax import SyntaxSettings, read_note
from ankigen.syntax.cloze import plain_text
from ankigen.syntax.flashcards import PLUGIN_ID as FLASHCARDS
from ankigen.syntax.obsidian_to_anki import PLUGIN_ID as OTA

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
SETTINGS = SyntaxSettings(
    plugins={OTA: json.loads(json.dumps({"settings": {}})), FLASHCARDS: {}},
)

# Cards, "{w}" being the card's own word.
CARDS = [
    "#Q {w} seed?\nAnswer: a",
    "#Question {w} two lines?\nAnswer: b\nmore",
    "{w} single::line",
    "{w} reversed:::line",
    "{w} multi\nline\n?\nback",
    "{w} the ==highlight== cloze",
    "STARTI [Basic] {w} inline Back: i ENDI",
    "STARTI [Basic] {w} with ID: 0 inside Back: kept ENDI",
    "START\nBasic\nFront: {w} block\nBack: b\nEND",
    "START\nCloze\nText: {w} {{{{c1::block}}}} cloze\nEND",
    "{w} front #card\nback",
    "{w} front #card-reverse\nback",
]
# Text that may hide what follows it, or change how a card reads.
HAZARDS = [
    "<!--",
    "<!-- closed -->",
    "%%",
    "%% closed %%",
    "```",
    "```\nfenced\n```",
    "~~~",
    "$$",
    "$$\nx\n$$",
    "<!--SR:!2024-01-01," + "1" * 4100 + ",250-->",
    "<!--SR:!2024-01-01,3,250",
    "START",
    "STARTI [Basic] open",
    "https://example.com/a:b",
    "ID: 0",
    "# Heading",
    "---",
    "> quote",
    "<div>",
    "%%<!--%%",
    "`",
    "^1234567890123",
]
WORDS = [f"W{i}x" for i in range(40)]


@st.composite
def notes(draw) -> tuple[list[str], str]:
    """(the pieces of a note, one hazard); the pieces are cards with distinct words."""
    count = draw(st.integers(1, 8))
    pieces = [draw(st.sampled_from(CARDS)).format(w=WORDS[i]) for i in range(count)]
    return pieces, draw(st.sampled_from(HAZARDS))


def _read(pieces: list[str]) -> tuple[set[str], list, str]:
    text = "#flashcards\n\n" + "\n\n".join(pieces) + "\n"
    note, diagnostics = read_note("Gen/Note.md", text, SETTINGS)
    found = set()
    for card in note.cards:
        shown = " ".join(
            (plain_text(card.question), card.answer, *(plain_text(v) for _, v in card.fields))
        )
        found.update(word for word in WORDS if word in shown)
    return found, diagnostics, text


@settings(
    max_examples=EXAMPLES or 400,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(notes(), st.data())
def test_every_card_is_a_card_or_a_message_in_every_syntax(generated, data):
    pieces, hazard = generated
    before, _, _ = _read(pieces)
    at = data.draw(st.integers(0, len(pieces)))
    hazard_line = 2 + sum(piece.count("\n") + 2 for piece in pieces[:at]) + 1
    if at and data.draw(st.booleans()):  # at the end of the card above, on its last line
        hazarded = [*pieces[: at - 1], f"{pieces[at - 1]} {hazard}", *pieces[at:]]
        hazard_line -= 2 + hazard.count("\n")
    else:
        hazarded = [*pieces[:at], hazard, *pieces[at:]]
    after, diagnostics, text = _read(hazarded)
    starts, line = [], 3  # the line each piece starts on
    for piece in hazarded:
        starts.append(line)
        line += piece.count("\n") + 2
    warnings = [d.line for d in diagnostics if d.severity == "warning"]
    # "… the rest of the note …", "no card read from here …": about the text below it.
    below = ("rest of the note", "no card read from here")
    rest = [d.line for d in diagnostics if any(words in d.message for words in below)]
    for word in sorted(before - after):
        [index] = [i for i, piece in enumerate(hazarded) if word in piece]
        first = min(starts[index], hazard_line)
        last = starts[index] + hazarded[index].count("\n")
        near = any(first - 1 <= line <= last for line in warnings)
        assert near or any(line <= last for line in rest), (
            word,
            hazard,
            text,
            [str(d) for d in diagnostics],
        )


# ---------------------------------------------------------------- the named instances


def _cards_and_messages(text: str, plugins: dict | None = None) -> tuple[list, list[str]]:
    syntax = SyntaxSettings(plugins=plugins or SETTINGS.plugins)
    note, diagnostics = read_note("N.md", text, syntax)
    return list(note.cards), [str(d) for d in diagnostics]


def test_unclosed_html_comment_in_a_spaced_repetition_note_is_warned():
    text = "#flashcards\n\nFirst::one\n\n<!-- draft\n\nSecond::two\n\nThird::three\n"
    cards, messages = _cards_and_messages(text)
    assert [c.question for c in cards] == ["First"]
    assert messages == [
        "N.md:5: warning: '<!--' never closed: the rest of the note is a comment and makes no cards"
    ]
    closed, messages = _cards_and_messages(text.replace("draft", "draft -->"))
    assert len(closed) == 3 and messages == []


def test_scheduling_comment_too_long_is_warned_and_the_card_starts_new():
    for comment in ("<!--SR:!2024-01-01," + "7" * 4100 + ",250-->", "<!--SR:!2024-01-01,3,250"):
        cards, messages = _cards_and_messages(f"#flashcards\n\nSun::star {comment}\n")
        assert [c.schedule for c in cards] == [()]
        assert any(m.startswith("N.md:3: warning: scheduling comment") for m in messages)
    cards, messages = _cards_and_messages("#flashcards\n\nSun::star <!--SR:!2024-01-01,3,250-->\n")
    assert cards[0].schedule and messages == []


def test_id_inside_an_inline_note_is_text_and_only_a_trailing_one_an_id():
    text = (
        "STARTI [Basic] What does ID: 0 mean? Back: no id ENDI\n"
        "STARTI [Basic] Row ID: 42 Back: a key ENDI\n"
        "STARTI [Basic] Real Back: one <!--ID: 1712345678901--> ENDI\n"
        "START\nBasic\nFront: Block\nBack: see ID: 7 here\nEND\n"
    )
    cards, _ = _cards_and_messages(text)
    assert [(c.question, c.answer, c.anki_id) for c in cards] == [
        ("What does ID: 0 mean?", "no id", 0),
        ("Row ID: 42", "a key", 0),
        ("Real", "one", 1712345678901),
        ("Block", "see ID: 7 here", 0),
    ]


def test_url_line_in_a_custom_note_type_is_no_field():
    text = "START\nVocab\nWord: gato\nMeaning: cat\nhttps://example.com/gato\nftp://x\nEND\n"
    plugins = {OTA: {"settings": {}}}
    [card], _ = _cards_and_messages(text, plugins)
    assert [name for name, _ in card.fields] == ["Word", "Meaning"]
    assert card.fields[1][1] == "cat\nhttps://example.com/gato\nftp://x"


def test_unclosed_fence_hides_cards_of_every_syntax_with_a_warning():
    for card in ("Sun::star", "Sun #card\nstar", "STARTI [Basic] Sun Back: star ENDI"):
        cards, messages = _cards_and_messages(f"#flashcards\n\n~~~\n\n{card}\n")
        assert cards == []
        assert "N.md:3: warning: code block never closed: the rest of the note is code" in (
            " ".join(messages)
        )


def test_block_without_its_end_running_over_another_card_is_warned():
    # Everything from START to END is the plugin's note (README: one syntax per line), so the
    # #Question inside it is not a card of its own, and says so.
    text = "START\nBasic\nFront: a\nBack: b\nEND here\n\n#Q Seed?\nAnswer: s\n\nEND\n"
    cards, messages = _cards_and_messages(text)
    assert [c.question for c in cards] == ["a"]
    assert any(m.startswith("N.md:7: warning: #Question card not made") for m in messages), messages


def test_start_inside_a_block_ends_the_unclosed_one_with_a_warning():
    text = "START\nBasic\nFront: lost\n\nSTART\nBasic\nFront: kept\nBack: k\nEND\n"
    cards, messages = _cards_and_messages(text)
    assert [c.question for c in cards] == ["kept"]
    assert messages == [
        "N.md:1: warning: 'START' without 'END' before the 'START' at line 5: no card read from "
        "here to there"
    ]
