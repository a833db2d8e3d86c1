"""The note's scan, shared by the seed reader and the unclosed-fence warning (NoteText.body_scan),
gives what each of them got from a scan of its own."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen import obsidian
from ankigen.split import split_note
from ankigen.syntax import NoteText, SyntaxSettings, read_note

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
SEED = Path(__file__).parent / "fixtures" / "seed"

# Lines that move the scan: frontmatter, fences (in lists too), comments, markers, controls.
PIECES = [
    "---", "tags: [a]", "tags: [", "#Question q?", "Answer: a", "#UseCase u", "- item",
    "  ```", "```", "```python", "~~~", "x = 1", "%%", "50%% off %%", "`%%`", "", "  - b",
    "\r", "\x00", "\x0b", "\ufeff", "## References", "q::a", "1. one", "> quote",
]  # fmt: skip


@st.composite
def notes(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.lists(st.sampled_from(PIECES), max_size=3).map("".join), max_size=25))
    return "\n".join(lines)


def own_scan(text: str) -> tuple[object, list[object]]:
    """split_note and the unclosed-fence warning, each with a scan of its own (the slow path)."""
    note = NoteText("D/n.md", text)
    lines = note.lines[note.body_start :]
    return split_note("D/n.md", text), [obsidian.scan(lines, first=note.body_start + 1)]


def shared_scan(text: str) -> tuple[object, list[object]]:
    note = NoteText("D/n.md", text)
    return split_note("D/n.md", text, lambda: note.body_scan), [note.body_scan]


@settings(max_examples=EXAMPLES or 300, deadline=None, derandomize=not EXAMPLES)
@given(notes())
def test_a_shared_scan_splits_the_note_as_its_own_scan_does(text: str) -> None:
    assert shared_scan(text) == own_scan(text)


def test_the_fixture_notes_read_the_same_with_the_shared_scan() -> None:
    texts = [path.read_text(encoding="utf-8") for path in sorted(SEED.rglob("*.md"))]
    texts += ["```\nnever closed\n#Question q?\nAnswer: a\n", "---\ntags: [\n---\n```\n"]
    assert len(texts) > 2
    for text in texts:
        assert shared_scan(text) == own_scan(text)
    _, found = read_note("D/n.md", texts[-2], SyntaxSettings())  # the warning, once
    assert len([d for d in found if d.message.startswith("code block never closed")]) == 1
