"""The Obsidian_to_Anki plugin's syntax (Pseudonium/Obsidian_to_Anki).

Block notes::

    START
    Basic
    Front: the front, on one or more lines
    Back: the back
    Tags: tag1 tag2
    <!--ID: 1700000000000-->
    END

inline notes ``STARTI [Basic] front Back: back ENDI``, ``TARGET DECK`` and ``FILE TAGS`` lines,
``DELETE`` above an ID line, and the plugin's settings (its ``data.json``: the markers, default
deck and tag, folder decks and tags, CurlyCloze, highlights to clozes, the field names of each
note type). The plugin's own parser is the reference; where we read differently it is said here
and in the README: markers inside fenced code, ``%%`` comments or inline code are text, not notes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import obsidian
from ..model import CLOZE, QUESTION, REVERSED, CardSource, Diagnostic
from . import CheckedValues, NoteText, SyntaxSettings, bounded, few
from .cloze import anki_clozes_to_marks

PLUGIN_ID = "obsidian-to-anki-plugin"
SETTINGS_FILE = f".obsidian/plugins/{PLUGIN_ID}/data.json"

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
_ID = re.compile(r"(?:<!--)?ID: (\d{1,18})")
_TAGS_PREFIX = "Tags: "
_FIELD_NAME = re.compile(r"([^\s:][^:\n]{0,60}):")  # "Front:" at a line's start


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
    problems: tuple[str, ...] = ()  # settings ignored, for one warning each


def ota_settings(data: Mapping[str, Any] | None) -> OtaSettings:
    """The settings from the plugin's data.json (its `settings` and `fields_dict`), checked."""
    if data is None:
        return OtaSettings()
    problems: list[str] = []
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

    regexps = raw.get("CUSTOM_REGEXPS", {})
    if isinstance(regexps, dict) and any(
        isinstance(v, str) and v.strip() for v in regexps.values()
    ):
        used = ", ".join(sorted(k for k, v in regexps.items() if isinstance(v, str) and v.strip()))
        problems.append(f"CUSTOM_REGEXPS ({used}): regular-expression notes are not read")
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
        problems=few(problems),
    )


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


class ObsidianToAnkiReader:
    name = "obsidian-to-anki"

    def read(
        self, note: NoteText, settings: SyntaxSettings
    ) -> tuple[list[CardSource], list[Diagnostic]]:
        data = settings.plugin(PLUGIN_ID)
        ota = _cached_settings(data)
        diagnostics = [Diagnostic(SETTINGS_FILE, 1, "warning", p) for p in ota.problems]
        if ota.scan_directory and not (note.rel + "/").startswith(ota.scan_directory + "/"):
            return [], diagnostics
        if ota.begin not in note.text and ota.begin_inline not in note.text:
            return [], diagnostics
        return _read(note, ota, diagnostics, []), diagnostics


def deletions(note: NoteText, settings: SyntaxSettings) -> list[tuple[int, int]]:
    """(line, Anki note id) of every note the plugin's `DELETE` mark asks to delete."""
    ota = _cached_settings(settings.plugin(PLUGIN_ID))
    if ota.delete_line not in note.text:
        return []
    found: list[tuple[int, int]] = []
    _read(note, ota, [], found)
    return found


_SETTINGS_CACHE: dict[int, tuple[Mapping[str, Any] | None, OtaSettings]] = {}


def _cached_settings(data: Mapping[str, Any] | None) -> OtaSettings:
    """The parsed settings of one data.json, parsed once per build process."""
    key = id(data)
    hit = _SETTINGS_CACHE.get(key)
    if hit is not None and hit[0] is data:
        return hit[1]
    parsed = ota_settings(data)
    _SETTINGS_CACHE.clear()
    _SETTINGS_CACHE[key] = (data, parsed)
    return parsed


def _read(
    note: NoteText,
    ota: OtaSettings,
    diagnostics: list[Diagnostic],
    deleted: list[tuple[int, int]],
) -> list[CardSource]:
    """The note's cards; its diagnostics and `DELETE` marks (line, note id) are appended."""
    first = note.body_start
    scan = obsidian.scan(note.lines[first:], first=first + 1)
    deck, file_tags = _file_deck_and_tags(scan, ota)
    deck = deck or _folder_deck(note.folder, ota)
    base_tags = [*_folder_tags(note.folder, ota), *([ota.tag] if ota.tag else []), *file_tags]
    cards: list[CardSource] = []
    headings: list[tuple[int, str]] = []
    block: _Block | None = None
    fence = ""  # a fence opened inside a block: its END is text
    for line in scan.lines:
        text = line.text
        if block is not None:
            if fence:
                fence = "" if obsidian.fence_closes(text, fence) else fence
            elif text.strip() == ota.end:
                card = _block_card(
                    note, block, ota, deck, base_tags, headings, diagnostics, deleted
                )
                if card is not None:
                    cards.append(card)
                block = None
                continue
            else:
                fence = obsidian.fence_open(text) or ""
            block.lines.append((line.number, text))
            continue
        if line.code or line.hidden:
            continue
        visible = line.visible
        if visible.startswith(ota.delete_line):
            mark = _ID.search(visible[len(ota.delete_line) :])
            below = scan.at(line.number + 1) if line.number < scan.lines[-1].number else None
            if mark is None and not visible[len(ota.delete_line) :].strip() and below:
                mark = _ID.match(below.visible.strip())
            if mark is not None:
                deleted.append((line.number, int(mark.group(1))))
                continue
        if visible.strip() == ota.begin and text.strip() == ota.begin:
            block = _Block(line.number)
            fence = ""
            continue
        found = obsidian.heading(visible)
        if found is not None:
            level, title = found
            headings = [h for h in headings if h[0] < level]
            headings.append((level, obsidian.plain_text(title)))
            continue
        if ota.begin_inline in visible:
            for card in _inline_cards(note, line.number, visible, ota, deck, base_tags, headings):
                if isinstance(card, Diagnostic):
                    diagnostics.append(card)
                else:
                    cards.append(card)
    if block is not None:
        message = f"'{ota.begin}' without '{ota.end}': no card read from here to the note's end"
        diagnostics.append(Diagnostic(note.rel, block.start, "warning", message))
    return cards


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
) -> CardSource | None:
    """The card of one START/END block, or None (deleted, empty or of an unknown type)."""
    lines = _trimmed(block.lines)
    if not lines:
        diagnostics.append(Diagnostic(note.rel, block.start, "warning", "empty note; no card made"))
        return None
    anki_id = 0
    match = _ID.search(lines[-1][1])
    if match:
        anki_id = int(match.group(1))
        lines = lines[:-1]
    tags: list[str] = []
    if lines and lines[-1][1].startswith(_TAGS_PREFIX):
        tags = lines[-1][1][len(_TAGS_PREFIX) :].split()
        lines = lines[:-1]
    marks = [number for number, text in lines if text.strip() == ota.delete_line]
    if marks:  # the plugin's deletion mark: the note goes, its card is not built
        if anki_id:
            deleted.append((marks[0], anki_id))
        return None
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
        [*base_tags, *tags], headings, anki_id, diagnostics,
    )  # fmt: skip


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
    fields = {name: [name, [], 0] for name in names}
    current = names[0]
    for number, text in body:
        for name in names:
            if text.startswith(name + ":"):
                current = name
                text = text[len(name) + 1 :]
                break
        entry = fields[current]
        if not entry[2] and text.strip():
            entry[2] = number
        entry[1].append(text)
    return [[name, "\n".join(lines).strip(), line] for name, lines, line in fields.values()]


def _inline_cards(
    note: NoteText,
    number: int,
    visible: str,
    ota: OtaSettings,
    deck: str,
    base_tags: list[str],
    headings: list[tuple[int, str]],
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
        out.extend(_inline_card(note, number, content, ota, deck, base_tags, headings))


def _inline_card(
    note: NoteText,
    number: int,
    content: str,
    ota: OtaSettings,
    deck: str,
    base_tags: list[str],
    headings: list[tuple[int, str]],
) -> list[CardSource | Diagnostic]:
    anki_id = 0
    match = _ID.search(content)
    if match:
        anki_id = int(match.group(1))
        content = content[: match.start()].strip()
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
        [*base_tags, *tags], headings, anki_id, diagnostics,
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
) -> CardSource | None:
    """One card from a note's fields ([name, Markdown, line] each, in the type's order)."""
    if ota.obsidian_tags:
        for entry in fields:
            entry[1], lifted = obsidian.lift_tags(entry[1])
            tags.extend(lifted)
    if type_name == _OPTIONAL_REVERSE and len(fields) > 2 and fields[2][1].strip():
        note_type = REVERSED
    if "Cloze" in type_name:
        for entry in fields:
            entry[1] = _clozes(entry[1], ota)
    if note_type.startswith("custom:") and "Cloze" in type_name and "{{c" in fields[0][1]:
        note_type = CLOZE  # a user's own cloze note type: Anki's cloze kind, their fields kept
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
        syntax="obsidian-to-anki",
        anki_id=anki_id,
    )


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
            piece = _HIGHLIGHT.sub(r"{\1}", piece)
        out.append(_curly_to_anki(piece, state))
    return "".join(out)


_HIGHLIGHT = re.compile(r"==([^=\n]+)==")
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


READER = ObsidianToAnkiReader()
