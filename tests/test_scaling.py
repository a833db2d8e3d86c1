"""No input costs far more than its size: every reader, scanner, settings list and identity
step is linear (or n log n) in its input.

Each test runs the same work on an input of size n and of size 10n in the same process and
compares the CPU times: linear work takes about 10 times as long, quadratic work 100 times.
The bound (RATIO) is generous, so that a busy machine does not fail it; it is no timed test.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import pytest

from ankigen import shown
from ankigen.identity.identify import assign_identities
from ankigen.identity.lockfile import Lock
from ankigen.records import CardDraft
from ankigen.syntax import SyntaxSettings, read_note, seed
from ankigen.syntax import flashcards as fc
from ankigen.syntax import obsidian_to_anki as ota
from ankigen.syntax import spaced_repetition as sr

RATIO = 40  # 10 times the input: linear ≈ 10-15, quadratic ≈ 100


def _cpu(work: Callable[[], Any]) -> float:
    gc.collect()
    start = time.process_time()
    work()
    return time.process_time() - start


def assert_scales_linearly(make: Callable[[int], Any], run: Callable[[Any], Any], n: int) -> None:
    """`run` on `make(10 n)` costs at most RATIO times `run` on `make(n)`."""
    small, big = make(n), make(10 * n)
    run(make(max(n // 10, 1)))  # imports and caches warmed up
    # The best of a few runs: a busy machine only ever makes one run slower.
    small_cost = min(_cpu(lambda: run(small)) for _ in range(3))
    big_cost = min(_cpu(lambda: run(big)) for _ in range(2))
    floor = 0.002  # below this the clock's resolution, not the work, decides
    ratio = big_cost / max(small_cost, floor)
    assert ratio < RATIO, (
        f"10x the input cost {ratio:.0f}x the time ({small_cost:.3f}s → {big_cost:.3f}s)"
    )


SR = {sr.PLUGIN_ID: {"settings": {}}}
SR_END = {sr.PLUGIN_ID: {"settings": {"multilineCardEndMarker": "---"}}}
CURLY = {
    ota.PLUGIN_ID: {
        "settings": {"Defaults": {"CurlyCloze": True, "CurlyCloze - Highlights to Clozes": True}}
    }
}


def _settings(plugins: dict | None = None) -> SyntaxSettings:
    return SyntaxSettings(plugins=plugins or {})


def _block(body: str) -> str:
    return f"START\nCloze\nText: {body}\nEND\n"


# (name, plugin settings, note text of size n): inputs made to hit each scanner's worst case.
ADVERSARIAL: list[tuple[str, dict | None, Callable[[int], str]]] = [
    # Flashcards
    ("spaced lines", None, lambda n: "".join(f"line {i} #card-spaced\n" for i in range(n))),
    ("reverse lines", None, lambda n: "".join(f"side {i} #card/reverse\n" for i in range(n))),
    ("tagged, no back", None, lambda n: "".join(f"q{i} #card\n" for i in range(n))),
    ("flashcards inline", None, lambda n: "#card\n" + "q::a\n" * n),
    ("curly and highlights", None, lambda n: "#card\n" + "{a} ==b== " * n + "\n"),
    ("math between clozes", None, lambda n: "#card\n{a} " + "$x$ " * n + "\n"),
    ("card tags", None, lambda n: "q #card " + "#t " * n + "\nback\n"),
    ("card tags then a word", None, lambda n: "#card " * n + "x\n"),
    ("reverse tags then a word", None, lambda n: "q " + "#card/reverse " * n + "x\n"),
    ("only card tags", None, lambda n: "q " + "#card-spaced " * n + "\n"),
    # Spaced Repetition
    ("sr basic", SR, lambda n: "#flashcards\n" + "q::a\n" * n),
    ("sr clozes", SR, lambda n: "#flashcards\n" + "==a== " * n + "\n"),
    ("sr unclosed clozes", SR, lambda n: "#flashcards\n" + "==a " * n + "\n"),
    ("sr multiline", SR, lambda n: "#flashcards\n" + "q\n?\na\n\n" * n),
    ("sr end marker never", SR_END, lambda n: "#flashcards\n==a==\n\n" + "text\n\n" * n),
    ("sr html comments", SR, lambda n: "#flashcards\nq::a\n" + "<!-- " * n + "\n"),
    ("sr review comments", SR, lambda n: "#flashcards\nq::a\n" + "<!--SR:" * n + "\n"),
    ("sr deck tags", SR, lambda n: "#flashcards " + "#flashcards/x " * n + "\nq::a\n"),
    ("sr backticks", SR, lambda n: "#flashcards\n" + "`a " * n + "::b\n"),
    # Obsidian_to_Anki
    ("curly nested", CURLY, lambda n: _block("{a" * n + "}" * n)),
    ("curly unclosed", CURLY, lambda n: _block("{a " * n)),
    ("curly doubled closes", CURLY, lambda n: _block("{a}} " * n)),
    ("curly lone close runs", CURLY, lambda n: _block("{a" + "}}}x" * n + "}")),
    ("curly over blank lines", CURLY, lambda n: _block("{a\n\n" * n + "}")),
    ("blocks", None, lambda n: "START\nBasic\nFront: q\nBack: a\nEND\n" * n),
    ("inline notes", None, lambda n: "STARTI [Basic] q Back: a ENDI " * n + "\n"),
    ("unclosed block", None, lambda n: "START\nBasic\n" + "Front: x\n" * n),
    (
        "custom fields",
        None,
        lambda n: "START\nMine\n" + "".join(f"F{i % 50}: x\n" for i in range(n)) + "END\n",
    ),
    # The seed syntax and the splitter
    ("questions", None, lambda n: "".join(f"#Question\nq{i}\n\nanswer\n\n" for i in range(n))),
    ("unclosed <a", None, lambda n: "#Question\nq\n\n" + "<a " * n + "\n"),
    ("unclosed <IMG", None, lambda n: "#Question\nq\n\n" + "<IMG " * n + "\n"),
    ("unclosed < lines", None, lambda n: "#Question\nq\n\n" + "<a\n" * n + "\n"),
    ("fence lines", None, lambda n: "#Question\nq\n\n" + "```\n" * n),
    # Shared Obsidian scanning, under every reader
    ("every syntax, < runs", SR, lambda n: "#flashcards #card\nq::" + "<IMG " * n + "\n"),
    ("backtick runs", SR, lambda n: "#flashcards #card\nq::" + "`` ` " * n + "a\n"),
    ("comment lines", SR, lambda n: "#flashcards #card\nq::a\n" + "%% x\n" * n),
    (
        "headings",
        SR,
        lambda n: (
            "#flashcards #card\n" + "".join(f"{'#' * (1 + i % 6)} h\nq::a\n" for i in range(n))
        ),
    ),
]


@pytest.mark.parametrize(
    ("plugins", "make"),
    [pytest.param(p, m, id=name) for name, p, m in ADVERSARIAL],
)
def test_every_reader_is_linear_on_adversarial_notes(plugins, make):
    settings = _settings(plugins)
    assert_scales_linearly(make, lambda text: read_note("Deck/note.md", text, settings), 1000)


def test_spaced_cards_fronts_stop_at_the_card_above():
    """The plugin's pattern goes on from where the card above it ended: each line is a card."""
    text = "intro line\none #card-spaced\ntwo #card-spaced\n\nthree\nfour #card/spaced\n"
    text += "^1234567890123\nfive #card-spaced\nq #card\nback\n\nsix #card-spaced\n"
    parsed, _ = read_note("Deck/note.md", text, _settings())
    fronts = [card.question for card in parsed.cards]
    assert fronts == ["intro line\none", "two", "three\nfour", "five", "q", "six"]
    assert [card.line for card in parsed.cards] == [1, 3, 5, 8, 9, 12]


def test_many_spaced_lines_hold_one_line_each():
    text = "".join(f"line {i} #card-spaced\n" for i in range(300))
    parsed, _ = read_note("Deck/note.md", text, _settings())
    assert [c.question for c in parsed.cards] == [f"line {i}" for i in range(300)]


def test_unclosed_tags_in_an_answer_cost_only_themselves():
    for opening in ("<a ", "<IMG ", "<b\n", "< "):
        answer = opening * 2000
        assert seed.shows_text(answer + "word")
        assert_scales_linearly(lambda n, o=opening: o * n, seed.shows_text, 2000)
        assert_scales_linearly(lambda n, o=opening: o * n, shown.shows_nothing, 2000)


# ---------------------------------------------------------------- identity


def _drafts(count: int, note: str = "Deck/note.md") -> list[CardDraft]:
    return [CardDraft(note, line + 1, "q", "a", ("q", "a", ""), ()) for line in range(count)]


def test_duplicate_questions_get_their_guids_in_linear_time():
    def identify(drafts: list[CardDraft]) -> None:
        first = assign_identities(drafts, Lock(), lambda _: 0, 1_700_000_000)
        # Again with the lock: every card matched to its entry among the duplicates.
        assign_identities(drafts, first.lock, lambda _: 0, 1_700_000_001)

    assert_scales_linearly(_drafts, identify, 300)


def test_duplicate_guids_are_the_same_as_before():
    """The memo changes no GUID: the k-th copy of a question keeps the suffix k it had."""
    from ankigen.identity.keys import genanki_guid, normalise_question

    found = assign_identities(_drafts(5), Lock(), lambda _: 0, 1_700_000_000)
    key = normalise_question("q")
    expected = [genanki_guid("ankigen", "Deck/note.md", key)] + [
        genanki_guid("ankigen", "Deck/note.md", key, n) for n in range(2, 6)
    ]
    assert [note.guid for note in found.notes] == expected


def test_a_renamed_folder_of_many_notes_is_recognised_in_linear_time():
    """Every note of a folder moved: each finds the gone note it came from by its questions,
    not by comparing itself with every gone note."""
    from ankigen.identity.lockfile import LockEntry
    from ankigen.identity.matching import adopt_moved_notes

    def make(n: int) -> tuple[dict, list[CardDraft]]:
        orphans = {
            f"Old/n{i}.md": tuple(
                LockEntry(f"g{i}-{k}", f"question {i} {k}", "c", "a", 1, k + 1) for k in range(3)
            )
            for i in range(n)
        }
        drafts = [
            CardDraft(f"New/n{i}.md", k + 1, f"Question {i} {k}", "a", ("q", "a", ""), ())
            for i in range(n)
            for k in range(3)
        ]
        return orphans, drafts

    def run(made: tuple[dict, list[CardDraft]]) -> None:
        orphans, drafts = made
        _, moves = adopt_moved_notes(Lock(), dict(orphans), drafts)
        assert len(moves) == len(orphans)

    assert_scales_linearly(make, run, 300)


# ---------------------------------------------------------------- settings lists


def _warnings(diagnostics) -> list[str]:
    return [f"{d.path}: {d.message}" for d in diagnostics]


def test_huge_flashcard_tag_lists_are_bounded_and_named():
    tags = [f"#deck{i}" for i in range(60_000)] + ["#flashcards"]
    settings = _settings({sr.PLUGIN_ID: {"settings": {"flashcardTags": tags}}})
    parsed, diagnostics = read_note("D/n.md", "#deck5\nq::a\n", settings)
    assert len(parsed.cards) == 1  # the first tags still count
    said = _warnings([*settings.problems, *diagnostics])
    assert any(sr.SETTINGS_FILE in w and "flashcardTags has 60001 entries" in w for w in said)


@pytest.mark.parametrize(
    ("key", "entry"),
    [
        ("flashcardTags", lambda i: f"#t{i}"),
        ("noteFoldersToIgnore", lambda i: f"Folder{i}/*.md"),
        ("noteFoldersToIgnore", lambda i: f"*/Sub{i}/**"),
        ("noteFoldersToIgnore", lambda i: f"Folder{i}"),
        ("clozePatterns", lambda i: f"=={i}answer=={i}"),
    ],
)
def test_spaced_repetition_settings_lists_cost_linear_time(key, entry):
    """A settings list of n entries over a vault of n lines costs about n, not n²: each entry
    is not tried on every note or line."""
    text = "#flashcards\n" + "".join(
        f"q{i}::a #flashcards\n\nsee ==c{i}== here\n\n" for i in range(5)
    )

    def make(n: int) -> tuple[dict, int]:
        values = [entry(i) for i in range(n)]
        if key == "flashcardTags":
            values.append("#flashcards")  # the tag the notes carry, last
        return {sr.PLUGIN_ID: {"settings": {key: values}}}, n // 10

    def run(made: tuple[dict, int]) -> None:
        plugins, notes = made
        settings = _settings(plugins)
        for index in range(notes):
            read_note(f"Deck{index}/note.md", text, settings)

    assert_scales_linearly(make, run, 500)


def test_ignored_folders_still_ignore_with_many_entries():
    plain = [f"Other{i}" for i in range(400)] + ["Private"]
    globs = [f"X{i}/*" for i in range(400)] + ["Drafts/**"]  # under the bound (1000)
    settings = _settings({sr.PLUGIN_ID: {"settings": {"noteFoldersToIgnore": plain + globs}}})
    for rel, cards in [
        ("Private/n.md", 0),
        ("Private/deep/n.md", 0),
        ("Drafts/a/b.md", 0),
        ("PrivateNot/n.md", 1),
        ("Public/n.md", 1),
    ]:
        parsed, _ = read_note(rel, "#flashcards\nq::a\n", settings)
        assert len(parsed.cards) == cards, rel


def test_huge_field_lists_are_bounded_and_named():
    names = [f"F{i}" for i in range(20_000)]
    plugins = {ota.PLUGIN_ID: {"fields_dict": {"Mine": names}}}
    block = "START\nMine\n" + "".join(f"F{i % 300}: x\n" for i in range(8000)) + "END\n"
    settings = _settings(plugins)
    parsed, diagnostics = read_note("D/n.md", block, settings)
    assert len(parsed.cards) == 1
    said = _warnings([*settings.problems, *diagnostics])
    assert any(ota.SETTINGS_FILE in w and "'Mine' has 20000 entries" in w for w in said)

    def make(n: int) -> tuple[dict, str]:
        fields = {ota.PLUGIN_ID: {"fields_dict": {"Mine": [f"F{i}" for i in range(n)]}}}
        return fields, "START\nMine\n" + "".join(f"F{i % 97}: x\n" for i in range(n)) + "END\n"

    assert_scales_linearly(make, lambda p: read_note("D/n.md", p[1], _settings(p[0])), 1000)


def test_a_broken_settings_file_says_only_so_much_with_every_note():
    fields = {f"Type{i}": "not a list" for i in range(5000)}
    plugins = {ota.PLUGIN_ID: {"fields_dict": fields}}
    settings = _settings(plugins)
    _, diagnostics = read_note("D/n.md", "START\nBasic\nFront: q\nBack: a\nEND\n", settings)
    said = _warnings([*settings.problems, *diagnostics])
    assert 1 < len(said) <= 25
    assert any("4980 more problems" in w for w in said)
    assert all(w.startswith(ota.SETTINGS_FILE) for w in said)


def test_flashcards_settings_problems_are_few():
    many = {f"key{i}": i for i in range(10)} | {"flashcardsTag": 5, "deck": 3, "inlineSeparator": 1}
    parsed = fc.flashcards_settings(many)
    assert 0 < len(parsed.problems) <= 21
