"""The Spaced Repetition plugin's syntax (st3v3nmw/obsidian-spaced-repetition, MIT).

Read as the plugin reads a vault, from its settings in
`.obsidian/plugins/obsidian-spaced-repetition/data.json` (its defaults without one):

- notes carrying a flashcard tag (`#flashcards`, `#flashcards/sub/deck`), in the frontmatter
  or the text; or every note when `convertFoldersToDecks` is on;
- `front::back` (basic) and `front:::back` (reversed: two cards), one line each;
- a paragraph, a line that is exactly `?` (or `??`, reversed), then the back up to a blank
  line (or up to `multilineCardEndMarker`, when set, which allows blank lines inside);
- a paragraph holding clozes (`clozePatterns`, default `==[123;;]answer[;;hint]==`);
- `<!--SR:!2024-08-16,51,230-->` after a card: its review progress, one `!` part per card.

Never cards: fenced and inline code, frontmatter, HTML and `%%` comments. Where ankigen reads
differently from the plugin, the README says so.
"""

from __future__ import annotations

import bisect
import datetime
import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import obsidian
from ..model import CLOZE, QUESTION, REVERSED, CardSource, Diagnostic, ReviewState
from . import NoteText, SyntaxSettings, bounded, few, tag_matcher
from .cloze import NUMBER_END, OPEN, mark, unmarked

PLUGIN_ID = "obsidian-spaced-repetition"
SETTINGS_FILE = f".obsidian/plugins/{PLUGIN_ID}/data.json"
NAME = "spaced-repetition"

DEFAULTS: dict[str, Any] = {
    "flashcardTags": ["#flashcards"],
    "convertFoldersToDecks": False,
    "singleLineCardSeparator": "::",
    "singleLineReversedCardSeparator": ":::",
    "multilineCardSeparator": "?",
    "multilineReversedCardSeparator": "??",
    "multilineCardEndMarker": "",
    "clozePatterns": ["==[123;;]answer[;;hint]=="],
    "noteFoldersToIgnore": [],
}
# Before clozePatterns existed (plugin 1.12), three switches chose the cloze delimiters.
_LEGACY_CLOZES = (
    ("convertHighlightsToClozes", "==[123;;]answer[;;hint]==", True),
    ("convertBoldTextToClozes", "**[123;;]answer[;;hint]**", False),
    ("convertCurlyBracketsToClozes", "{{[123;;]answer[;;hint]}}", False),
)
# Settings lists beyond these are no sane settings; each entry costs work on every note or line.
MAX_TAGS = 1000
MAX_IGNORED = 1000
MAX_CLOZE_PATTERNS = 50
NEW_DUE = "2000-01-01"  # the plugin's due date for a sibling card not yet reviewed


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class ClozePattern:
    """A cloze pattern of the plugin's settings, e.g. `==[123;;]answer[;;hint]==`."""

    source: str
    prefix: str  # literal before the answer (after `before` groups are taken out)
    before: tuple[tuple[str, str, str], ...]  # optional (pre, kind, post) groups before answer
    middle: tuple[tuple[str, str, str], ...]  # optional groups between answer and suffix
    suffix: str
    after: tuple[tuple[str, str, str], ...]  # optional groups after the suffix


@dataclass(frozen=True)
class SrSettings:
    tags: tuple[str, ...]  # flashcard tags, lower case, without "#"
    folders_to_decks: bool
    single: str
    single_reversed: str
    multi: str
    multi_reversed: str
    end_marker: str
    clozes: tuple[ClozePattern, ...]
    ignored: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    # Built once from `tags` and `ignored`: a lookup per note or tag, whatever their number.
    is_card_tag: Callable[[str], bool] = field(default=lambda _: False, compare=False)
    is_ignored: Callable[[str], bool] = field(default=lambda _: False, compare=False)


_SETTINGS_CACHE: dict[str, SrSettings] = {}


def sr_settings(settings: SyntaxSettings) -> SrSettings:
    """The plugin's settings, checked; a value of the wrong type is a warning and the default."""
    key = settings.fingerprint
    cached = _SETTINGS_CACHE.get(key)
    if cached is None:
        cached = _SETTINGS_CACHE[key] = _read_settings(settings.plugin(PLUGIN_ID))
    return cached


def _read_settings(data: Mapping[str, Any] | None) -> SrSettings:
    problems: list[Diagnostic] = []
    raw: Mapping[str, Any] = {}
    if data is not None:
        # data.json is {"settings": {...}, "buryDate": ..., ...}; very old versions were flat.
        inner = data.get("settings")
        raw = inner if isinstance(inner, dict) else data

    def warn(message: str) -> None:
        problems.append(Diagnostic(SETTINGS_FILE, 1, "warning", message))

    def get(key: str, kind: type) -> Any:
        value = raw.get(key, DEFAULTS[key])
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, kind)
        if not ok:
            warn(f"{key} should be a {kind.__name__}, not {value!r}; the plugin's default applies")
            return DEFAULTS[key]
        return value

    def bounded_setting(items: list, limit: int, what: str) -> list:
        said: list[str] = []
        items = bounded(items, limit, what, said)
        for message in said:
            warn(message)
        return items

    def separator(key: str) -> str:
        value = get(key, str)
        if "\n" in value or len(value) > 40:
            warn(f"{key} {value!r} cannot be a separator; the plugin's default applies")
            return str(DEFAULTS[key])
        return value.strip() if key.startswith("multiline") else value

    if "clozePatterns" in raw:
        sources = bounded_setting(get("clozePatterns", list), MAX_CLOZE_PATTERNS, "clozePatterns")
    else:
        sources = [
            pattern
            for key, pattern, default in _LEGACY_CLOZES
            if (raw.get(key) if isinstance(raw.get(key), bool) else default)
        ]
    clozes = []
    for source in sources:
        pattern = parse_cloze_pattern(source)
        if pattern is None:
            warn(f"cloze pattern {source!r} not understood; it is not read")
        else:
            clozes.append(pattern)
    tags = tuple(
        tag.strip().lstrip("#").strip("/").lower()
        for tag in bounded_setting(get("flashcardTags", list), MAX_TAGS, "flashcardTags")
        if tag.strip().lstrip("#").strip("/")
    )
    ignored = tuple(
        p.strip().strip("/")
        for p in bounded_setting(
            get("noteFoldersToIgnore", list), MAX_IGNORED, "noteFoldersToIgnore"
        )
        if p.strip()
    )
    return SrSettings(
        tags=tags,
        folders_to_decks=bool(get("convertFoldersToDecks", bool)),
        single=separator("singleLineCardSeparator"),
        single_reversed=separator("singleLineReversedCardSeparator"),
        multi=separator("multilineCardSeparator"),
        multi_reversed=separator("multilineReversedCardSeparator"),
        end_marker=separator("multilineCardEndMarker"),
        clozes=tuple(clozes),
        ignored=ignored,
        diagnostics=tuple(
            Diagnostic(SETTINGS_FILE, 1, "warning", m) for m in few([p.message for p in problems])
        ),
        is_card_tag=tag_matcher(tags),
        is_ignored=_ignore_matcher(ignored),
    )


def parse_cloze_pattern(source: str) -> ClozePattern | None:
    """A pattern such as `==[123;;]answer[;;hint]==` or `==answer==[^\\[hint\\]][\\[^123\\]]`.

    `answer` is the deleted text, `[…123…]` an optional sequence number, `[…hint…]` an
    optional hint; `\\` escapes a bracket. None when the pattern has no literal around the answer.
    """
    tokens: list[tuple[str, ...]] = []
    literal: list[str] = []
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n:
            literal.append(source[i + 1])
            i += 2
        elif char == "[":
            group: list[str] = []
            i += 1
            while i < n and source[i] != "]":
                if source[i] == "\\" and i + 1 < n:
                    i += 1
                group.append(source[i])
                i += 1
            if i >= n:
                return None
            i += 1
            text = "".join(group)
            kind = "seq" if "123" in text else "hint" if "hint" in text else ""
            if not kind:
                return None
            pre, post = text.split("123" if kind == "seq" else "hint", 1)
            if literal:
                tokens.append(("lit", "".join(literal)))
                literal = []
            tokens.append(("opt", pre, kind, post))
        elif source.startswith("answer", i):
            if literal:
                tokens.append(("lit", "".join(literal)))
                literal = []
            tokens.append(("answer",))
            i += len("answer")
        else:
            literal.append(char)
            i += 1
    if literal:
        tokens.append(("lit", "".join(literal)))
    answers = [k for k, token in enumerate(tokens) if token[0] == "answer"]
    if len(answers) != 1:
        return None
    at = answers[0]
    head, tail = tokens[:at], tokens[at + 1 :]
    if not head or head[0][0] != "lit" or any(t[0] == "lit" for t in head[1:]):
        return None
    suffixes = [k for k, token in enumerate(tail) if token[0] == "lit"]
    if len(suffixes) != 1:
        return None
    s = suffixes[0]

    def groups(part: list[tuple[str, ...]]) -> tuple[tuple[str, str, str], ...]:
        return tuple((t[1], t[2], t[3]) for t in part)

    middle = groups(tail[:s])
    if any(not pre for pre, _, _ in middle):
        return None
    after = groups(tail[s + 1 :])
    if any(not pre or not post for pre, _, post in after):
        return None
    return ClozePattern(source, head[0][1], groups(head[1:]), middle, tail[s][1], after)


# ---------------------------------------------------------------- clozes


@dataclass(frozen=True)
class _Cloze:
    start: int
    end: int
    answer: str
    hint: str
    seq: str  # "" (simple), digits (numbered) or letters a/s/h (overlapping)


_SEQ = re.compile(r"\d{1,4}|[ash]{1,64}")
_MARK_NUMBER = re.compile(f"{OPEN}(\\d+){NUMBER_END}")


def find_clozes(line: str, patterns: tuple[ClozePattern, ...]) -> list[_Cloze]:
    """The clozes of one line, not in inline code; the first pattern wins where they overlap.

    Every search is a `str.find`: linear in the line, however it is written."""
    if not patterns:
        return []
    masked = obsidian.mask_code_spans(line)
    found = _pattern_clozes(line, masked, patterns[0])
    for pattern in patterns[1:]:
        starts = [c.start for c in found]
        for cloze in _pattern_clozes(line, masked, pattern):
            at = bisect.bisect_left(starts, cloze.start)
            before = found[at - 1] if at else None
            after = found[at] if at < len(found) else None
            if (before is None or before.end <= cloze.start) and (
                after is None or cloze.end <= after.start
            ):
                found.insert(at, cloze)
                starts.insert(at, cloze.start)
    return found


def _pattern_clozes(line: str, masked: str, pattern: ClozePattern) -> list[_Cloze]:
    out = []
    pos = 0
    while True:
        start = masked.find(pattern.prefix, pos)
        if start < 0:
            break
        q = start + len(pattern.prefix)
        close = masked.find(pattern.suffix, q + 1)
        if close < 0:
            break  # no closing delimiter after here: no later opening can close either
        seq = ""
        for pre, kind, post in pattern.before:
            value, end = _group(masked, q, pre, post, close)
            if value is not None and (kind != "seq" or _SEQ.fullmatch(value)):
                if kind == "seq":
                    seq = value
                q = end
        if q >= close:
            pos = start + 1
            continue
        segment_end = close
        answer_end = close
        hint = ""
        for pre, kind, post in pattern.middle:
            at = masked.find(pre, q + 1, segment_end)
            if at < 0:
                continue
            value_start = at + len(pre)
            value_end = segment_end
            if post:
                if not masked.startswith(post, segment_end - len(post)):
                    continue
                value_end -= len(post)
            if value_end > value_start:
                answer_end = min(answer_end, at)
                if kind == "hint":
                    hint = line[value_start:value_end]
                elif _SEQ.fullmatch(line[value_start:value_end]):
                    seq = line[value_start:value_end]
        end = close + len(pattern.suffix)
        for pre, kind, post in pattern.after:
            value, group_end = _group(masked, end, pre, post, len(masked))
            if value is not None and (kind != "seq" or _SEQ.fullmatch(value)):
                if kind == "seq":
                    seq = value
                else:
                    hint = line[end + len(pre) : group_end - len(post)]
                end = group_end
        answer = line[q:answer_end]
        if answer.strip():
            out.append(_Cloze(start, end, answer, hint, seq))
        pos = end
    return out


def _group(text: str, at: int, pre: str, post: str, limit: int) -> tuple[str | None, int]:
    """The value of an optional group `pre value post` starting at `at`, and where it ends."""
    if not text.startswith(pre, at):
        return None, at
    value_start = at + len(pre)
    value_end = text.find(post, value_start, limit) if post else -1
    if value_end <= value_start:
        return None, at
    return text[value_start:value_end], value_end + len(post)


# ---------------------------------------------------------------- schedules

_SR_COMMENT = re.compile(r"<!--SR:([^>\n]{0,4000}?)-->")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"-?\d{1,9}(?:\.\d{1,17})?")
MAX_INTERVAL = 36500


def parse_schedule(
    text: str, rel: str, line: int, diagnostics: list[Diagnostic]
) -> tuple[ReviewState | None, ...]:
    """`!2024-08-16,51,230!…` (due, interval in days, ease ×100) or the FSRS form
    `!fsrs,due,interval,stability,difficulty,state,reps,lapses,steps,last review`, one part per
    sibling card. A part that cannot be read is a warning, and that card starts new."""
    states: list[ReviewState | None] = []
    # The oldest form has no "!": one card's "2021-08-11,4,270".
    parts = text.split("!")[1:] if text.lstrip().startswith("!") else [text]
    for part in parts:
        fields = [f.strip() for f in part.split(",")]
        try:
            states.append(_fsrs(fields, line) if fields[0] == "fsrs" else _sm2(fields, line))
        except ValueError as error:
            message = f"scheduling comment not understood ({error}); the card starts as new"
            diagnostics.append(Diagnostic(rel, line, "warning", message))
            states.append(None)
    return tuple(states)


def _sm2(fields: list[str], line: int) -> ReviewState | None:
    if len(fields) < 3 or not _DATE.fullmatch(fields[0]):
        raise ValueError(f"expected date,interval,ease, not {','.join(fields)!r}")
    due = datetime.date.fromisoformat(fields[0])
    if fields[0] == NEW_DUE:
        return None
    interval = round(_number(fields[1], "interval"))
    ease = round(_number(fields[2], "ease"))
    return ReviewState(
        due=due.isoformat(),
        interval=min(max(interval, 1), MAX_INTERVAL),
        ease=min(max(ease, 130), 1000) * 10,
        line=line,
    )


def _fsrs(fields: list[str], line: int) -> ReviewState | None:
    if len(fields) < 6:
        raise ValueError(
            "an FSRS schedule has at least due, interval, stability, difficulty, state"
        )
    due_text = fields[1]
    if not _DATE.match(due_text):
        raise ValueError(f"due {due_text!r} is no date")
    due = datetime.date.fromisoformat(due_text[:10])
    interval = _number(fields[2], "interval")
    stability = _number(fields[3], "stability")
    difficulty = _number(fields[4], "difficulty")
    state = round(_number(fields[5], "state"))
    if state == 0 or due.isoformat() == NEW_DUE:
        return None  # FSRS state New
    difficulty = min(max(difficulty, 1.0), 10.0)
    # The plugin's own mapping from FSRS difficulty to an SM-2 ease (for Anki without FSRS).
    ease = round(130 + (10 - difficulty) / 9 * (370 - 130))
    return ReviewState(
        due=due.isoformat(),
        interval=min(max(round(interval), 1), MAX_INTERVAL),
        ease=ease * 10,
        stability=min(max(stability, 0.01), float(MAX_INTERVAL)),
        difficulty=difficulty,
        line=line,
    )


def _number(text: str, what: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{what} {text!r} is no number")
    return float(text)


# ---------------------------------------------------------------- the note, line by line


@dataclass
class _Row:
    """One line of the note as the reader sees it."""

    number: int
    text: str  # without comments (HTML, %%, the SR comment)
    kind: str  # "text", "code", "blank", "heading", "schedule" (a line holding only <!--SR:-->)
    schedule: str = ""  # the SR comment's contents on this line
    heading: tuple[int, str] | None = None


def _rows(note: NoteText) -> list[_Row]:
    """The note's lines after its frontmatter, comments and code resolved."""
    start = note.body_start
    scan = obsidian.scan(note.lines[start:], first=start + 1)
    rows: list[_Row] = []
    in_html = False
    for line in scan.lines:
        if line.code:
            rows.append(_Row(line.number, line.text, "code"))
            continue
        text, in_html, schedule = _strip_html_comments(line.visible, in_html)
        # A line that only holds a comment ends a paragraph, as a blank line does (Markdown
        # starts an HTML block there; the plugin instead swallows the line after it).
        if not text.strip():
            rows.append(_Row(line.number, "", "schedule" if schedule else "blank", schedule))
            continue
        head = obsidian.heading(text)
        if head is not None:
            rows.append(_Row(line.number, text, "heading", schedule, head))
            continue
        rows.append(_Row(line.number, text.rstrip(), "text", schedule))
    return rows


def _strip_html_comments(text: str, in_comment: bool) -> tuple[str, bool, str]:
    """(the line without HTML comments, still inside one at its end, an SR comment's text)."""
    if not in_comment and "<!--" not in text:
        return text, False, ""
    schedule = ""
    out: list[str] = []
    pos = 0
    masked = obsidian.mask_code_spans(text)
    while pos <= len(text):
        if in_comment:
            close = masked.find("-->", pos)
            if close < 0:
                return "".join(out), True, schedule
            pos = close + 3
            in_comment = False
            continue
        opening = masked.find("<!--", pos)
        if opening < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:opening])
        found = _SR_COMMENT.match(text, opening)
        if found:
            schedule = found.group(1)
            pos = found.end()
            continue
        pos = opening + 4
        in_comment = True
    return "".join(out), False, schedule


@dataclass
class _Reading:
    note: NoteText
    settings: SrSettings
    cards: list[CardSource] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    decks: list[str] = field(default_factory=list)  # flashcard tags in force (tag paths)
    headings: list[tuple[int, str]] = field(default_factory=list)
    last_card_row: int = -1  # index in rows of the last card's last row

    def warn(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.note.rel, line, "warning", message))


class SpacedRepetitionReader:
    name = NAME

    def read(
        self, note: NoteText, settings: SyntaxSettings
    ) -> tuple[list[CardSource], list[Diagnostic]]:
        sr = sr_settings(settings)
        if sr.is_ignored(note.rel):
            return [], []
        if not sr.folders_to_decks:
            lowered = note.text.lower()
            if not any(tag in lowered for tag in sr.tags):
                return [], list(sr.diagnostics)  # fast path: no flashcard tag anywhere
        rows = _rows(note)
        reading = _Reading(note, sr)
        if not sr.folders_to_decks:
            first = _note_decks(note, rows, sr)
            if not first:
                return [], list(sr.diagnostics)
            reading.decks = first
        _read_rows(reading, rows)
        return reading.cards, [*sr.diagnostics, *reading.diagnostics]


READER = SpacedRepetitionReader()


def _ignore_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a note's path is ignored: a glob matches the path, a plain path is the note or
    a folder above it. Built once: plain paths are a set looked up per folder of the note,
    globs are grouped by their first folder when it is written out ("Archive/*"), so a note
    is tried only against the globs that can match it (fnmatch's patterns never backtrack)."""
    plain: set[str] = set()
    by_folder: dict[str, list[re.Pattern[str]]] = {}
    anywhere: list[re.Pattern[str]] = []
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            plain.add(pattern)
            continue
        compiled = re.compile(fnmatch.translate(pattern.replace("**/", "*").replace("**", "*")))
        first, slash, _ = pattern.partition("/")
        if slash and not any(c in first for c in "*?["):
            by_folder.setdefault(first, []).append(compiled)
        else:
            anywhere.append(compiled)

    def ignored(rel: str) -> bool:
        if rel in plain or any(rel[:at] in plain for at in _slashes(rel)):
            return True
        candidates = [*by_folder.get(rel.partition("/")[0], ()), *anywhere]
        return any(glob.match(rel) for glob in candidates)

    return ignored


def _slashes(rel: str) -> list[int]:
    return [at for at, char in enumerate(rel) if char == "/"]


def _flashcard_tags(text: str, sr: SrSettings) -> list[tuple[int, int, str]]:
    """(start, end, tag path) of the flashcard tags in a line of prose."""
    return [
        (start, end, name)
        for start, end, name in obsidian.line_tags(text)
        if sr.is_card_tag(name.lower())
    ]


def _note_decks(note: NoteText, rows: list[_Row], sr: SrSettings) -> list[str]:
    """The decks of the note's first cards: its frontmatter's flashcard tags, else the first
    flashcard tags in its text (cards above a tag line go where the note's first tag says)."""
    front = [tag.replace("::", "/") for tag in note.tags]
    decks = [t for t in front if sr.is_card_tag(t.lower())]
    if decks:
        return decks
    for row in rows:
        if row.kind in ("text", "heading"):
            tags = _flashcard_tags(row.text, sr)
            if tags:
                return [name for _, _, name in tags]
    return []


def _read_rows(reading: _Reading, rows: list[_Row]) -> None:
    sr = reading.settings
    paragraph: list[int] = []  # indices of the rows of the paragraph being read
    i = 0
    while i < len(rows):
        row = rows[i]
        if _is_end_marker(sr, row):  # right below a cloze paragraph, or a stray one
            _paragraph_done(reading, rows, paragraph, end=i)
            i += 1
            continue
        if row.kind == "blank":
            marker = _cloze_runs_on(reading, rows, paragraph, i)
            if marker is not None:  # a cloze card with blank lines, up to the end marker
                paragraph.extend(range(i, marker))
                _paragraph_done(reading, rows, paragraph, end=marker)
                i = marker + 1
                continue
            _paragraph_done(reading, rows, paragraph)
            i += 1
            continue
        if row.kind == "heading":
            _paragraph_done(reading, rows, paragraph)
            level, text = row.heading or (1, "")
            reading.headings = [h for h in reading.headings if h[0] < level]
            reading.headings.append((level, obsidian.plain_text(text)))
            _take_deck_tags(reading, row.text)
            i += 1
            continue
        if row.kind == "schedule":
            _paragraph_done(reading, rows, paragraph)
            _attach_schedule(reading, rows, i)
            i += 1
            continue
        if row.kind == "text":
            stripped = row.text.strip()
            if stripped in (sr.multi_reversed, sr.multi) and stripped and paragraph:
                i = _multiline(reading, rows, paragraph, i, stripped == sr.multi_reversed)
                paragraph = []
                continue
            split = _single_line_split(row.text, sr)
            if split is not None:
                for k in paragraph:  # the text above is no card; its tags still count
                    _take_deck_tags(reading, rows[k].text)
                paragraph = []
                _single_line(reading, rows, i, *split)
                i += 1
                continue
        paragraph.append(i)
        i += 1
    _paragraph_done(reading, rows, paragraph)


def _single_line_split(text: str, sr: SrSettings) -> tuple[int, int, bool] | None:
    """(separator start, end, reversed) of the first card separator outside inline code."""
    masked = obsidian.mask_code_spans(text)
    best: tuple[int, int, bool] | None = None
    for separator, reversed_ in ((sr.single_reversed, True), (sr.single, False)):
        if not separator:
            continue
        at = masked.find(separator)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, at + len(separator), reversed_)
    return best


def _card_tags(reading: _Reading, first_line: str) -> tuple[str, list[str]]:
    """A card's first line without the flashcard tags at its start, and those tags' paths."""
    tags = _flashcard_tags(first_line, reading.settings)
    own: list[str] = []
    pos = 0
    for start, end, name in tags:
        if first_line[pos:start].strip():
            break
        own.append(name)
        pos = end
    if not own:
        return first_line, []
    return first_line[pos:].lstrip(), own


def _take_deck_tags(reading: _Reading, text: str) -> None:
    """Flashcard tags outside a card's start: they choose the deck of the cards below."""
    tags = _flashcard_tags(text, reading.settings)
    if tags:
        reading.decks = [name for _, _, name in tags]


def _deck(reading: _Reading, own: list[str], line: int) -> str:
    if reading.settings.folders_to_decks:
        return ""  # the folder's deck
    decks = own or reading.decks
    if not decks:
        return ""
    if len(dict.fromkeys(d.lower() for d in decks)) > 1:
        chosen = obsidian.anki_tag(decks[0])
        others = ", ".join(f"#{d}" for d in decks[1:])
        reading.warn(
            line,
            f"card tagged for several decks; an Anki card is in one deck: {chosen} (not {others})",
        )
    return obsidian.anki_tag(decks[0])


def _context(reading: _Reading) -> tuple[str, ...]:
    return tuple(text for _, text in reading.headings if text)


def _add(
    reading: _Reading,
    rows: list[_Row],
    first: int,
    last: int,
    note_type: str,
    question: str,
    answer: str,
    answer_line: int,
    own: list[str],
) -> None:
    line = rows[first].number
    # Tags in a card become Anki tags, as everywhere in ankigen (the plugin shows them as text).
    question, question_tags = obsidian.lift_tags(question)
    answer, answer_tags = obsidian.lift_tags(answer)
    if not question.strip() or (note_type != CLOZE and not answer.strip()):
        reading.warn(line, "card holds only tags; no card made")
        return
    schedule: tuple[ReviewState | None, ...] = ()
    # The comment on the card's last line, or (end-marker cards) on a line of its own inside.
    holder = next((rows[k] for k in range(last, first - 1, -1) if rows[k].schedule), None)
    if holder is not None:
        schedule = _schedule(reading, holder, note_type, question)
    reading.cards.append(
        CardSource(
            kind="question",
            line=line,
            question=question.strip("\n"),
            answer=answer.strip("\n"),
            answer_line=answer_line,
            tags=tuple(dict.fromkeys((*question_tags, *answer_tags))),
            context=_context(reading),
            note_type=note_type,
            deck=_deck(reading, own, line),
            schedule=schedule,
            syntax=NAME,
            end_line=rows[last].number,
        )
    )
    reading.last_card_row = last


def _schedule(
    reading: _Reading, holder: _Row, note_type: str, question: str
) -> tuple[ReviewState | None, ...]:
    """The schedule in a row's comment, one part per card of the note (extra parts warned)."""
    found = parse_schedule(holder.schedule, reading.note.rel, holder.number, reading.diagnostics)
    count = _card_count(note_type, question)
    if len(found) > count:
        reading.warn(
            holder.number,
            f"scheduling comment has {len(found)} parts for {count} "
            f"card{'s' * (count != 1)}; the last {len(found) - count} ignored",
        )
    return found[:count]


def _card_count(note_type: str, question: str) -> int:
    """How many Anki cards the note has: one, two (reversed) or one per cloze number."""
    if note_type == REVERSED:
        return 2
    if note_type == CLOZE:
        return len(set(_MARK_NUMBER.findall(question)))
    return 1


def _attach_schedule(reading: _Reading, rows: list[_Row], index: int) -> None:
    """A line holding only `<!--SR:…-->`: the schedule of the card just above it."""
    row = rows[index]
    previous = index - 1
    if reading.cards and previous == reading.last_card_row and not reading.cards[-1].schedule:
        card = reading.cards[-1]
        schedule = _schedule(reading, row, card.note_type, card.question)
        reading.cards[-1] = replace(card, schedule=schedule, end_line=row.number)
    else:
        reading.warn(row.number, "scheduling comment is not right below a card; ignored")


def _single_line(
    reading: _Reading, rows: list[_Row], index: int, at: int, end: int, rev: bool
) -> None:
    row = rows[index]
    text, own = _card_tags(reading, row.text)
    shift = len(row.text) - len(text)
    front, back = text[: at - shift], text[end - shift :]
    if not front.strip() or not back.strip():
        side = "front" if not front.strip() else "back"
        reading.warn(row.number, f"card has an empty {side}; no card made")
        return
    kind = REVERSED if rev else QUESTION
    _add(reading, rows, index, index, kind, front.strip(), back.strip(), row.number, own)


def _is_end_marker(sr: SrSettings, row: _Row) -> bool:
    return bool(sr.end_marker) and row.kind == "text" and row.text.strip() == sr.end_marker


def _end_marker_ahead(reading: _Reading, rows: list[_Row], start: int) -> int | None:
    """The end marker's row when one comes before the next card starts, else None (the card
    then ends at a blank line, as the plugin reads it)."""
    sr = reading.settings
    if not sr.end_marker:
        return None
    for k in range(start, len(rows)):
        row = rows[k]
        if row.kind != "text":
            continue
        stripped = row.text.strip()
        if stripped == sr.end_marker:
            return k
        if (
            stripped in (sr.multi, sr.multi_reversed)
            or _single_line_split(row.text, sr) is not None
            or find_clozes(row.text, sr.clozes)
        ):
            return None
    return None


def _multiline(
    reading: _Reading, rows: list[_Row], paragraph: list[int], index: int, rev: bool
) -> int:
    """A `?` / `??` card: the paragraph above is the front; returns the row after the card."""
    sr = reading.settings
    first_line, own = _card_tags(reading, rows[paragraph[0]].text)
    front = [first_line, *(rows[k].text for k in paragraph[1:])]
    if not any(line.strip() for line in front):  # only tags above the "?"
        reading.warn(rows[index].number, "card has an empty front; no card made")
        _take_deck_tags(reading, rows[paragraph[0]].text)
        return index + 1
    back: list[int] = []
    marker = _end_marker_ahead(reading, rows, index + 1)
    if marker is not None:  # the back runs to the end marker, blank lines and all
        back = [k for k in range(index + 1, marker) if rows[k].kind != "schedule"]
        j = marker + 1
    else:  # the back ends at a blank line
        j = index + 1
        while j < len(rows) and rows[j].kind not in ("blank", "heading", "schedule"):
            if _is_end_marker(sr, rows[j]):
                break  # "---" right below the back, whatever the lines after it
            back.append(j)
            j += 1
    if not back or not any(rows[k].text.strip() for k in back):
        reading.warn(rows[index].number, "card has an empty back; no card made")
        return j
    last = marker if marker is not None else back[-1]
    if marker is None and j < len(rows) and _is_end_marker(sr, rows[j]):
        last, j = j, j + 1
    answer = "\n".join(rows[k].text if rows[k].kind != "blank" else "" for k in back)
    kind = REVERSED if rev else QUESTION
    _add(
        reading, rows, paragraph[0], last, kind, "\n".join(front), answer, rows[back[0]].number, own
    )
    return j


def _cloze_runs_on(
    reading: _Reading, rows: list[_Row], paragraph: list[int], blank: int
) -> int | None:
    """The end marker's row when the paragraph is a cloze card that goes on past this blank
    line up to an end marker (none comes before the next card starts), else None."""
    sr = reading.settings
    if not sr.end_marker or not paragraph:
        return None
    if not any(rows[k].kind == "text" and find_clozes(rows[k].text, sr.clozes) for k in paragraph):
        return None
    return _end_marker_ahead(reading, rows, blank)


def _paragraph_done(
    reading: _Reading, rows: list[_Row], paragraph: list[int], end: int | None = None
) -> None:
    """A paragraph that held no `::` or `?` card: a cloze card when it holds clozes. `end` is
    the end marker's row when the card ends with one."""
    if not paragraph:
        return
    indices = [k for k in paragraph if rows[k].kind != "schedule"]
    last_row = end if end is not None else paragraph[-1]
    paragraph.clear()
    if not indices:
        return
    sr = reading.settings
    found = {k: find_clozes(rows[k].text, sr.clozes) for k in indices if rows[k].kind == "text"}
    if not any(found.values()):
        for k in indices:
            _take_deck_tags(reading, rows[k].text)
        return
    first_text, own = _card_tags(reading, rows[indices[0]].text)
    numbers = _cloze_numbers(reading, rows, found)
    lines = []
    for position, k in enumerate(indices):
        text = rows[k].text
        clozes = found.get(k, [])
        if position == 0 and own:
            shift = len(text) - len(first_text)
            text = first_text
            clozes = [c for c in clozes if c.start >= shift]
            clozes = [
                _Cloze(c.start - shift, c.end - shift, c.answer, c.hint, c.seq) for c in clozes
            ]
        lines.append(_marked(unmarked(text), clozes, numbers.get(k, [])))
    for k in indices[1:]:  # tags inside the card count for the cards below
        _take_deck_tags(reading, rows[k].text)
    text = "\n".join(lines).strip("\n")
    _add(reading, rows, indices[0], last_row, CLOZE, text, "", 0, own)


def _cloze_numbers(
    reading: _Reading, rows: list[_Row], found: dict[int, list[_Cloze]]
) -> dict[int, list[int]]:
    """Anki's cloze number for each cloze: its sequence number, else the next free one in order.

    Overlapping clozes (`==ash;;x==`: asked, shown or hidden per card) have no Anki form: they
    are warned about and become simple clozes."""
    numbered = [int(c.seq) for clozes in found.values() for c in clozes if c.seq.isdigit()]
    next_number = max(numbered, default=0) + 1
    numbers: dict[int, list[int]] = {}
    for k, clozes in found.items():
        numbers[k] = []
        for cloze in clozes:
            if cloze.seq.isdigit():
                numbers[k].append(max(int(cloze.seq), 1))
                continue
            if cloze.seq:
                reading.warn(
                    rows[k].number,
                    f"overlapping cloze ({cloze.seq!r}) has no Anki equivalent; "
                    "made a simple cloze",
                )
            numbers[k].append(next_number)
            next_number += 1
    return numbers


def _marked(text: str, clozes: list[_Cloze], numbers: list[int]) -> str:
    out = []
    last = 0
    for cloze, number in zip(clozes, numbers, strict=False):
        out.append(text[last : cloze.start])
        out.append(mark(number, cloze.answer, cloze.hint))
        last = cloze.end
    out.append(text[last:])
    return "".join(out)
