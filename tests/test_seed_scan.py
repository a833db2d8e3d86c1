"""The seed reader scans a card's own lines only as far as it needs (seed.card_code_at): the
cards are the same as with a scan of every line of every card."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen import obsidian
from ankigen.syntax import SyntaxSettings, read_note, seed

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0")) or 300

# Lines that move the scanner (fences, comments, list items at several columns) and lines
# that do not, with indentation and Unicode spaces.
LINE = st.sampled_from(
    [
        "",
        "text",
        "  indented text",
        "\u00a0\u00a0nbsp text",
        "```",
        "```python",
        "~~~",
        "    ```",
        "  ```js",
        "- item",
        "  - nested",
        "1. first",
        "2) second",
        "* star",
        "+ plus",
        "- ```",
        "%% comment %%",
        "open %%",
        "close %%",
        "a `code` span",
        "x = 1  # ~ tilde",
        "#Question what?",
        "Answer: yes",
        "#tag",
        "> quoted",
        "> ```",
    ]
)


def full_scan(texts: list[str], indexes: list[int]) -> list[bool]:
    lines = obsidian.scan(texts).lines
    return [lines[index].code for index in indexes]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(LINE, max_size=14), st.data())
def test_card_code_at_is_the_full_scans_answer(texts: list[str], data: st.DataObject) -> None:
    indexes = sorted(data.draw(st.sets(st.integers(0, max(len(texts) - 1, 0)))))
    indexes = [index for index in indexes if index < len(texts)]
    assert seed.card_code_at(texts, indexes) == full_scan(texts, indexes)


def test_a_line_that_moves_the_scanner_is_scanned() -> None:
    # Each would change what the line below is, were it skipped.
    for above in ("```", "- item", "%% open", "1. item", "~~~"):
        texts = [above, "    ```", "code"]
        assert seed.card_code_at(texts, [1, 2]) == full_scan(texts, [1, 2]), above


@st.composite
def notes(draw: st.DrawFn) -> str:
    body: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        indent = draw(st.sampled_from(["", "", "  ", "- ", "\t"]))
        body.append(indent + "#Question " + draw(st.sampled_from(["What?", "Which", "x"])))
        body.extend(draw(st.lists(LINE, max_size=4)))
        body.append(indent + draw(st.sampled_from(["Answer:", "Answer: now", "**Answer:**"])))
        answer = draw(st.lists(LINE, max_size=8))
        body.extend(indent * draw(st.booleans()) + line for line in answer)
    return "\n".join(body) + "\n"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(notes())
def test_generated_notes_give_the_same_cards_as_with_full_card_scans(text: str) -> None:
    quick = read_note("n.md", text, SyntaxSettings())
    with mock.patch.object(seed, "card_code_at", full_scan):
        slow = read_note("n.md", text, SyntaxSettings())
    assert quick == slow


FIXTURES = Path(__file__).parent / "fixtures"


def test_fixture_notes_give_the_same_cards_as_with_full_card_scans() -> None:
    notes = sorted(FIXTURES.rglob("*.md"))
    assert notes
    for path in notes:
        text = path.read_text(encoding="utf-8")
        quick = read_note(path.name, text, SyntaxSettings())
        with mock.patch.object(seed, "card_code_at", full_scan):
            slow = read_note(path.name, text, SyntaxSettings())
        assert quick == slow, path
