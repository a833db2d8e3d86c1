"""The Spaced Repetition reader against the plugin's own parser (the oracle in
../shared/oracles/spaced-repetition, run with node): on generated notes and on every flashcard
note of the example vault, the reader finds the cards the plugin finds, with the same type and
the same first and last line. The deliberate differences are in tests/sroracle.py (DELIBERATE
and normalise) and in the README's table; any other difference fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sroracle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen import obsidian
from ankigen.syntax import NoteText

# Random examples: a few hundred, the same each run; `ANKIGEN_FUZZ_EXAMPLES=5000` for more.
EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
VAULT = Path(__file__).resolve().parents[1] / "examples" / "vault"

pytestmark = pytest.mark.skipif(bool(sroracle.unavailable()), reason=sroracle.unavailable())


@pytest.fixture(scope="session")
def oracle():
    running = sroracle.Oracle()
    yield running
    running.close()


def assert_agrees(oracle: sroracle.Oracle, rel: str, note: str, plugin: dict) -> None:
    theirs, ours, warnings = sroracle.compare(oracle, rel, note, plugin)
    if theirs or ours:
        numbered = "\n".join(f"{n:3}| {line}" for n, line in enumerate(note.split("\n")))
        pytest.fail(
            f"the reader and the plugin disagree (lines from 0)\n{numbered}\n"
            f"settings: {json.dumps(plugin)}\nonly the plugin: {theirs}\n"
            f"only ankigen: {ours}\nankigen's warnings: {warnings}"
        )


# ---------------------------------------------------------------- generated notes

SETTINGS = [
    {},
    {"settings": {"multilineCardEndMarker": "---"}},
    {"settings": {"multilineCardEndMarker": "+++"}},
    {
        "settings": {
            "singleLineCardSeparator": "=>",
            "singleLineReversedCardSeparator": "<=>",
            "multilineCardSeparator": "+?",
            "multilineReversedCardSeparator": "+??",
        }
    },
    {
        "settings": {
            "clozePatterns": [
                "==[123;;]answer[;;hint]==",
                "**[123;;]answer[;;hint]**",
                "{{[123;;]answer[;;hint]}}",
            ]
        }
    },
    {"settings": {"clozePatterns": ["==answer==[^\\[hint\\]][\\[^123\\]]"]}},
    {"settings": {"clozePatterns": ["{{[123::]answer[::hint]}}"], "multilineCardEndMarker": "%"}},
]

WORDS = st.sampled_from(["cat", "le chat", "Why", "x", "the *sun*", "a b c", "`code`", "$x$"])
CLOZES = st.sampled_from(
    [
        "==cat==",
        "==1;;cat==",
        "==2;;dog;;animal==",
        "==cat;;hint==",
        "==ash;;x==",
        "**bold**",
        "**1;;bold**",
        "{{curly}}",
        "{{2;;curly;;hint}}",
        "{{1::curly::hint}}",
        "==sun==[^[star]]",
        "==sun==[^[star]][[^2]]",
        "== spaced ==",
        "====",
    ]
)
SEPARATORS = st.sampled_from(["::", ":::", "=>", "<=>", " :: ", "`::`", "``::``", "a`b`::"])


PLAIN = ["blank", "text", "single", "multi", "cloze", "heading", "list", "quote", "callout"]
PLAIN += ["math", "tag", "schedule", "end", "fence"]
TRAPS = ["html", "percent", "trap"]  # where the plugin's quirks are (README's table)


@st.composite
def line(draw, traps: bool = True) -> str:
    """One line of a note: anything a Spaced Repetition note holds; with `traps`, also the
    lines where the plugin reads differently on purpose (comments, fences it does not see,
    empty sides, clozes in code)."""
    word = draw(WORDS)
    kind = draw(st.sampled_from(PLAIN + TRAPS if traps else PLAIN))
    if kind == "trap":
        return draw(
            st.sampled_from(
                ["::back", "front::", "??", "+??", "`==code==`", "  ```", "- ```", "```python"]
            )
        )
    if not traps and kind == "fence":
        return draw(st.sampled_from(["```", "~~~"]))
    if kind == "blank":
        return draw(st.sampled_from(["", "", "  "]))
    if kind == "text":
        return word
    if kind == "single":
        return (
            draw(st.sampled_from(["", word]))
            + draw(SEPARATORS)
            + draw(st.sampled_from(["", "back", word]))
            + draw(st.sampled_from(["", "", " <!--SR:!2024-08-16,51,230-->"]))
        )
    if kind == "multi":
        return draw(
            st.sampled_from(["?", "??", " ? ", "+?", "+??", "? x"] if traps else ["?", "+?", " ? "])
        )
    if kind == "cloze":
        return (
            draw(st.sampled_from(["", word + " "]))
            + draw(CLOZES)
            + draw(st.sampled_from(["", " end", " " + draw(CLOZES)]))
        )
    if kind == "heading":
        return draw(st.sampled_from(["#", "##", "###", "######", "#######"])) + " " + word
    if kind == "list":
        return draw(st.sampled_from(["- ", "1. ", "  - ", "* "])) + draw(
            st.sampled_from([word, "?", word + "::b", draw(CLOZES)])
        )
    if kind == "quote":
        return "> " + draw(st.sampled_from([word, "?", word + "::b", draw(CLOZES)]))
    if kind == "callout":
        return draw(st.sampled_from(["> [!note] ", "> [!question]- ", "> [!tip]+ "])) + word
    if kind == "fence":
        return draw(st.sampled_from(["```", "```python", "~~~", "````", "  ```", "- ```"]))
    if kind == "html":
        return draw(
            st.sampled_from(
                ["<!-- note -->", "<!--", "-->", word + " <!-- c -->", " <!-- x -->", "<!-- a::b"]
            )
        )
    if kind == "percent":
        return draw(st.sampled_from(["%% hidden %%", "%%", word + " %% x::y %%", "%% ==c== %%"]))
    if kind == "math":
        return draw(st.sampled_from(["$$", "$$x::y$$", "$a::b$ c", "$$\\frac{a}{b}$$"]))
    if kind == "tag":
        return draw(
            st.sampled_from(["#flashcards", "#flashcards/deck", "#other", "#flashcards " + word])
        )
    if kind == "schedule":
        return draw(
            st.sampled_from(
                ["<!--SR:!2024-08-16,51,230-->", "<!--SR:!2024-08-16,5,250!2024-08-17,6,250-->"]
            )
        )
    return draw(st.sampled_from(["---", "+++", "%", " --- "]))


NOTES = st.tuples(
    st.sampled_from(["---\ntags: [flashcards]\n---\n", "#flashcards\n", "#flashcards\n\n"]),
    st.booleans().flatmap(lambda traps: st.lists(line(traps), max_size=18)),
    st.sampled_from(["", "\n", "\n\n"]),
).map(lambda parts: parts[0] + "\n".join(parts[1]) + parts[2])


@settings(
    max_examples=EXAMPLES or 400,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(note=NOTES, plugin=st.sampled_from(SETTINGS))
def test_generated_notes_give_the_plugins_cards(oracle, note, plugin):
    assert_agrees(oracle, "Deck/Note.md", note, plugin)


# ---------------------------------------------------------------- named cases


@pytest.mark.parametrize(
    "note",
    [
        # The named failure: a heading line right above "?" is the card's front.
        "#flashcards\n\n### Why is the sky blue?\n?\nRayleigh scattering\n"
        "<!--SR:!2024-08-16,5,250-->\n",
        "#flashcards\n# Title\nfront\n?\nback\n",
        "#flashcards\n## Heading\nSome ==cloze== here\n",
        "#flashcards\na::b\nfront\n?\nback\n",
        "#flashcards\nfront\n?\nback\nmore::back\n",
        "#flashcards\n??\nback\n",
    ],
)
def test_named_cases(oracle, note):
    assert_agrees(oracle, "Deck/Note.md", note, {})


def test_a_difference_fails(oracle):
    """The comparison does fail: a card only one side finds, outside every deliberate
    difference, is reported."""
    note = "#flashcards\n\nfront\n?\nback\n\ncat::chat\n"
    assert sroracle.compare(oracle, "Deck/Note.md", note, {})[:2] == ([], [])

    class Changed:
        def parse(self, text, options):
            found = oracle.parse(text, options)
            return [dict(found[0], last=3), found[1]]

    theirs, ours, _ = sroracle.compare(Changed(), "Deck/Note.md", note, {})
    assert theirs == [sroracle.Card("MultiLineBasic", 2, 3)]
    assert ours == [sroracle.Card("MultiLineBasic", 2, 4)]


# ---------------------------------------------------------------- the example vault


def _vault_notes() -> list[tuple[str, str]]:
    notes = []
    for path in sorted(VAULT.rglob("*.md")):
        rel = path.relative_to(VAULT).as_posix()
        text = path.read_text(encoding="utf-8")
        note = NoteText(rel, text)
        tagged = any(t.lower().startswith("flashcards") for t in note.tags) or any(
            name.lower().split("/")[0] == "flashcards"
            for line in note.lines
            for _, _, name in obsidian.line_tags(line)
        )
        if tagged and not rel.startswith("templates/"):
            notes.append((rel, text))
    return notes


def test_every_flashcard_note_of_the_example_vault(oracle):
    plugin = json.loads(
        (VAULT / ".obsidian/plugins/obsidian-spaced-repetition/data.json").read_text()
    )
    notes = _vault_notes()
    assert len(notes) >= 2
    for rel, text in notes:
        assert_agrees(oracle, rel, text, plugin)


def test_every_note_of_the_example_vault_read_as_flashcard_notes(oracle):
    """Every note, read as the plugin reads a vault with `convertFoldersToDecks` on (every note
    is a flashcard note): notes in other syntaxes are good mixed material."""
    plugin = json.loads(
        (VAULT / ".obsidian/plugins/obsidian-spaced-repetition/data.json").read_text()
    )
    plugin["settings"]["convertFoldersToDecks"] = True
    plugin["settings"]["noteFoldersToIgnore"] = []
    paths = sorted(VAULT.rglob("*.md"))
    assert len(paths) >= 15
    for path in paths:
        assert_agrees(oracle, path.relative_to(VAULT).as_posix(), path.read_text("utf-8"), plugin)


def test_the_readme_table_lists_the_deliberate_differences_and_no_other():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    table = readme.split("| the note holds | the plugin | ankigen |\n| --- | --- | --- |\n")[1]
    rows = []
    for row in table.split("\n"):
        if not row.startswith("| "):
            break
        rows.append(row[2:].split(" | ")[0])
    assert rows == [d.name for d in sroracle.DELIBERATE]
