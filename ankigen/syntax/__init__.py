"""Flashcard syntaxes: one reader per syntax, one small interface.

A reader gets a note's text (`NoteText`) and the vault's syntax settings (`SyntaxSettings`) and
returns the cards it found (`CardSource`) and its `Diagnostic`s. `read_note` runs every enabled
reader on a note and joins their cards in the order they stand in the note; it is the one call
the build makes per note. Obsidian's own syntax facts (comments, tags, fences, code spans,
frontmatter) are shared by every reader, never re-implemented in one.

Plugin settings are read the way the plugins read them: `.obsidian/plugins/<id>/data.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .. import atomic
from ..model import CardSource, Diagnostic, ParsedNote

if TYPE_CHECKING:
    from .. import obsidian


@dataclass
class NoteText:
    """One note as every reader sees it: its text (BOM removed) and what readers share."""

    rel: str  # vault-relative POSIX path, "Lang/Words.md"
    text: str
    # The note's "References" section, set by the reader that finds it (the seed reader).
    references: str = ""
    references_line: int = 0
    # Diagnostics about the note itself (its frontmatter), reported once by read_note.
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @cached_property
    def lines(self) -> list[str]:
        """The note's lines as an editor counts them (line n is lines[n - 1])."""
        from .. import obsidian  # not imported by a rebuild that reads no note

        return obsidian.lines(self.text)

    @property
    def title(self) -> str:
        """The file name without ".md": Obsidian's note title."""
        name = self.rel.rsplit("/", 1)[-1]
        return name[:-3] if name.lower().endswith(".md") else name

    @property
    def folder(self) -> str:
        """The note's folder, vault-relative ("" for the vault root)."""
        return self.rel.rsplit("/", 1)[0] if "/" in self.rel else ""

    @cached_property
    def frontmatter(self) -> obsidian.Frontmatter:
        from .. import obsidian

        found = obsidian.frontmatter(self.lines)
        if found.problem:
            message = f"frontmatter ignored: {found.problem}"
            self.diagnostics.append(Diagnostic(self.rel, found.problem_line, "warning", message))
        return found

    @property
    def body_start(self) -> int:
        """Index (0-based) of the first line after the frontmatter; 0 when there is none."""
        return self.frontmatter.end

    @cached_property
    def tags(self) -> tuple[str, ...]:
        """The frontmatter's tags, Anki form ("flashcards::lang")."""
        from .. import obsidian

        return obsidian.frontmatter_tags(self.frontmatter.data)


@dataclass(frozen=True)
class SyntaxSettings:
    """Which readers run and each plugin's settings (its data.json), by plugin id."""

    enabled: tuple[str, ...] = ()  # reader names; () = every reader
    plugins: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)

    def is_enabled(self, name: str) -> bool:
        return not self.enabled or name in self.enabled

    def plugin(self, plugin_id: str) -> Mapping[str, Any] | None:
        """The plugin's data.json (a JSON object), or None when the vault has none."""
        return self.plugins.get(plugin_id)

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever the settings would read a note differently (not when a plugin
        only noted its own bookkeeping, which it does at every review or sync)."""
        stable = {
            plugin_id: {k: v for k, v in data.items() if k not in _VOLATILE.get(plugin_id, ())}
            for plugin_id, data in self.plugins.items()
        }
        text = json.dumps([self.enabled, stable], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class CheckedValues:
    """Values read from one object of a plugin's settings: a value of the wrong kind is noted in
    `problems` (one warning each, by the reader) and its default stands."""

    def __init__(self, data: Mapping[str, Any], problems: list[str], prefix: str = "") -> None:
        self.data = data
        self.problems = problems
        self.prefix = prefix  # "Syntax " for Obsidian_to_Anki's nested objects

    def line(self, key: str, default: str, *, empty_ok: bool = False) -> str:
        """A one-line text (stripped); empty only when `empty_ok`."""
        value = self.data.get(key, default)
        if isinstance(value, str) and (value.strip() or empty_ok) and "\n" not in value:
            return value.strip()
        self.problems.append(f"{self.prefix}'{key}' is not a one-line text")
        return default

    def text(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if isinstance(value, str):
            return value.strip()
        self.problems.append(f"{self.prefix}'{key}' is not a text")
        return default

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if isinstance(value, bool):
            return value
        self.problems.append(f"{self.prefix}'{key}' is not true or false")
        return default


def bounded(items: list, limit: int, what: str, problems: list[str]) -> list:
    """The first `limit` items of a settings list; more is no sane setting, and each item costs
    work on every note or line: the rest is left out with one warning (the reader names the
    settings file)."""
    if len(items) <= limit:
        return items
    problems.append(
        f"{what} has {len(items)} entries; only the first {limit} are used, the rest ignored"
    )
    return items[:limit]


MAX_PROBLEMS = 20  # settings warnings repeated with every note: a broken file says only so much


def few(problems: list[str]) -> tuple[str, ...]:
    """A settings file's problems, at most MAX_PROBLEMS of them and a count of the rest."""
    if len(problems) <= MAX_PROBLEMS:
        return tuple(problems)
    rest = len(problems) - MAX_PROBLEMS
    return (*problems[:MAX_PROBLEMS], f"{rest} more problems of this kind not shown")


def tag_matcher(tags: Iterable[str]) -> Callable[[str], bool]:
    """Whether a tag path (lower case) is one of `tags` or below one ("a/b" is below "a"):
    a set lookup per "/" in the path, however many tags the settings list."""
    wanted = frozenset(tags)

    def matches(path: str) -> bool:
        if path in wanted:
            return True
        at = path.find("/")
        while at >= 0:
            if path[:at] in wanted:
                return True
            at = path.find("/", at + 1)
        return False

    return matches


class Reader(Protocol):
    """One flashcard syntax."""

    name: str

    def read(
        self, note: NoteText, settings: SyntaxSettings
    ) -> tuple[list[CardSource], list[Diagnostic]]: ...


_READERS: dict[str, Reader] = {}


def readers() -> dict[str, Reader]:
    """Every reader, by name, in the order they run."""
    if not _READERS:
        from . import flashcards, obsidian_to_anki, seed, spaced_repetition

        found: list[Reader] = [
            seed.READER,
            spaced_repetition.READER,
            obsidian_to_anki.READER,
            flashcards.READER,
        ]
        _READERS.update((reader.name, reader) for reader in found)
    return _READERS


def reader_names() -> tuple[str, ...]:
    """The names `--syntax` accepts."""
    return tuple(readers())


# Keys of a plugin's data.json that the plugin rewrites as it is used and that do not change
# how its cards are read.
_VOLATILE: dict[str, tuple[str, ...]] = {
    "obsidian-spaced-repetition": ("buryDate", "buryList", "historyDeck"),
    # Obsidian_to_Anki writes these after every sync (its data.json keys have spaces).
    "obsidian-to-anki-plugin": ("Added Media", "File Hashes"),
}

# Plugin ids whose data.json is read (the folder name under .obsidian/plugins/).
PLUGIN_IDS = (
    "obsidian-spaced-repetition",
    "obsidian-to-anki-plugin",
    "flashcards-obsidian",
)


_MAX_SETTINGS_BYTES = 16 << 20  # a plugin's data.json; Obsidian_to_Anki's grows with media hashes


def load_syntax_settings(
    vault_root: Path, enabled: Iterable[str] = (), config_dir: str = ".obsidian"
) -> tuple[SyntaxSettings, list[Diagnostic]]:
    """Read each known plugin's data.json; a broken one is a warning naming its path."""
    diagnostics: list[Diagnostic] = []
    plugins: dict[str, dict[str, Any]] = {}
    for plugin_id in PLUGIN_IDS:
        rel = f"{config_dir}/plugins/{plugin_id}/data.json"
        path = vault_root / rel
        if not os.path.lexists(path):
            continue
        try:  # a pipe or folder is refused at once, never waited on
            data = json.loads(atomic.read_regular(path, _MAX_SETTINGS_BYTES).decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
            message = f"plugin settings ignored (the plugin's defaults apply): {error}"
            diagnostics.append(Diagnostic(rel, 1, "warning", message))
            continue
        if not isinstance(data, dict):
            message = "plugin settings ignored (the plugin's defaults apply): not a JSON object"
            diagnostics.append(Diagnostic(rel, 1, "warning", message))
            continue
        plugins[plugin_id] = data
    names = tuple(dict.fromkeys(enabled))
    return SyntaxSettings(enabled=names, plugins=plugins), diagnostics


def _span(card: CardSource) -> tuple[int, int]:
    """The card's first and last line in its note."""
    end = card.end_line
    if not end:
        end = card.answer_line + card.answer.count("\n") if card.answer else card.line
    return card.line, max(card.line, end)


def _outside(found: list[CardSource], cards: list[CardSource], line_count: int) -> list[CardSource]:
    """The cards of `found` that share no line with `cards` (linear in the note's length)."""
    covered = [0] * (line_count + 2)
    for card in cards:
        first, last = _span(card)
        covered[min(first, line_count + 1)] += 1
        covered[min(last + 1, line_count + 1)] -= 1
    running = 0
    inside = [0] * (line_count + 2)  # prefix count of covered lines
    for number in range(1, line_count + 2):
        running += covered[number]
        inside[number] = inside[number - 1] + (running > 0)
    kept = []
    for card in found:
        first, last = _span(card)
        last = min(last, line_count + 1)
        if inside[last] - inside[max(first, 1) - 1] == 0:
            kept.append(card)
    return kept


def read_note(rel: str, text: str, settings: SyntaxSettings) -> tuple[ParsedNote, list[Diagnostic]]:
    """Cards of one note from every enabled reader, in the order they stand in the note."""
    note = NoteText(rel, text)
    cards: list[CardSource] = []
    diagnostics: list[Diagnostic] = []
    for name, reader in readers().items():
        if not settings.is_enabled(name):
            continue
        found, messages = reader.read(note, settings)
        diagnostics.extend(messages)
        if cards and found:
            # A line inside another syntax's card belongs to that card ("a::b" in a #Question
            # card's answer is text): the reader that runs first wins.
            found = _outside(found, cards, len(note.lines))
        cards.extend(found)
    cards.sort(key=lambda card: card.line)  # stable: one reader's cards keep their order
    diagnostics.extend(note.diagnostics)
    parsed = ParsedNote(
        rel=rel,
        title=note.title,
        cards=tuple(cards),
        tags=note.tags,
        references=note.references,
        references_line=note.references_line,
    )
    return parsed, list(dict.fromkeys(diagnostics))
