"""One NoteText per note, shared by every reader: its one scan and one frontmatter reading give
each reader what a note of its own would, and read_note reads a note's lines once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen import obsidian
from ankigen.syntax import NoteText, SyntaxSettings, read_note, readers

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
FIXTURES = Path(__file__).parent / "fixtures"
ALL = SyntaxSettings(callout_cards=("question",), callout_cards_reversed=("faq",))

# Lines that move the scan: frontmatter, fences (in lists too), comments, markers, controls,
# and each syntax's markers.
PIECES = [
    "---", "tags: [a]", "tags: [", "#Question q?", "Answer: a", "#UseCase u", "- item",
    "  ```", "```", "```python", "~~~", "x = 1", "%%", "50%% off %%", "`%%`", "", "  - b",
    "\r", "\x00", "\x0b", "\ufeff", "## References", "q::a", "1. one", "> quote", "#flashcards",
    "#card", "?", "==c==", "START", "Basic", "Front: f", "Back: b", "END", "> [!question] t",
    "> [!faq]- f", "> body", "# H", "cards-deck: D", "STARTI [Basic] a :: b ENDI",
]  # fmt: skip


@st.composite
def notes(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.lists(st.sampled_from(PIECES), max_size=3).map("".join), max_size=25))
    return "\n".join(lines)


def _alone(text: str) -> dict[str, object]:
    """Each reader's reading of a note of its own (a fresh NoteText each)."""
    return {
        name: reader.read(NoteText("D/n.md", text), ALL.parsed(name))
        for name, reader in readers().items()
    }


def _shared(text: str) -> dict[str, object]:
    """Each reader's reading of one NoteText, the others having read it first."""
    note = NoteText("D/n.md", text)
    return {name: reader.read(note, ALL.parsed(name)) for name, reader in readers().items()}


@settings(max_examples=EXAMPLES or 300, deadline=None, derandomize=not EXAMPLES)
@given(notes())
def test_a_shared_note_reads_as_a_note_of_its_own(text: str) -> None:
    assert _shared(text) == _alone(text)


def _fixture_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "syntax").rglob("*.md"))]
    return [*texts, "```\nnever closed\n#Question q?\nAnswer: a\n", "---\ntags: [\n---\n```\n"]


def test_the_fixture_notes_read_the_same_shared() -> None:
    texts = _fixture_texts()
    assert len(texts) > 6
    for text in texts:
        assert _shared(text) == _alone(text)
    _, found = read_note("D/n.md", texts[-2], SyntaxSettings())  # the warning, once
    assert len([d for d in found if d.message.startswith("code block never closed")]) == 1


def test_read_note_scans_a_note_once_and_reads_its_frontmatter_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every reader enabled, on notes of every syntax: one scan of the note's body (a seed
    card's own lines may be scanned again to place its fences), one frontmatter reading."""
    counts = {"scan": 0, "frontmatter": 0, "lines": 0}
    body: list[list[str]] = []

    def counted(name: str, original):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            if name != "scan" or args[0] in body:
                counts[name] += 1
            return original(*args, **kwargs)

        return call

    for name in counts:
        monkeypatch.setattr(obsidian, name, counted(name, getattr(obsidian, name)))
    for text in _fixture_texts():
        note = NoteText("D/n.md", text)
        body[:] = [note.lines[note.body_start :]]
        counts.update(scan=0, frontmatter=0, lines=0)
        read_note("D/n.md", text, ALL)
        assert counts == {"scan": 1, "frontmatter": 1, "lines": 1}, text[:80]
