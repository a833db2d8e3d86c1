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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..records import CardSource, Diagnostic, ParsedNote

if TYPE_CHECKING:
    from .. import obsidian


@dataclass
class NoteText:
    """One note as every reader sees it, built once per note: its cleaned text (no byte-order
    mark, no controls, "\\n" line ends), its lines, frontmatter, one scan of its body (fences,
    code and comment spans), its headings and tags. No reader scans the lines on its own."""

    rel: str  # vault-relative POSIX path, "Lang/Words.md"
    text: str  # cleaned on construction (obsidian.clean_text)
    vault_name: str = ""  # the vault's name, for links into it (obsidian://open?vault=…)
    # The renderer's answer to "does this Markdown show nothing?", handed in by the render
    # stage (reading imports no renderer); None: only text without a word shows nothing.
    shows_nothing: Callable[[str], bool] | None = None
    # The note's "References" section, set by the reader that finds it (the seed reader).
    references: str = ""
    references_line: int = 0
    # Diagnostics about the note itself (its frontmatter), reported once by read_note.
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Each reader's own markup, by reader name: (first line, last line, what it is). No other
    # syntax reads a card there (Obsidian_to_Anki's TARGET DECK and START/END, a #card line).
    markup: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from .. import obsidian  # not imported by a rebuild that reads no note

        self.text = obsidian.clean_text(self.text)

    @cached_property
    def lines(self) -> list[str]:
        """The note's lines as an editor counts them (line n is lines[n - 1])."""
        from .. import obsidian

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
    def body_scan(self) -> obsidian.Scan:
        """The lines after the frontmatter with fences and comments resolved (obsidian.scan),
        scanned once for every reader."""
        from .. import obsidian

        return obsidian.scan(self.lines[self.body_start :], first=self.body_start + 1)

    @cached_property
    def headings(self) -> list[tuple[int, int, str]]:
        """(line, level, plain title) of every heading of the body outside code and comments."""
        from .. import obsidian

        out = []
        for row in self.body_scan.lines:
            if row.code or row.hidden or "#" not in row.visible:
                continue
            found = obsidian.heading(row.visible)
            if found is not None:
                out.append((row.number, found[0], obsidian.plain_text(found[1])))
        return out

    def context_at(self, line: int) -> tuple[str, ...]:
        """The headings standing above `line`, outermost first."""
        from .. import obsidian

        stack = obsidian.Headings()
        for number, level, title in self.headings:
            if number >= line:
                break
            stack.enter(level, title)
        return stack.context()

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
    # Callout cards (--callout-cards / --callout-cards-reversed): callout names, lower case.
    callout_cards: tuple[str, ...] = ()
    callout_cards_reversed: tuple[str, ...] = ()
    vault_name: str = ""  # Obsidian's vault name (the vault folder's), for links into it

    def is_enabled(self, name: str) -> bool:
        return not self.enabled or name in self.enabled

    def plugin(self, plugin_id: str) -> Mapping[str, Any] | None:
        """The plugin's data.json (a JSON object), or None when the vault has none."""
        return self.plugins.get(plugin_id)

    @property
    def options(self) -> Mapping[str, Any]:
        """ankigen's own syntax options: the settings of a reader without a plugin file."""
        return {
            "callout_cards": list(self.callout_cards),
            "callout_cards_reversed": list(self.callout_cards_reversed),
        }

    @cached_property
    def _parsed(self) -> tuple[dict[str, Any], tuple[Diagnostic, ...]]:
        """Each reader's typed settings, checked once (per build and worker), and the warnings
        about the enabled ones (a disabled plugin's DELETE marks are still read)."""
        parsed: dict[str, Any] = {}
        problems: list[Diagnostic] = []
        for name, reader in readers().items():
            found: list[str] = []
            data = self.plugin(reader.plugin_id) if reader.plugin_id else self.options
            parsed[name] = reader.settings.from_json(data, found)
            if self.is_enabled(name):
                path = f".obsidian/plugins/{reader.plugin_id}/data.json"
                problems.extend(Diagnostic(path, 1, "warning", p) for p in few(found))
        return parsed, tuple(problems)

    def parsed(self, name: str) -> Any:
        """The typed settings of the reader `name` (its Settings.from_json)."""
        return self._parsed[0][name]

    @property
    def problems(self) -> tuple[Diagnostic, ...]:
        """Warnings about the enabled readers' settings files: the build reports them once."""
        return self._parsed[1]

    def __getstate__(self) -> dict[str, Any]:
        # The parsed settings hold compiled matchers: a worker parses them again, once.
        return {k: v for k, v in self.__dict__.items() if k != "_parsed"}

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever the settings would read a note differently (not when a plugin
        only noted its own bookkeeping, which it does at every review or sync)."""
        stable = {
            plugin_id: {k: v for k, v in data.items() if k not in _volatile().get(plugin_id, ())}
            for plugin_id, data in self.plugins.items()
        }
        callouts = [self.callout_cards, self.callout_cards_reversed]
        shown = [self.enabled, stable, *([callouts] if any(callouts) else [])]
        if self.vault_name and _links_vault(self.plugins):
            shown.append(self.vault_name)
        text = json.dumps(shown, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _links_vault(plugins: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a plugin's settings put the vault's name on cards (Obsidian_to_Anki's links)."""
    data = plugins.get("obsidian-to-anki-plugin") or {}
    raw = data.get("settings") if isinstance(data, Mapping) else None
    defaults = raw.get("Defaults") if isinstance(raw, Mapping) else None
    return isinstance(defaults, Mapping) and defaults.get("Add File Link") is True


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

    def texts(self, key: str, default: list[str] | None = None) -> list[str]:
        """A list of texts; the default ([] unless given) when it is anything else."""
        fallback = [] if default is None else default
        value = self.data.get(key, fallback)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        self.problems.append(f"{self.prefix}'{key}' is not a list of texts")
        return fallback

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


class ReaderModule(Protocol):
    """What one syntax's module declares (see callouts.py for a small one)."""

    NAME: str  # what --syntax takes
    LABEL: str  # how warnings name the syntax ("Obsidian_to_Anki card not made: …")
    PRIORITY: int  # the overlap order: a line is read by the syntax of the lowest number
    IMPLICIT: bool  # its cards read over another syntax's lines go without a warning
    PLUGIN_ID: str | None  # its plugin's folder under .obsidian/plugins/, None: no settings file

    @property
    def Settings(self) -> type[Any]: ...

    def read(self, note: NoteText, settings: Any) -> tuple[list[CardSource], list[Diagnostic]]: ...


@dataclass(frozen=True)
class Reader:
    """One syntax, as its module declares it."""

    name: str
    label: str
    priority: int
    implicit: bool
    plugin_id: str | None
    settings: Any  # the Settings class: Settings.from_json(data, problems)
    read: Callable[[NoteText, Any], tuple[list[CardSource], list[Diagnostic]]]
    volatile: tuple[str, ...] = ()  # data.json keys the plugin rewrites as it is used

    @classmethod
    def of(cls, module: Any) -> Reader:
        return cls(
            module.NAME,
            module.LABEL,
            module.PRIORITY,
            module.IMPLICIT,
            module.PLUGIN_ID,
            module.Settings,
            module.read,
            tuple(getattr(module, "VOLATILE", ())),
        )


# The syntaxes, one line each, in the order they read a note (a reader may leave markup on
# the note that a later one respects). Adding a syntax: its module, and its line here. The
# line repeats the module's PLUGIN_ID and VOLATILE keys: a build reads and fingerprints the
# settings files before any note, and a build with nothing to read imports no reader.
_MODULES: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("seed", None, ()),
    ("callouts", None, ()),
    ("spaced_repetition", "obsidian-spaced-repetition", ("buryDate", "buryList", "historyDeck")),
    ("obsidian_to_anki", "obsidian-to-anki-plugin", ("Added Media", "File Hashes")),
    ("flashcards", "flashcards-obsidian", ()),
)

_READERS: dict[str, Reader] = {}
_EXTRA: list[Reader] = []  # registered by register() beyond _MODULES


def readers() -> dict[str, Reader]:
    """Every reader, by name, in the order they run."""
    if not _READERS:
        import importlib

        for module, _, _ in _MODULES:
            reader = Reader.of(importlib.import_module(f"{__name__}.{module}"))
            _READERS[reader.name] = reader
        _READERS.update((reader.name, reader) for reader in _EXTRA)
    return _READERS


def register(module: Any) -> Reader:
    """Add a syntax from its module's declarations (a syntax of ankigen's own is a line of
    _MODULES instead)."""
    reader = Reader.of(module)
    _EXTRA.append(reader)
    if _READERS:
        _READERS[reader.name] = reader
    return reader


def unregister(name: str) -> None:
    """Take back a syntax added by register()."""
    _EXTRA[:] = [reader for reader in _EXTRA if reader.name != name]
    _READERS.pop(name, None)


def reader_names() -> tuple[str, ...]:
    """The names `--syntax` accepts."""
    return tuple(readers())


def priority() -> tuple[str, ...]:
    """The overlap order: the syntax first here reads a line that several would."""
    return tuple(sorted(readers(), key=lambda name: readers()[name].priority))


def _declared() -> list[tuple[str, tuple[str, ...]]]:
    """(plugin id, volatile keys) of every syntax with a settings file, no module imported."""
    found = [(plugin_id, volatile) for _, plugin_id, volatile in _MODULES if plugin_id]
    return found + [(r.plugin_id, r.volatile) for r in _EXTRA if r.plugin_id]


def _volatile() -> dict[str, tuple[str, ...]]:
    return {plugin_id: volatile for plugin_id, volatile in _declared() if volatile}


def plugin_ids() -> tuple[str, ...]:
    """Plugin ids whose data.json is read (the folder name under .obsidian/plugins/)."""
    return tuple(dict.fromkeys(plugin_id for plugin_id, _ in _declared()))


def load_syntax_settings(
    vault_root: Path,
    enabled: Iterable[str] = (),
    config_dir: str = ".obsidian",
    callout_cards: Iterable[str] = (),
    callout_cards_reversed: Iterable[str] = (),
) -> tuple[SyntaxSettings, list[Diagnostic]]:
    """Read each known plugin's data.json; a broken one is a warning naming its path."""
    from .. import obsidian

    diagnostics: list[Diagnostic] = []
    plugins: dict[str, dict[str, Any]] = {}
    for plugin_id in plugin_ids():
        rel = f"{config_dir}/plugins/{plugin_id}/data.json"
        path = vault_root / rel
        try:
            plugins[plugin_id] = obsidian.read_settings(path)
        except FileNotFoundError:
            continue
        except obsidian.SettingsError as error:
            message = f"plugin settings ignored (the plugin's defaults apply): {error}"
            diagnostics.append(Diagnostic(rel, 1, "warning", message))
    names = tuple(dict.fromkeys(enabled))
    settings = SyntaxSettings(
        enabled=names,
        plugins=plugins,
        callout_cards=tuple(dict.fromkeys(n.lower() for n in callout_cards)),
        callout_cards_reversed=tuple(dict.fromkeys(n.lower() for n in callout_cards_reversed)),
        vault_name=vault_root.resolve().name,
    )
    return settings, diagnostics


def _span(card: CardSource) -> tuple[int, int]:
    """The card's first and last line in its note."""
    end = card.end_line
    if not end:
        end = card.answer_line + card.answer.count("\n") if card.answer else card.line
    return card.line, max(card.line, end)


# When one note is written in several syntaxes and their cards share a line, the card of the
# syntax first in priority() is made: explicit markers (#Question, START/END, #card) before the
# Spaced Repetition plugin's separators (`::`, `?`, `==`), which are ordinary text in code and
# prose. A card of an IMPLICIT syntax read over another syntax's card or markup is not what its
# author wrote (`std::cout` in an Obsidian_to_Anki back): it goes without a warning (README rule).


def _resolve(
    note: NoteText, found: dict[str, list[CardSource]], diagnostics: list[Diagnostic]
) -> list[CardSource]:
    """One syntax's reading of each line: a card touching another syntax's markup, or a line
    of a card of a syntax before it in PRIORITY, is not made (with a `file:line` warning,
    but for the Spaced Repetition plugin's cards, which are text there by rule)."""
    if _one_syntax(note, found):
        return next(cards for cards in found.values() if cards)  # one syntax: nothing to decide
    last_line = len(note.lines) + 1
    held = _held_by_markup(note, found, last_line)  # line → (syntax, what holds it)
    kept: list[CardSource] = []
    order = [name for name in priority() if name in found]
    order += [name for name in found if name not in order]
    for name in order:
        claimed: dict[int, tuple[str, str]] = {}
        for card in found[name]:
            first, last = _span(card)
            lines = range(max(first, 1), min(last, last_line) + 1)
            clash = next((n for n in lines if n in held and held[n][0] != name), None)
            if clash is not None:
                _warn_clash(note, name, card, clash, held, diagnostics)
                continue
            kept.append(card)
            what = f"in the {readers()[name].label} card at line {card.line}"
            for number in lines:
                claimed.setdefault(number, (name, what))
        for number, holder in claimed.items():
            held.setdefault(number, holder)
    return kept


def _one_syntax(note: NoteText, found: dict[str, list[CardSource]]) -> bool:
    """Whether one syntax made cards and no other left markup in the note."""
    return sum(bool(cards) for cards in found.values()) == 1 and not any(
        marks for name, marks in note.markup.items() if not found.get(name)
    )


def _held_by_markup(
    note: NoteText, found: dict[str, list[CardSource]], last_line: int
) -> dict[int, tuple[str, str]]:
    """The lines held by the markup of the syntaxes read: line → (syntax, what holds it)."""
    held: dict[int, tuple[str, str]] = {}
    for name, marks in note.markup.items():
        if name in found:
            for first, last, what in marks:
                for number in range(max(first, 1), min(last, last_line) + 1):
                    held.setdefault(number, (name, what))
    return held


def _warn_clash(
    note: NoteText,
    name: str,
    card: CardSource,
    clash: int,
    held: dict[int, tuple[str, str]],
    diagnostics: list[Diagnostic],
) -> None:
    """The warning for a card of syntax `name` left out because line `clash` is held."""
    if not readers()[name].implicit:
        label = readers()[name].label
        message = (
            f"{label} card not made: line {clash} is {held[clash][1]}, and one "
            f"line is read by one syntax only (see the README's order)"
        )
        diagnostics.append(Diagnostic(note.rel, card.line, "warning", message))
    elif card.line not in held:
        # It starts in plain text and runs into another syntax's card: an end
        # marker missing, most likely, and not text of that card.
        message = (
            f"card runs to line {_span(card)[1]}, over another syntax's card; left out "
            "(does it end where you meant?)"
        )
        diagnostics.append(Diagnostic(note.rel, card.line, "warning", message))


def read_note(
    rel: str,
    text: str,
    settings: SyntaxSettings,
    shows_nothing: Callable[[str], bool] | None = None,
) -> tuple[ParsedNote, list[Diagnostic]]:
    """Cards of one note from every enabled reader, in the order they stand in the note.
    `shows_nothing` is the renderer's answer for an answer without a word (the render stage
    hands it in). Settings warnings are not here: the build reports `settings.problems` once."""
    note = NoteText(rel, text, settings.vault_name, shows_nothing)
    found: dict[str, list[CardSource]] = {}
    diagnostics: list[Diagnostic] = []
    for name, reader in readers().items():
        if not settings.is_enabled(name):
            continue
        found[name], messages = reader.read(note, settings.parsed(name))
        diagnostics.extend(messages)
    cards = _resolve(note, found, diagnostics) if any(found.values()) else []
    cards.sort(key=lambda card: card.line)  # stable: one reader's cards keep their order
    diagnostics.extend(note.diagnostics)
    diagnostics.extend(_hidden_rest(note))
    diagnostics.extend(_limited(note, cards))
    parsed = ParsedNote(
        rel=rel,
        title=note.title,
        cards=tuple(cards),
        tags=note.tags,
        references=note.references,
        references_line=note.references_line,
    )
    return parsed, list(dict.fromkeys(diagnostics))


def _limited(note: NoteText, cards: list[CardSource]) -> list[Diagnostic]:
    """The renderer's limits (mdlimits), warned at their lines for every card of every reader
    and for the References section: the renderer simplifies such text."""
    from ..mdlimits import limit_markdown

    found: list[Diagnostic] = []
    parts = [
        (text, first)
        for card in cards
        for text, first in ((card.question, card.question_line or card.line),
                            (card.answer, card.answer_line or card.line))
    ]  # fmt: skip
    if cards and note.references:
        parts.append((note.references, note.references_line))
    for text, first in parts:
        for offset, message in limit_markdown(text)[1]:
            found.append(Diagnostic(note.rel, first + offset, "warning", message))
    return found


def _hidden_rest(note: NoteText) -> list[Diagnostic]:
    """A fence never closed makes the rest of the note code, in Obsidian and for every reader:
    one warning, whatever the syntax of the cards it hides (a %% comment never closed is
    warned by the seed reader, which reads every note)."""
    if "```" not in note.text and "~~~" not in note.text:
        return []
    scan = note.body_scan
    if not scan.unclosed_fence:
        return []
    message = "code block never closed: the rest of the note is code and makes no cards"
    return [Diagnostic(note.rel, scan.unclosed_fence, "warning", message)]
