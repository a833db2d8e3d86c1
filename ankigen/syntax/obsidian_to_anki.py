"""The Obsidian_to_Anki plugin's syntax (Pseudonium/Obsidian_to_Anki).

Block notes::

    START
    Basic
    Front: the front, on one or more lines
    Back: the back
    Tags: tag1 tag2
    <!--ID: 1700000000000-->
    END

inline notes ``STARTI [Basic] front Back: back ENDI``, regex notes (``CUSTOM_REGEXPS``: a note
type's regular expression, its groups the fields, its JavaScript flavour translated by
jsregex.py and every search bounded in time), ``TARGET DECK`` and ``FILE TAGS`` lines, ``DELETE``
above an ID line, ``FROZEN - Type:`` blocks (text appended to every note of that type in the
file), and the plugin's settings (its ``data.json``: the markers, default deck and tag, folder
decks and tags, ignored file globs, CurlyCloze, highlights to clozes, "Add File Link" and "Add
Context", the field names of each note type). The plugin's own parser is the reference; where we
read differently it is said here and in the README: markers inside fenced code, ``%%`` comments
or inline code are text, not notes.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from .. import obsidian
from ..records import CLOZE, QUESTION, REVERSED, CardSource, Diagnostic
from . import CheckedValues, NoteText, SyntaxSettings, bounded, few
from .cloze import anki_clozes_to_marks

NAME = "obsidian-to-anki"
LABEL = "Obsidian_to_Anki"
PRIORITY = 2  # explicit markers (START/END, its own note lines)
IMPLICIT = False
PLUGIN_ID = "obsidian-to-anki-plugin"
SETTINGS_FILE = f".obsidian/plugins/{PLUGIN_ID}/data.json"
VOLATILE = ("Added Media", "File Hashes")  # written after every sync (its keys have spaces)
_LABEL = LABEL

# Anki's stock note types (English names, as AnkiConnect reports them): fields, our note type.
STOCK: dict[str, tuple[tuple[str, ...], str]] = {
    "Basic": (("Front", "Back"), QUESTION),
    "Basic (and reversed card)": (("Front", "Back"), REVERSED),
    "Basic (optional reversed card)": (("Front", "Back", "Add Reverse"), QUESTION),
    "Basic (type in the answer)": (("Front", "Back"), QUESTION),
    "Cloze": (("Text", "Back Extra"), CLOZE),
}
_OPTIONAL_REVERSE = "Basic (optional reversed card)"
MAX_FIELDS = 100  # field names of one note type in fields_dict: more is no sane setting

# "<!--ID: 123-->" (or "ID: 123", when the plugin's ID Comments option is off).
_ID = re.compile(r"(?:<!--)?ID: (\d{1,18})(?:-->)?")
_TAGS_PREFIX = "Tags: "
# "Front:" at a line's start; "https://…" is a link, not a field.
_FIELD_NAME = re.compile(r"([^\s:][^:\n]{0,60}):(?!//)")


@dataclass(frozen=True)
class OtaSettings:
    """The plugin's settings that change how a note is read (its defaults without data.json)."""

    begin: str = "START"
    end: str = "END"
    begin_inline: str = "STARTI"
    end_inline: str = "ENDI"
    deck_line: str = "TARGET DECK"
    tags_line: str = "FILE TAGS"
    delete_line: str = "DELETE"
    deck: str = "Default"
    tag: str = "Obsidian_to_Anki"
    curly_cloze: bool = False
    highlights_to_cloze: bool = False
    obsidian_tags: bool = False
    scan_directory: str = ""
    folder_decks: Mapping[str, str] = field(default_factory=dict)
    folder_tags: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # fields_dict
    frozen_line: str = "FROZEN"
    ignored_globs: tuple[str, ...] = ("**/*.excalidraw.md",)
    add_file_link: bool = False
    add_context: bool = False
    file_link_fields: Mapping[str, str] = field(default_factory=dict)
    context_fields: Mapping[str, str] = field(default_factory=dict)
    regexps: tuple[RegexNoteType, ...] = ()  # CUSTOM_REGEXPS that could be read, in order
    problems: tuple[str, ...] = ()  # settings ignored, for one warning each


@dataclass(frozen=True)
class RegexNoteType:
    """One entry of CUSTOM_REGEXPS: a note type, its fields and its four searches (the
    regex with "Tags: …" and an ID after it, with an ID, with tags, alone: the plugin's order)."""

    note_type: str
    names: tuple[str, ...]  # its fields, one per group
    groups: int
    searches: tuple[tuple[Any, bool, bool], ...]  # (compiled pattern, has tags, has id)


def ota_settings(data: Mapping[str, Any] | None, said: list[str] | None = None) -> OtaSettings:
    """The settings from the plugin's data.json (its `settings` and `fields_dict`), checked;
    what is wrong with them is appended to `said` too."""
    if data is None:
        return OtaSettings()
    problems: list[str] = said if said is not None else []
    raw = data.get("settings", {})
    if not isinstance(raw, dict):
        problems.append("'settings' is not an object")
        raw = {}
    syntax = _object(raw, "Syntax", problems)
    defaults = _object(raw, "Defaults", problems)
    base = OtaSettings()

    marker = CheckedValues(syntax, problems, "Syntax ").line
    defaults_ = CheckedValues(defaults, problems, "Defaults ")
    flag, text = defaults_.flag, defaults_.text

    fields: dict[str, tuple[str, ...]] = {}
    raw_fields = data.get("fields_dict", {})
    if isinstance(raw_fields, dict):
        for name, names in raw_fields.items():
            if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
                # Each field name is tried on every line of a note of that type.
                fields[str(name)] = tuple(
                    bounded(names, MAX_FIELDS, f"fields_dict '{name}'", problems)
                )
            else:
                problems.append(f"fields_dict '{name}' is not a list of field names")
    else:
        problems.append("'fields_dict' is not an object")
    regexps = _regexps(_object(raw, "CUSTOM_REGEXPS", problems), fields, problems)
    return OtaSettings(
        begin=marker("Begin Note", base.begin),
        end=marker("End Note", base.end),
        begin_inline=marker("Begin Inline Note", base.begin_inline),
        end_inline=marker("End Inline Note", base.end_inline),
        deck_line=marker("Target Deck Line", base.deck_line),
        tags_line=marker("File Tags Line", base.tags_line),
        delete_line=marker("Delete Note Line", base.delete_line),
        deck=text("Deck", base.deck) or base.deck,
        tag=text("Tag", base.tag),
        curly_cloze=flag("CurlyCloze", base.curly_cloze),
        highlights_to_cloze=flag("CurlyCloze - Highlights to Clozes", base.highlights_to_cloze),
        obsidian_tags=flag("Add Obsidian Tags", base.obsidian_tags),
        scan_directory=text("Scan Directory", "").strip("/"),
        folder_decks=_text_table(raw, "FOLDER_DECKS", problems),
        folder_tags=_text_table(raw, "FOLDER_TAGS", problems),
        fields=fields,
        frozen_line=marker("Frozen Fields Line", base.frozen_line),
        ignored_globs=_globs(raw, problems),
        add_file_link=flag("Add File Link", base.add_file_link),
        add_context=flag("Add Context", base.add_context),
        file_link_fields=_text_table(raw, "FILE_LINK_FIELDS", problems),
        context_fields=_text_table(raw, "CONTEXT_FIELDS", problems),
        regexps=regexps,
        problems=few(problems),
    )


class Settings(OtaSettings):
    """The plugin's settings (OtaSettings), as every reader's settings are made."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, problems: list[str]) -> OtaSettings:
        return ota_settings(data, problems)


def _globs(raw: dict, problems: list[str]) -> tuple[str, ...]:
    """IGNORED_FILE_GLOBS: a list of glob patterns (the plugin's default without the key)."""
    value = raw.get("IGNORED_FILE_GLOBS", list(OtaSettings.ignored_globs))
    if not isinstance(value, list):
        problems.append("'IGNORED_FILE_GLOBS' is not a list of globs; none is used")
        return ()
    kept = [g for g in value if isinstance(g, str) and g.strip()]
    if len(kept) != len(value):
        problems.append("IGNORED_FILE_GLOBS: an entry that is not a glob is left out")
    return tuple(g.strip() for g in kept)


def _regexps(
    table: dict, fields: Mapping[str, tuple[str, ...]], problems: list[str]
) -> tuple[RegexNoteType, ...]:
    """CUSTOM_REGEXPS compiled (the plugin's JavaScript regexes translated); each one that
    cannot be read is a problem, and the others still work."""
    from .jsregex import Refused, compile_js

    found = []
    for note_type, source in table.items():
        if not isinstance(source, str):
            problems.append(f"CUSTOM_REGEXPS '{note_type}' is not a text")
            continue
        if not source:
            continue  # the plugin's way of saying "no regex for this note type"
        names = fields.get(note_type) or STOCK.get(note_type, ((), ""))[0]
        where = f"CUSTOM_REGEXPS '{note_type}'"
        if not names:
            problems.append(
                f"{where}: the note type's fields are unknown (not one of Anki's stock note "
                "types, not in fields_dict); its regex notes are not read"
            )
            continue
        try:
            searches = tuple(
                (compile_js(source + suffix), tags, id_)
                for suffix, tags, id_ in (
                    (_TAG_SUFFIX + _ID_SUFFIX, True, True),
                    (_ID_SUFFIX, False, True),
                    (_TAG_SUFFIX, True, False),
                    ("", False, False),
                )
            )
        except Refused as error:
            problems.append(f"{where}: {error}; its regex notes are not read")
            continue
        groups = searches[-1][0].groups
        if groups > len(names):
            problems.append(
                f"{where}: {groups} groups but the note type has {len(names)} fields "
                f"({', '.join(names)}); its regex notes are not read"
            )
            continue
        if not groups:
            problems.append(f"{where}: no group (one per field); its regex notes are not read")
            continue
        found.append(RegexNoteType(str(note_type), names, groups, searches))
    return tuple(found)


# The plugin appends these (JavaScript) to a user's regex: "Tags: …" and the ID it wrote.
_TAG_SUFFIX = r"(Tags: .*)"
_ID_SUFFIX = r"\n?(?:<!--)?(?:ID: (\d+).*)"


def _object(raw: dict, key: str, problems: list[str]) -> dict:
    value = raw.get(key, {})
    if isinstance(value, dict):
        return value
    problems.append(f"'{key}' is not an object")
    return {}


def _text_table(raw: dict, key: str, problems: list[str]) -> dict[str, str]:
    table = _object(raw, key, problems)
    out = {}
    for name, value in table.items():
        if isinstance(value, str):
            out[str(name).strip("/")] = value.strip()
        else:
            problems.append(f"{key} '{name}' is not a text")
    return out


# ---------------------------------------------------------------- reading a note


@dataclass
class _Block:
    """A START/END note being read: (line number, text) pairs between the markers."""

    start: int
    lines: list[tuple[int, str]] = field(default_factory=list)


def read(note: NoteText, ota: OtaSettings) -> tuple[list[CardSource], list[Diagnostic]]:
    """The plugin's notes (START/END blocks, inline notes, its regexps) as cards."""
    diagnostics: list[Diagnostic] = []
    text = note.text
    notes_here = ota.begin in text or ota.begin_inline in text or bool(ota.regexps)
    # No note of the plugin here, but its TARGET DECK / FILE TAGS lines: no other syntax
    # reads them as cards ("Code::C++" below a bare TARGET DECK line).
    lines_only = not notes_here and (ota.deck_line in text or ota.tags_line in text)
    if not (notes_here or lines_only) or not _scanned(note.rel, ota):
        return [], diagnostics
    marks: list[tuple[int, int, str]] = []
    if lines_only:
        _read(note, ota, [], [], regex=False, marks=marks)
        note.markup[NAME] = marks
        return [], diagnostics
    cards = _read(note, ota, diagnostics, [], marks=marks)
    note.markup[NAME] = marks  # lines no other syntax may read as a card
    return cards, diagnostics


def deletions(note: NoteText, settings: SyntaxSettings) -> list[tuple[int, int]]:
    """(line, Anki note id) of every note the plugin's `DELETE` mark asks to delete."""
    ota = settings.parsed(NAME)
    if ota.delete_line not in note.text or not _scanned(note.rel, ota):
        return []
    found: list[tuple[int, int]] = []
    _read(note, ota, [], found, regex=False)
    return found


def _scanned(rel: str, ota: OtaSettings) -> bool:
    """Whether the plugin reads this note: inside its Scan Directory, not an ignored file."""
    if ota.scan_directory and not (rel + "/").startswith(ota.scan_directory + "/"):
        return False
    return not ignored(rel, ota.ignored_globs)


# ---------------------------------------------------------------- IGNORED_FILE_GLOBS


def ignored(rel: str, globs: tuple[str, ...]) -> bool:
    """Whether the plugin's IGNORED_FILE_GLOBS leave this vault path out: each glob in turn
    adds the paths it matches, a "!glob" takes them back (multimatch's rule); minimatch's
    globs: "*" and "?" within one folder name, "**" any number of folders, "{a,b}" either,
    and no wildcard matches a name starting with "." unless the glob's name does."""
    out = False
    for glob in globs:
        negated = glob.startswith("!")
        if out == (not negated):
            continue  # this glob cannot change the answer
        if any(_glob_match(p, rel) for p in _braces(glob[1:] if negated else glob)):
            out = not negated
    return out


def _braces(glob: str, limit: int = 64) -> list[str]:
    """ "a/{b,c}.md" → ["a/b.md", "a/c.md"] (at most `limit` globs)."""
    found = [glob]
    done: list[str] = []
    while found and len(done) + len(found) <= limit:
        current = found.pop()
        match = re.search(r"\{([^{}]*,[^{}]*)\}", current)
        if match is None:
            done.append(current)
            continue
        for choice in match.group(1).split(","):
            found.append(current[: match.start()] + choice + current[match.end() :])
    return done + found


def _glob_match(glob: str, rel: str) -> bool:
    """One glob against one path, folder name by folder name (no backtracking blow-up)."""
    parts = rel.split("/")
    pattern = [p for p in glob.strip("/").split("/") if p]
    if not pattern:
        return False
    # reach[j]: the first j path names can be matched by the glob's names seen so far.
    reach = [True] + [False] * len(parts)
    for piece in pattern:
        new = [False] * (len(parts) + 1)
        if piece == "**":
            for j in range(len(parts) + 1):
                new[j] = reach[j] or (j > 0 and new[j - 1] and not parts[j - 1].startswith("."))
        else:
            for j in range(1, len(parts) + 1):
                new[j] = reach[j - 1] and _name_match(piece, parts[j - 1])
        reach = new
    return reach[-1]


def _name_match(piece: str, name: str) -> bool:
    if name.startswith(".") and not piece.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, piece.replace("[^", "[!"))


@dataclass
class _File:
    """What every card of one note shares: frozen fields, the link back, the context."""

    rel: str
    frozen: dict[str, dict[str, str]]  # note type → field → Markdown appended
    link: str  # "Add File Link": the obsidian:// address of the note, or ""
    context: bool  # "Add Context"


def _read(
    note: NoteText,
    ota: OtaSettings,
    diagnostics: list[Diagnostic],
    deleted: list[tuple[int, int]],
    *,
    regex: bool = True,
    marks: list[tuple[int, int, str]] | None = None,
) -> list[CardSource]:
    """The note's cards; its diagnostics, `DELETE` marks (line, note id) and, when `marks` is
    given, the plugin's markup (first line, last line, what it is) are appended."""
    reading = _Reading(note, ota, diagnostics, deleted, [] if marks is None else marks)
    for line in reading.scan.lines:
        if reading.block is not None:
            reading.in_block(line, reading.block)
        elif not (line.code or line.hidden):
            reading.outside(line)
    reading.unended()
    cards = reading.cards
    if ota.regexps and regex:
        regex_cards = _regex_cards(
            note, reading.scan, ota, reading.deck, reading.base_tags, reading.file, diagnostics
        )
        cards = sorted([*cards, *regex_cards], key=lambda card: card.line)
    return cards


class _Reading:
    """The plugin's reading of one note, line by line: START/END blocks, inline notes, DELETE
    marks, its deck and tags lines, the headings above (for Add Context)."""

    def __init__(
        self,
        note: NoteText,
        ota: OtaSettings,
        diagnostics: list[Diagnostic],
        deleted: list[tuple[int, int]],
        marks: list[tuple[int, int, str]],
    ) -> None:
        self.note, self.ota, self.diagnostics = note, ota, diagnostics
        self.deleted, self.marks = deleted, marks
        self.scan = scan = note.body_scan
        deck, file_tags = _file_deck_and_tags(scan, ota)
        self.deck = deck or _folder_deck(note.folder, ota)
        self.base_tags = [
            *_folder_tags(note.folder, ota),
            *([ota.tag] if ota.tag else []),
            *file_tags,
        ]
        frozen = (
            _frozen_fields(note, scan, ota, diagnostics) if ota.frozen_line in note.text else {}
        )
        self.file = _File(note.rel, frozen, _file_link(note) if ota.add_file_link else "",
                          ota.add_context)  # fmt: skip
        self.cards: list[CardSource] = []
        self.headings = obsidian.Headings()
        self.block: _Block | None = None
        self.fence = ""  # a fence opened inside a block: its END is text

    def in_block(self, line: obsidian.Line, block: _Block) -> None:
        """A line after START: the note's text, its END, or a START that ends a START."""
        ota, text = self.ota, line.text
        if self.fence:
            self.fence = "" if obsidian.fence_closes(text, self.fence) else self.fence
        elif text.strip() == ota.end:
            self.marks.append(
                (block.start, line.number, f"in the {_LABEL} note at line {block.start}")
            )
            card = _block_card(
                self.note, block, ota, self.deck, self.base_tags, self.headings.stack,
                self.diagnostics, self.deleted, self.file,
            )  # fmt: skip
            if card is not None:
                self.cards.append(card)
            self.block = None
            return
        elif text.strip() == ota.begin and line.visible.strip() == ota.begin:
            # A second START: the first has no END (the plugin would read both as one
            # note, its type line being the first line after the first START).
            message = (
                f"'{ota.begin}' without '{ota.end}' before the '{ota.begin}' at line "
                f"{line.number}: no card read from here to there"
            )
            self.diagnostics.append(Diagnostic(self.note.rel, block.start, "warning", message))
            self.block = _Block(line.number)
            return
        else:
            self.fence = obsidian.fence_open(text) or ""
        block.lines.append((line.number, text))

    def outside(self, line: obsidian.Line) -> None:
        """A line outside a block, code and comments."""
        ota, visible = self.ota, line.visible
        if visible.lstrip().startswith(ota.delete_line) and self._delete_mark(line):
            return
        for marker in (ota.deck_line, ota.tags_line):
            bare = visible.rstrip() == marker
            if bare or visible.startswith(marker + ": "):
                self.marks.append((line.number, line.number + bare, f"{_LABEL}'s {marker} line"))
        if visible.strip() == ota.begin and line.text.strip() == ota.begin:
            self.block = _Block(line.number)
            self.fence = ""
            return
        found = obsidian.heading(visible)
        if found is not None:
            self.headings.push(*found)
        elif ota.begin_inline in visible:
            self._inline(line.number, visible)

    def _delete_mark(self, line: obsidian.Line) -> bool:
        """A DELETE line with its note's id (on it or below): noted, True."""
        scan, visible, marker = self.scan, line.visible, self.ota.delete_line
        below = scan.at(line.number + 1) if line.number < scan.lines[-1].number else None
        nid = delete_mark(visible, below.visible if below else None, marker)
        if not nid:
            return False
        self.deleted.append((line.number, nid))
        below_id = 1 if visible.strip() == marker else 0
        self.marks.append((line.number, line.number + below_id, f"{_LABEL}'s DELETE line"))
        return True

    def _inline(self, number: int, visible: str) -> None:
        ota = self.ota
        if ota.end_inline in visible:  # an inline note; a STARTI alone is text to the plugin
            self.marks.append((number, number, f"{_LABEL}'s {ota.begin_inline} line"))
        for item in _inline_cards(self.note, number, visible, ota, self.deck, self.base_tags,
                                  self.headings.stack, self.file):  # fmt: skip
            if isinstance(item, Diagnostic):
                self.diagnostics.append(item)
            else:
                self.cards.append(item)

    def unended(self) -> None:
        """A START without its END: its lines are the plugin's, no card read."""
        block = self.block
        if block is None:
            return
        last = self.scan.lines[-1].number if self.scan.lines else block.start
        self.marks.append((block.start, last, f"in the {_LABEL} note at line {block.start}"))
        message = (
            f"'{self.ota.begin}' without '{self.ota.end}': no card read from here to the note's end"
        )
        self.diagnostics.append(Diagnostic(self.note.rel, block.start, "warning", message))


def _file_link(note: NoteText) -> str:
    """The plugin's address of the note: the vault's name and the note's path, ".md" included."""
    safe = "-_.!~*'()"  # what JavaScript's encodeURIComponent leaves as it is
    vault, path = quote(note.vault_name, safe=safe), quote(note.rel, safe=safe)
    return f"obsidian://open?vault={vault}&file={path}"


_ID_AT_START = re.compile(r"(?:<!--)?ID: (\d{1,18})")


def delete_mark(line: str, below: str | None, marker: str) -> int:
    """The note id a deletion mark on `line` (with `below` the next line) names, else 0.

    As the plugin reads it: the marker, then directly the ID (`DELETE<!--ID: n-->`), or the
    marker alone on its line and the ID line right below it (no space before `<!--ID`)."""
    text = line.lstrip()
    if not text.startswith(marker):
        return 0
    rest = text[len(marker) :]
    found = _ID_AT_START.match(rest) if rest else None
    if not rest and below is not None:
        found = _ID_AT_START.match(below)
    return int(found.group(1)) if found else 0


def _file_deck_and_tags(scan: obsidian.Scan, ota: OtaSettings) -> tuple[str, list[str]]:
    """The first TARGET DECK and FILE TAGS of the note: "LINE: value" or the value below."""
    deck = tags = None
    rows = [line for line in scan.lines if not line.code and not line.hidden]
    for index, line in enumerate(rows):
        text = line.visible.rstrip()
        for marker in (ota.deck_line, ota.tags_line):
            if (deck if marker == ota.deck_line else tags) is not None:
                continue
            if text.startswith(marker + ": "):
                value = text[len(marker) + 2 :]
            elif text == marker and index + 1 < len(rows):
                value = rows[index + 1].visible
            else:
                continue
            if marker == ota.deck_line:
                deck = value.strip()
            else:
                tags = value.strip()
    return deck or "", (tags or "").split()


def _folder_deck(folder: str, ota: OtaSettings) -> str:
    """The deck of the innermost folder that has one in FOLDER_DECKS, else the default deck."""
    for path in _ancestors(folder):
        if ota.folder_decks.get(path):
            return ota.folder_decks[path]
    return ota.deck


def _folder_tags(folder: str, ota: OtaSettings) -> list[str]:
    """FOLDER_TAGS of every folder the note is in, innermost first."""
    return [tag for path in _ancestors(folder) for tag in ota.folder_tags.get(path, "").split()]


def _ancestors(folder: str) -> list[str]:
    """ "a/b/c" → ["a/b/c", "a/b", "a"]."""
    parts = folder.split("/") if folder else []
    return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _block_card(
    note: NoteText,
    block: _Block,
    ota: OtaSettings,
    deck: str,
    base_tags: list[str],
    headings: list[tuple[int, str]],
    diagnostics: list[Diagnostic],
    deleted: list[tuple[int, int]],
    file: _File,
) -> CardSource | None:
    """The card of one START/END block, or None (deleted, empty or of an unknown type)."""
    lines = _trimmed(block.lines)
    if not lines:
        diagnostics.append(Diagnostic(note.rel, block.start, "warning", "empty note; no card made"))
        return None
    # The plugin's deletion mark: DELETE directly above the ID line, or right before the ID
    # on its line. The note goes, its card is not built. A DELETE anywhere else is text.
    marks = [(lines[-1][0], delete_mark(lines[-1][1], None, ota.delete_line))]
    if len(lines) > 1:
        marks.append((lines[-2][0], delete_mark(lines[-2][1], lines[-1][1], ota.delete_line)))
    for number, nid in marks:
        if nid:
            deleted.append((number, nid))
            return None
    anki_id = 0
    rest, found = trailing_id(lines[-1][1])
    if found and not rest.strip():  # the ID line the plugin wrote
        anki_id = found
        lines = lines[:-1]
    tags: list[str] = []
    if lines and lines[-1][1].startswith(_TAGS_PREFIX):
        tags = lines[-1][1][len(_TAGS_PREFIX) :].split()
        lines = lines[:-1]
    if not lines:
        return None
    type_line, type_name = lines[0][0], lines[0][1].strip()
    names, note_type, problem = _note_type(type_name, lines[1:], ota)
    if problem:
        diagnostics.append(Diagnostic(note.rel, type_line, "warning", problem))
        return None
    fields = _block_fields(names, lines[1:])
    return _card(
        note, block.start, type_name, note_type, fields, ota, deck,
        [*base_tags, *tags], headings, anki_id, diagnostics, file,
    )  # fmt: skip


def trailing_id(text: str) -> tuple[str, int]:
    """(the text before it, the note id) when `text` ends with the ID the plugin writes
    (`<!--ID: n-->`, or `ID: n` without ID comments); else (text, 0)."""
    stripped = text.rstrip()
    at = stripped.rfind("ID: ")
    if at < 0:
        return text, 0
    if stripped.endswith("<!--", 0, at):
        at -= 4
    match = _ID.fullmatch(stripped, at)
    if match is None or not int(match.group(1)):
        return text, 0
    return stripped[:at], int(match.group(1))


def _trimmed(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    first, last = 0, len(lines)
    while first < last and not lines[first][1].strip():
        first += 1
    while last > first and not lines[last - 1][1].strip():
        last -= 1
    return lines[first:last]


def _note_type(
    name: str, body: list[tuple[int, str]], ota: OtaSettings
) -> tuple[tuple[str, ...], str, str]:
    """(field names, our note type, problem): by name, else from fields_dict, else as seen."""
    stock = STOCK.get(name)
    if name in ota.fields:
        names = ota.fields[name]
    elif stock:
        names = stock[0]
    else:
        seen = [m.group(1) for _, text in body if (m := _FIELD_NAME.match(text))]
        names = tuple(dict.fromkeys(seen))
        if not name or not names:
            what = f"note type '{name}'" if name else "a note without a note type"
            return (), "", (
                f"{what} is unknown: not one of Anki's stock note types, not in the plugin's "
                f"fields_dict ({SETTINGS_FILE}) and no 'Field:' lines; no card made"
            )  # fmt: skip
    if stock:
        return names, stock[1], ""
    return names, f"custom:{name}", ""


def _block_fields(names: tuple[str, ...], body: list[tuple[int, str]]) -> list[list]:
    """[name, Markdown, first line] per field: a line "Name:" switches to that field."""
    lines: dict[str, list[str]] = {name: [] for name in names}
    first: dict[str, int] = dict.fromkeys(names, 0)
    current = names[0]
    for number, text in body:
        for name in names:
            if text.startswith(name + ":"):
                current = name
                text = text[len(name) + 1 :]
                break
        if not first[current] and text.strip():
            first[current] = number
        lines[current].append(text)
    return [[name, "\n".join(lines[name]).strip(), first[name]] for name in lines]


def _inline_cards(
    note: NoteText,
    number: int,
    visible: str,
    ota: OtaSettings,
    deck: str,
    base_tags: list[str],
    headings: list[tuple[int, str]],
    file: _File,
) -> list[CardSource | Diagnostic]:
    """The cards of `STARTI [Type] … ENDI` notes on one line (never inside inline code)."""
    masked = obsidian.mask_code_spans(visible)
    out: list[CardSource | Diagnostic] = []
    position = 0
    while True:
        start = masked.find(ota.begin_inline, position)
        if start < 0:
            return out
        end = masked.find(ota.end_inline, start + len(ota.begin_inline))
        if end < 0:
            return out
        content = visible[start + len(ota.begin_inline) : end].strip()
        position = end + len(ota.end_inline)
        out.extend(_inline_card(note, number, content, ota, deck, base_tags, headings, file))


def _inline_card(
    note: NoteText,
    number: int,
    content: str,
    ota: OtaSettings,
    deck: str,
    base_tags: list[str],
    headings: list[tuple[int, str]],
    file: _File,
) -> list[CardSource | Diagnostic]:
    content, anki_id = trailing_id(content)  # an "ID: 0" inside the text is text
    content = content.strip()
    tags: list[str] = []
    at = content.find(_TAGS_PREFIX)
    if at >= 0:
        tags = content[at + len(_TAGS_PREFIX) :].split()
        content = content[:at].strip()
    open_at, close_at = content.find("["), content.find("]")
    if open_at < 0 or close_at < open_at:
        message = f"'{ota.begin_inline}' note without a [note type]; no card made"
        return [Diagnostic(note.rel, number, "warning", message)]
    type_name = content[open_at + 1 : close_at].strip()
    words = content[close_at + 1 :].split(" ")
    seen = tuple(dict.fromkeys(w[:-1] for w in words if len(w) > 1 and w.endswith(":")))
    names, note_type, problem = _note_type(type_name, [(number, f"{n}:") for n in seen], ota)
    if problem:
        return [Diagnostic(note.rel, number, "warning", problem)]
    values: dict[str, list[str]] = {name: [] for name in names}
    current = names[0]
    for word in words:
        if word.endswith(":") and word[:-1] in values:
            current = word[:-1]
            continue
        values[current].append(word)
    fields = [[name, " ".join(parts).strip(), number] for name, parts in values.items()]
    diagnostics: list[Diagnostic] = []
    card = _card(
        note, number, type_name, note_type, fields, ota, deck,
        [*base_tags, *tags], headings, anki_id, diagnostics, file,
    )  # fmt: skip
    return [*diagnostics, *([card] if card else [])]


def _card(
    note: NoteText,
    line: int,
    type_name: str,
    note_type: str,
    fields: list[list],
    ota: OtaSettings,
    deck: str,
    tags: list[str],
    headings: list[tuple[int, str]],
    anki_id: int,
    diagnostics: list[Diagnostic],
    file: _File | None = None,
) -> CardSource | None:
    """One card from a note's fields ([name, Markdown, line] each, in the type's order)."""
    note_type = _prepare_fields(type_name, note_type, fields, ota, tags, headings, file)
    if note_type == CLOZE:
        text, count = anki_clozes_to_marks(fields[0][1])
        if not count:
            message = f"'{type_name}' note without a cloze ({{{{c1::…}}}}); no card made"
            diagnostics.append(Diagnostic(note.rel, line, "warning", message))
            return None
        fields[0][1] = text
    question = fields[0][1]
    answer = fields[1][1] if len(fields) > 1 else ""
    if not question.strip() and not answer.strip():
        diagnostics.append(Diagnostic(note.rel, line, "warning", "empty note; no card made"))
        return None
    return CardSource(
        kind="question",
        line=line,
        question=question,
        answer=answer,
        answer_line=(fields[1][2] if len(fields) > 1 else 0) or line,
        tags=tuple(dict.fromkeys(t for t in tags if t)),
        context=tuple(title for _, title in headings if title),
        note_type=note_type,
        deck=deck,
        fields=tuple((name, text) for name, text, _ in fields),
        field_lines=tuple(line for _, _, line in fields),
        syntax="obsidian-to-anki",
        anki_id=anki_id,
    )


def _prepare_fields(
    type_name: str,
    note_type: str,
    fields: list[list],
    ota: OtaSettings,
    tags: list[str],
    headings: list[tuple[int, str]],
    file: _File | None,
) -> str:
    """Lift tags, read CurlyClozes and add the file's extra fields in place; the note type the
    fields make (a filled third field of the optional-reverse type, a user's cloze type)."""
    if ota.obsidian_tags:
        for entry in fields:
            entry[1], lifted = obsidian.lift_tags(entry[1])
            tags.extend(lifted)
    if type_name == _OPTIONAL_REVERSE and len(fields) > 2 and fields[2][1].strip():
        note_type = REVERSED
    if "Cloze" in type_name:
        for entry in fields:
            entry[1] = _clozes(entry[1], ota)
    if file is not None:
        _append_extras(type_name, fields, headings, file, ota)
    if note_type.startswith("custom:") and "Cloze" in type_name and "{{c" in fields[0][1]:
        note_type = CLOZE  # a user's own cloze note type: Anki's cloze kind, their fields kept
    return note_type


# ---------------------------------------------------------------- frozen fields, link, context


def _frozen_fields(
    note: NoteText, scan: obsidian.Scan, ota: OtaSettings, diagnostics: list[Diagnostic]
) -> dict[str, dict[str, str]]:
    """The note's ``FROZEN - Type:`` blocks (up to a blank line): note type → field → text,
    the last block of a type winning, as in the plugin."""
    out: dict[str, dict[str, str]] = {}
    marker = f"{ota.frozen_line} - "
    rows = scan.lines
    index = 0
    while index < len(rows):
        row = rows[index]
        index += 1
        text = row.visible.strip()
        if row.code or row.hidden or not text.startswith(marker) or not text.endswith(":"):
            continue
        type_name = text[len(marker) : -1].strip()
        body: list[tuple[int, str]] = []
        while index < len(rows) and rows[index].visible.strip() and not rows[index].code:
            body.append((rows[index].number, rows[index].visible))
            index += 1
        names = ota.fields.get(type_name) or STOCK.get(type_name, ((), ""))[0]
        if not names or not body:
            why = "its note type's fields are unknown" if body else "it holds no field"
            message = f"'{ota.frozen_line} - {type_name}:' ignored: {why}"
            diagnostics.append(Diagnostic(note.rel, row.number, "warning", message))
            continue
        fields = _block_fields(names, body)
        out[type_name] = {name: text for name, text, _ in fields if text}
    return out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<])")


def _append_extras(
    type_name: str, fields: list[list], headings: list[tuple[int, str]], file: _File,
    ota: OtaSettings,
) -> None:  # fmt: skip
    """Frozen fields, "Add File Link" and "Add Context", appended as the plugin appends them
    (each as a paragraph of its own, where the plugin glues them to the field's last word)."""

    def append(name: str, extra: str) -> None:
        entry = next((e for e in fields if e[0] == name), fields[0])
        entry[1] = f"{entry[1]}\n\n{extra}" if entry[1].strip() else extra

    for name, extra in file.frozen.get(type_name, {}).items():
        append(name, _clozes(extra, ota) if "Cloze" in type_name else extra)
    if file.link:
        append(ota.file_link_fields.get(type_name, ""), f"[Obsidian](<{file.link}>)")
    if file.context:
        path = " > ".join([file.rel, *(title for _, title in headings if title)])
        append(ota.context_fields.get(type_name, ""), _MD_SPECIAL.sub(r"\\\1", path))


# ---------------------------------------------------------------- regex notes

# Each regex gets this long on one note (its four searches together); then it is stopped.
REGEX_SECONDS = 1.0


class _Spans:
    """Character spans no regex note may lie inside: disjoint, sorted, merged as they grow."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self.ends, start)  # first span ending at or after `start`
        j = bisect.bisect_right(self.starts, end)  # spans from i to j touch [start, end]
        if i < j:
            start, end = min(start, self.starts[i]), max(end, self.ends[j - 1])
        self.starts[i:j] = [start]
        self.ends[i:j] = [end]

    def holds(self, start: int, end: int) -> bool:
        """Whether [start, end] lies inside one span, give or take one character (the
        plugin's leeway)."""
        i = bisect.bisect_right(self.starts, start + 1) - 1
        return i >= 0 and self.ends[i] >= end - 1

    def copy(self) -> _Spans:
        other = _Spans()
        other.starts, other.ends = list(self.starts), list(self.ends)
        return other


def _regex_cards(
    note: NoteText, scan: obsidian.Scan, ota: OtaSettings, deck: str, base_tags: list[str],
    file: _File, diagnostics: list[Diagnostic],
) -> list[CardSource]:  # fmt: skip
    """The note's regex notes: each CUSTOM_REGEXPS entry in turn, each of its four searches
    in turn, a match lying inside code, math, a comment, another note or an earlier match
    skipped (the plugin's rule), every regex stopped after REGEX_SECONDS on this note."""
    text = note.text  # its lines joined
    starts = [0]
    for line in note.lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def line_of(offset: int) -> int:
        return bisect.bisect_right(starts, offset)

    from .jsregex import finditer

    spans = _ignored_spans(note, scan, ota, starts)
    matches: list[tuple[int, RegexNoteType, Any, bool, bool]] = []
    for entry in ota.regexps:
        saved, found = spans.copy(), []
        deadline = time.monotonic() + REGEX_SECONDS
        try:
            for pattern, has_tags, has_id in entry.searches:
                for match in finditer(pattern, text, deadline):
                    begin, end = match.span()
                    if begin == end or spans.holds(begin, end):
                        continue
                    spans.add(begin, end)
                    found.append((line_of(begin), entry, match, has_tags, has_id))
        except TimeoutError:
            spans = saved
            message = (
                f"CUSTOM_REGEXPS '{entry.note_type}' ({SETTINGS_FILE}) ran over "
                f"{REGEX_SECONDS:g} s on this note and was stopped: no '{entry.note_type}' "
                "regex note read from it (a regex that backtracks without end?)"
            )
            diagnostics.append(Diagnostic(note.rel, 1, "warning", message))
            continue
        matches.extend(found)
    if not matches:
        return []
    matches.sort(key=lambda m: m[0])
    heads = note.headings
    cards: list[CardSource] = []
    stack = obsidian.Headings()
    h = 0
    for number, entry, match, has_tags, has_id in matches:
        while h < len(heads) and heads[h][0] < number:
            stack.enter(*heads[h][1:])
            h += 1
        card = _regex_card(note, entry, match, has_tags, has_id, line_of, ota, deck,
                           base_tags, stack.stack, file, diagnostics)  # fmt: skip
        if card is not None:
            cards.append(card)
    return cards


def _regex_card(
    note: NoteText, entry: RegexNoteType, match: Any, has_tags: bool, has_id: bool,
    line_of: Any, ota: OtaSettings, deck: str, base_tags: list[str],
    headings: list[tuple[int, str]], file: _File, diagnostics: list[Diagnostic],
) -> CardSource | None:  # fmt: skip
    groups = list(match.groups())
    anki_id = int(groups.pop()[:18]) if has_id else 0
    tags = groups.pop()[len(_TAGS_PREFIX) :].split() if has_tags else []
    fields = []
    for index, name in enumerate(entry.names):
        value = groups[index] if index < entry.groups else None
        start = match.start(index + 1) if value else -1
        fields.append([name, (value or "").strip(), line_of(start) if start >= 0 else 0])
    _, note_type, _ = _note_type(entry.note_type, [], ota)
    line = line_of(match.start())
    card = _card(
        note, line, entry.note_type, note_type, fields, ota, deck, [*base_tags, *tags],
        headings, anki_id, diagnostics, file,
    )  # fmt: skip
    if card is None:
        return None
    return replace(card, end_line=line_of(max(match.end() - 1, match.start())), syntax=NAME_REGEX)


NAME_REGEX = NAME


def _ignored_spans(
    note: NoteText, scan: obsidian.Scan, ota: OtaSettings, starts: list[int]
) -> _Spans:
    """Where no regex note is read: the frontmatter, fenced code, inline code, math, %%
    comments, START/END and inline notes, FROZEN blocks and the deck and tags lines."""
    spans = _Spans()

    def lines(first: int, last: int) -> None:
        end = starts[last - 1] + len(note.lines[last - 1]) + 1  # its line break too: the
        spans.add(starts[first - 1], end)  # spans of lines that follow each other merge

    if note.body_start:
        lines(1, note.body_start)
    block = 0
    frozen = False
    for row in scan.lines:
        number, visible = row.number, row.visible
        stripped = visible.strip()
        if block:
            if stripped == ota.end and not row.code:
                lines(block, number)
                block = 0
            continue
        if row.code or row.hidden or (row.comment_line and not stripped):
            lines(number, number)  # code, a comment, a "%%" line opening or closing one
            continue
        if frozen and stripped:
            lines(number, number)
            continue
        frozen = stripped.startswith(f"{ota.frozen_line} - ") and stripped.endswith(":")
        if stripped == ota.begin:
            block = number
        elif frozen or (ota.begin_inline in visible and ota.end_inline in visible):
            lines(number, number)
        elif stripped.startswith((ota.deck_line, ota.tags_line)):
            lines(number, min(number + 1, len(note.lines)))
        base = starts[number - 1]
        for start, end in [*obsidian.code_spans(visible), *obsidian.math_spans(visible)]:
            spans.add(base + start, base + end)
    _add_display_math("\n".join(note.lines), spans)
    return spans


def _add_display_math(text: str, spans: _Spans) -> None:
    """Add the `$$…$$` blocks of the text (display math may span lines)."""
    at = text.find("$$")
    while at >= 0:
        close = text.find("$$", at + 2)
        if close < 0:
            break
        spans.add(at, close + 2)
        at = text.find("$$", close + 2)


# ---------------------------------------------------------------- CurlyCloze


def _clozes(text: str, ota: OtaSettings) -> str:
    """CurlyCloze: `{answer}`, `{2:answer}`, `{c2|answer}` → `{{c2::answer}}` (unnumbered
    ones count up from 1 in each field); with highlights to clozes `==answer==` first becomes
    `{answer}`. Code and math are left alone, as the plugin leaves them."""
    if not ota.curly_cloze or ("{" not in text and "==" not in text):
        return text
    out = []
    state = _ClozeCount()
    for piece, protected in _protected_pieces(text):
        if protected:
            out.append(piece)
            continue
        if ota.highlights_to_cloze:
            piece = obsidian.HIGHLIGHT.sub(r"{\1}", piece)
        out.append(_curly_to_anki(piece, state))
    return "".join(out)


_CURLY_NUMBER = re.compile(r"c?(\d{1,4})[:|]")


@dataclass
class _ClozeCount:
    next: int = 1


def _curly_to_anki(text: str, state: _ClozeCount) -> str:
    """One unprotected piece: single braces (not `{{`/`}}`) → Anki clozes, left to right."""
    out = []
    i = 0
    n = len(text)
    closes = _Closes(text)
    while i < n:
        open_at = text.find("{", i)
        if open_at < 0:
            break
        if (open_at > 0 and text[open_at - 1] == "{") or text.startswith("{{", open_at):
            skip = open_at + 1
            while skip < n and text[skip] == "{":
                skip += 1
            out.append(text[i:skip])
            i = skip
            continue
        close = closes.after(open_at + 1)
        if close < 0:
            out.append(text[i : open_at + 1])
            i = open_at + 1
            continue
        inner = text[open_at + 1 : close]
        number = _CURLY_NUMBER.match(inner)
        if number and number.end() < len(inner):
            cloze, inner = int(number.group(1)), inner[number.end() :]
        else:
            cloze, state.next = state.next, state.next + 1
        out.append(text[i:open_at])
        out.append(f"{{{{c{cloze}::{inner}}}}}")
        i = close + 1
    out.append(text[i:])
    return "".join(out)


class _Closes:
    """Where a CurlyCloze can close in one piece: the lone `}`s and the blank lines, found once
    so that each `{` costs a lookup, not a scan (nested or unclosed braces stay linear)."""

    def __init__(self, text: str) -> None:
        self.lone = [
            m.start() for m in re.finditer(r"\}+", text) if m.end() - m.start() == 1
        ]  # a "}" of a "}}" run is never a cloze's end
        self.blanks = [m.start() for m in re.finditer(r"\n(?=\n)", text)]

    def after(self, start: int) -> int:
        """Index of the first lone `}` after `start` with something before it; -1 when none or
        a blank line comes first."""
        at = bisect.bisect_right(self.lone, start)
        if at == len(self.lone):
            return -1
        close = self.lone[at]
        blank = bisect.bisect_left(self.blanks, start)
        if blank < len(self.blanks) and self.blanks[blank] + 2 <= close:
            return -1
        return close


def _protected_pieces(text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, is code or math): fenced code, inline code, $…$ and $$…$$."""
    out: list[tuple[str, bool]] = []
    fence = ""
    for line in text.split("\n"):
        if fence or obsidian.fence_open(line):
            fence = (
                ("" if obsidian.fence_closes(line, fence) else fence)
                if fence
                else (obsidian.fence_open(line) or "")
            )
            out.append((line + "\n", True))
            continue
        spans = [*obsidian.code_spans(line), *obsidian.math_spans(line)]
        last = 0
        for start, end in sorted(spans):
            if start < last:
                continue
            out.append((line[last:start], False))
            out.append((line[start:end], True))
            last = end
        out.append((line[last:] + "\n", False))
    if out:
        piece, protected = out[-1]
        out[-1] = (piece[:-1], protected)
    return out
