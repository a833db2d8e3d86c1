"""The Spaced Repetition plugin's own parser (../shared/oracles/spaced-repetition) as an oracle.

One `node sr-parse.mjs` process per test session; notes are streamed through it as JSON lines.
`compare` reads a note with ankigen's reader and with the plugin's parser and returns the
differences that no deliberate, documented difference (`DELIBERATE`) explains.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ankigen import obsidian
from ankigen.records import CLOZE, REVERSED
from ankigen.syntax import NoteText, SyntaxSettings, read_note
from ankigen.syntax.spaced_repetition import PLUGIN_ID, Settings

ORACLE = Path(__file__).resolve().parents[2] / "shared" / "oracles" / "spaced-repetition"
SCRIPT = ORACLE / "sr-parse.mjs"


def unavailable() -> str:
    """Why the oracle cannot run here ("" when it can)."""
    if not SCRIPT.is_file():
        return f"the Spaced Repetition oracle is not beside the clone ({SCRIPT})"
    if shutil.which("node") is None:
        return "node is not installed (.ci/run installs it); the plugin's parser runs on node"
    return ""


class Oracle:
    """A running `node sr-parse.mjs`: one JSON line in, one out."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=ORACLE,
        )

    def parse(self, text: str, options: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"text": text, "options": options}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if isinstance(answer, dict):
            raise AssertionError(f"the plugin's parser failed: {answer}")
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


@dataclass(frozen=True)
class Card:
    """A card as both parsers can say it: its type and its first and last line (from 0)."""

    type: str
    first: int
    last: int


# ---------------------------------------------------------------- the note as both see it


def oracle_text(note: str) -> str:
    """The note for the plugin's parser: its frontmatter lines blanked (the plugin parses the
    text after the frontmatter; blank lines keep the line numbers and start no card)."""
    lines = obsidian.lines(note)
    end = NoteText("x.md", note).body_start
    return "\n".join(["" for _ in lines[:end]] + lines[end:])


def ankigen_cards(rel: str, note: str, plugin: dict[str, Any]) -> tuple[list[Card], list[str]]:
    """The Spaced Repetition reader's cards and its warnings (`file:line: warning: text`)."""
    settings = SyntaxSettings(enabled=("spaced-repetition",), plugins={PLUGIN_ID: plugin})
    parsed, diagnostics = read_note(rel, note, settings)
    cards = []
    for card in parsed.cards:
        if card.note_type == CLOZE:
            kind = "Cloze"
        else:
            shape = "SingleLine" if card.answer_line == card.line else "MultiLine"
            kind = shape + ("Reversed" if card.note_type == REVERSED else "Basic")
        cards.append(Card(kind, card.line - 1, card.end_line - 1))
    return cards, [str(d) for d in diagnostics]


def plugin_options(plugin: dict[str, Any]) -> dict[str, Any]:
    """The parser's options from a data.json, as ankigen reads them (same defaults)."""
    sr = Settings.from_json(plugin, [])
    return {
        "singleLineCardSeparator": sr.single,
        "singleLineReversedCardSeparator": sr.single_reversed,
        "multilineCardSeparator": sr.multi,
        "multilineReversedCardSeparator": sr.multi_reversed,
        "multilineCardEndMarker": sr.end_marker,
        "clozePatterns": [c.source for c in sr.clozes],
    }


# ---------------------------------------------------------------- deliberate differences
#
# Each is a row of the README's table "Where ankigen reads differently from the plugin", and
# they are all in DELIBERATE below. A `lines` filter gets the note's lines, the plugin's cards
# and ankigen's warnings; it returns the lines where its quirk applies. A card found by one
# side only is forgiven when its lines meet those lines, or when they meet a forgiven card of
# the other side (the quirk moved both).


@dataclass(frozen=True)
class Deliberate:
    """A deliberate difference, `name` being the first cell of its row in the README's table:
    either `fix`, which corrects a line-counting slip of the plugin in one of its cards (given
    the card above, already corrected), or `lines`, which names the lines where the plugin's
    quirk applies; neither for a difference in what a card holds, which the oracle does not
    show (it is tested in test_spaced_repetition.py)."""

    name: str
    lines: Callable[[list[str], list[Card], list[str]], set[int]] | None = None
    fix: Callable[[Card, Card | None, list[str]], Card] | None = None


_SR = re.compile(r"<!--SR:.*?-->")


def _html_comment_lines(lines: list[str], _cards: list[Card], _warnings: list[str]) -> set[int]:
    """The plugin skips a line starting with `<!--` and the line after it, or every line after
    it when `-->` is not on that line; it reads other comments as text. ankigen hides the
    comment, wherever it stands, and nothing else."""
    found: set[int] = set()
    for index, line in enumerate(lines):
        if line.startswith("<!--") and not line.startswith("<!--SR:"):
            if "-->" not in line:
                return found | set(range(index, len(lines)))
            found.update((index, index + 1))
        elif "<!--" in _SR.sub("", line) or "-->" in _SR.sub("", line):
            found.add(index)
    inside = False
    for index, written in enumerate(lines):  # lines inside a comment that spans lines
        line = _SR.sub("", written)
        if inside or "<!--" in line:
            found.add(index)
        opened = line.rfind("<!--")
        closed = line.rfind("-->")
        if opened >= 0 and opened > closed:
            inside = True
        elif closed >= 0:
            inside = False
    return found


def _percent_comment_lines(lines: list[str], _cards: list[Card], _warnings: list[str]) -> set[int]:
    """Obsidian hides `%%` comments; the plugin reads cards in them and counts their lines."""
    scan = obsidian.scan(lines, first=0)
    return {line.number for line in scan.lines if line.comment_line or "%%" in line.text}


def _fence_lines(lines: list[str], _cards: list[Card], _warnings: list[str]) -> set[int]:
    """The plugin knows only fences at the start of a line, closed by the first line that
    starts with the same backticks or tildes (or never); Markdown also fences code in lists,
    in quotes and indented by up to three spaces, and closes it by its own rules. The lines of
    fenced code either way, and the fences' lines."""
    found = {line.number for line in obsidian.scan(lines, first=0).lines if line.code}
    index = 0
    while index < len(lines):
        line = lines[index]
        if "```" in line or "~~~" in line:
            found.add(index)
        if line.startswith(("```", "~~~")):
            close = line[: len(line) - len(line.lstrip(line[0]))]
            end = index + 1
            while end < len(lines) and not lines[end].startswith(close):
                end += 1
            found.update(range(index, end + 1))
            index = end + 1
            continue
        index += 1
    return found


def _warned(*reasons: str) -> Callable[[list[str], list[Card], list[str]], set[int]]:
    """The paragraphs where ankigen warned that it made no card, for one of these reasons."""

    def lines_warned(lines: list[str], _cards: list[Card], warnings: list[str]) -> set[int]:
        found: set[int] = set()
        for warning in warnings:
            _, number, rest = warning.split(":", 2)
            if "no card made" not in rest or not any(reason in rest for reason in reasons):
                continue
            start = end = int(number) - 1
            while start > 0 and lines[start - 1].strip():
                start -= 1
            while end + 1 < len(lines) and lines[end + 1].strip():
                end += 1
            found.update(range(start, end + 1))
        return found

    return lines_warned


def _after_single_line(card: Card, above: Card | None, _lines: list[str]) -> Card:
    """The plugin counts a card right below a single-line card, in the same paragraph, from
    that card's line; it starts on the line after the card above."""
    if above is not None and card.first <= above.last:
        return Card(card.type, above.last + 1, card.last)
    return card


def _leading_schedules(card: Card, _above: Card | None, lines: list[str]) -> Card:
    """The plugin counts scheduling comments at the top of a paragraph as its card's first
    lines; ankigen gives them to the card above (below an end marker) or warns."""
    first = card.first
    while first < card.last and lines[first].startswith("<!--SR:"):
        first += 1
    return Card(card.type, first, card.last)


def _open_at_the_end(card: Card, _above: Card | None, lines: list[str]) -> Card:
    """A card still open at the end of the note (an end marker is set): the plugin counts the
    empty lines at the note's end, and the one after its final line break, as its own."""
    last = card.last
    if last == len(lines) - 1:
        while last > card.first and not lines[last].strip():
            last -= 1
    return Card(card.type, card.first, last)


# The README's table "Where ankigen reads differently from the plugin", row for row.
DELIBERATE: tuple[Deliberate, ...] = (
    Deliberate(
        "a card right below a single-line card, in the same paragraph", fix=_after_single_line
    ),
    Deliberate(
        "`<!--SR:…-->` lines at the top of a paragraph that is a card", fix=_leading_schedules
    ),
    Deliberate("a card still open at the note's end (end marker set)", fix=_open_at_the_end),
    # The plugin skips a line starting with "<!--" and the line after it (every line after it
    # when "-->" is not on that line) and reads comments elsewhere as text; ankigen hides the
    # comment, wherever it stands, and nothing else.
    Deliberate("a line starting with `<!--`", _html_comment_lines),
    # Obsidian hides %% comments; the plugin reads cards in them.
    Deliberate("`%% comments %%`", _percent_comment_lines),
    # Fenced code in a list, a quote or indented: the plugin reads cards in it.
    Deliberate(
        "fenced code in a list item, a quote or indented; a fence closed the Markdown way",
        _fence_lines,
    ),
    # A card with an empty side (tags are no text): the plugin shows it; ankigen warns and
    # makes none (Anki refuses an empty front).
    Deliberate(
        "a card with an empty side (`::back`, `??` with nothing above, a front of tags only)",
        _warned("card has an empty front", "card has an empty back", "card holds only tags"),
    ),
    # A cloze inside inline code: the plugin makes a card; ankigen warns, code is code.
    Deliberate("a cloze inside inline code (`` `==x==` ``)", _warned("cloze inside inline code")),
    # Differences in what a card holds, not in which cards there are.
    Deliberate("a card tagged for several decks (`#flashcards/a #flashcards/b`)"),
    Deliberate("overlapping clozes (`==ash;;x==`)"),
)


def normalise(cards: list[Card], lines: list[str]) -> list[Card]:
    """The plugin's cards with its line-counting slips (the `fix` rows) corrected."""
    out: list[Card] = []
    for card in cards:
        for deliberate in DELIBERATE:
            if deliberate.fix is not None:
                card = deliberate.fix(card, out[-1] if out else None, lines)
        out.append(card)
    return out


def compare(
    oracle: Oracle, rel: str, note: str, plugin: dict[str, Any]
) -> tuple[list[Card], list[Card], list[str]]:
    """(plugin-only cards, ankigen-only cards, ankigen's warnings) that no deliberate
    difference explains; both lists empty when the reader agrees with the plugin."""
    text = oracle_text(note)
    lines = text.split("\n")
    found = [
        Card(c["type"], c["first"], c["last"]) for c in oracle.parse(text, plugin_options(plugin))
    ]
    theirs = normalise(found, lines)
    ours, warnings = ankigen_cards(rel, note, plugin)
    only_theirs = [c for c in theirs if c not in ours]
    only_ours = [c for c in ours if c not in theirs]
    if not only_theirs and not only_ours:
        return [], [], warnings
    quirk_lines: set[int] = set()
    for deliberate in DELIBERATE:
        if deliberate.lines is not None:
            quirk_lines |= deliberate.lines(lines, theirs, warnings)

    def meets(card: Card, numbers: set[int]) -> bool:
        return any(n in numbers for n in range(card.first, card.last + 1))

    forgiven: set[int] = set(quirk_lines)
    changed = True
    left_theirs, left_ours = only_theirs, only_ours
    while changed:
        changed = False
        for side in (left_theirs, left_ours):
            for card in side:
                if meets(card, forgiven):
                    span = set(range(card.first, card.last + 1))
                    if not span <= forgiven:
                        forgiven |= span
                        changed = True
        left_theirs = [c for c in only_theirs if not meets(c, forgiven)]
        left_ours = [c for c in only_ours if not meets(c, forgiven)]
    return left_theirs, left_ours, warnings
