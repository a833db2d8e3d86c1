"""The Spaced Repetition plugin's syntax (st3v3nmw/obsidian-spaced-repetition, MIT).

Read as the plugin reads a vault, from its settings in
`.obsidian/plugins/obsidian-spaced-repetition/data.json` (its defaults without one):

- notes carrying a flashcard tag (`#flashcards`, `#flashcards/sub/deck`), in the frontmatter
  or the text; or every note when `convertFoldersToDecks` is on;
- `front::back` (basic) and `front:::back` (reversed: two cards), one line each;
- a paragraph (headings are lines of it), a line that is exactly `?` (or `??`, reversed), then
  the back up to a blank line (or up to `multilineCardEndMarker`, when set: the card then runs
  on past blank lines);
- a paragraph holding clozes (`clozePatterns`, default `==[123;;]answer[;;hint]==`);
- `<!--SR:!2024-08-16,51,230-->` after a card: its review progress, one `!` part per card.

Cards are found line by line as the plugin's own parser (its `src/parser.ts`) finds them; the
tests check that against the parser itself (tests/test_sr_oracle.py). Never cards: fenced and
inline code, frontmatter, HTML and `%%` comments. Where ankigen reads differently from the
plugin, the README's table says so; a card marker that gives no card is a warning saying why.
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
from ..records import CLOZE, QUESTION, REVERSED, CardSource, Diagnostic, ReviewState
from . import NoteText, bounded, tag_matcher
from .cloze import NUMBER_END, OPEN, mark, unmarked

NAME = "spaced-repetition"
LABEL = "Spaced Repetition"
# Its separators (`::`, `?`, `==`) are ordinary text in code and prose: last in the overlap
# order, and its cards read over another syntax's lines go without a warning.
PRIORITY = 4
IMPLICIT = True
PLUGIN_ID = "obsidian-spaced-repetition"
SETTINGS_FILE = f".obsidian/plugins/{PLUGIN_ID}/data.json"
VOLATILE = ("buryDate", "buryList", "historyDeck")  # rewritten at every review

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
    # Built once from `tags` and `ignored`: a lookup per note or tag, whatever their number.
    is_card_tag: Callable[[str], bool] = field(default=lambda _: False, compare=False)
    is_ignored: Callable[[str], bool] = field(default=lambda _: False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, problems: list[str]) -> SrSettings:
        """The plugin's settings, checked; a value of the wrong type is a warning and the
        default."""
        return _read_settings(data, problems)


Settings = SrSettings


def _read_settings(data: Mapping[str, Any] | None, problems: list[str]) -> SrSettings:
    raw: Mapping[str, Any] = {}
    if data is not None:
        # data.json is {"settings": {...}, "buryDate": ..., ...}; very old versions were flat.
        inner = data.get("settings")
        raw = inner if isinstance(inner, dict) else data
    read = _SettingsReader(raw, problems)
    clozes = _cloze_patterns(read)
    tags = tuple(
        tag.strip().lstrip("#").strip("/").lower()
        for tag in read.bounded(read.get("flashcardTags", list), MAX_TAGS, "flashcardTags")
        if tag.strip().lstrip("#").strip("/")
    )
    ignored = tuple(
        p.strip().strip("/")
        for p in read.bounded(
            read.get("noteFoldersToIgnore", list), MAX_IGNORED, "noteFoldersToIgnore"
        )
        if p.strip()
    )
    return SrSettings(
        tags=tags,
        folders_to_decks=bool(read.get("convertFoldersToDecks", bool)),
        single=read.separator("singleLineCardSeparator"),
        single_reversed=read.separator("singleLineReversedCardSeparator"),
        multi=read.separator("multilineCardSeparator"),
        multi_reversed=read.separator("multilineReversedCardSeparator"),
        end_marker=read.separator("multilineCardEndMarker"),
        clozes=tuple(clozes),
        ignored=ignored,
        is_card_tag=tag_matcher(tags),
        is_ignored=_ignore_matcher(ignored),
    )


@dataclass
class _SettingsReader:
    """The plugin's settings read one key at a time; a wrong value is a problem and the
    plugin's default."""

    raw: Mapping[str, Any]
    problems: list[str]

    def get(self, key: str, kind: type) -> Any:
        value = self.raw.get(key, DEFAULTS[key])
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, kind)
        if not ok:
            self.problems.append(
                f"{key} should be a {kind.__name__}, not {value!r}; the plugin's default applies"
            )
            return DEFAULTS[key]
        return value

    def bounded(self, items: list, limit: int, what: str) -> list:
        said: list[str] = []
        items = bounded(items, limit, what, said)
        self.problems.extend(said)
        return items

    def separator(self, key: str) -> str:
        value = self.get(key, str)
        if "\n" in value or len(value) > 40:
            self.problems.append(
                f"{key} {value!r} cannot be a separator; the plugin's default applies"
            )
            return str(DEFAULTS[key])
        return value.strip() if key.startswith("multiline") else value


def _cloze_patterns(read: _SettingsReader) -> list[ClozePattern]:
    """The cloze patterns: `clozePatterns`, or the older versions' switches."""
    if "clozePatterns" in read.raw:
        sources = read.bounded(read.get("clozePatterns", list), MAX_CLOZE_PATTERNS, "clozePatterns")
    else:
        sources = [
            pattern
            for key, pattern, default in _LEGACY_CLOZES
            if (read.raw.get(key) if isinstance(read.raw.get(key), bool) else default)
        ]
    clozes = []
    for source in sources:
        pattern = parse_cloze_pattern(source)
        if pattern is None:
            read.problems.append(f"cloze pattern {source!r} not understood; it is not read")
        else:
            clozes.append(pattern)
    return clozes


_Token = tuple[str, ...]


def parse_cloze_pattern(source: str) -> ClozePattern | None:
    """A pattern such as `==[123;;]answer[;;hint]==` or `==answer==[^\\[hint\\]][\\[^123\\]]`.

    `answer` is the deleted text, `[…123…]` an optional sequence number, `[…hint…]` an
    optional hint; `\\` escapes a bracket. None when the pattern has no literal around the answer.
    """
    tokens = _pattern_tokens(source)
    return None if tokens is None else _pattern_from_tokens(source, tokens)


def _pattern_tokens(source: str) -> list[_Token] | None:
    """The pattern as ("lit", text), ("opt", pre, kind, post) and ("answer",) tokens."""
    tokens: list[_Token] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            tokens.append(("lit", "".join(literal)))
            literal.clear()

    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n:
            literal.append(source[i + 1])
            i += 2
        elif char == "[":
            read = _optional_group(source, i + 1)
            if read is None:
                return None
            token, i = read
            flush()
            tokens.append(token)
        elif source.startswith("answer", i):
            flush()
            tokens.append(("answer",))
            i += len("answer")
        else:
            literal.append(char)
            i += 1
    flush()
    return tokens


def _optional_group(source: str, i: int) -> tuple[_Token, int] | None:
    """The ("opt", pre, kind, post) token of the `[…]` group whose text starts at `i`, and the
    index after its `]`; None when it is unclosed or names neither `123` nor `hint`."""
    group: list[str] = []
    n = len(source)
    while i < n and source[i] != "]":
        if source[i] == "\\" and i + 1 < n:
            i += 1
        group.append(source[i])
        i += 1
    if i >= n:
        return None
    text = "".join(group)
    kind = "seq" if "123" in text else "hint" if "hint" in text else ""
    if not kind:
        return None
    pre, post = text.split("123" if kind == "seq" else "hint", 1)
    return ("opt", pre, kind, post), i + 1


def _groups(part: list[_Token]) -> tuple[tuple[str, str, str], ...]:
    return tuple((t[1], t[2], t[3]) for t in part)


def _pattern_from_tokens(source: str, tokens: list[_Token]) -> ClozePattern | None:
    """The pattern: one literal prefix, optional groups, the answer, optional groups, one
    literal suffix, optional groups; None when the tokens are not in that shape."""
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
    middle = _groups(tail[:s])
    if any(not pre for pre, _, _ in middle):
        return None
    after = _groups(tail[s + 1 :])
    if any(not pre or not post for pre, _, post in after):
        return None
    return ClozePattern(source, head[0][1], _groups(head[1:]), middle, tail[s][1], after)


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


def _cloze_in_code(line: str, sr: SrSettings) -> bool:
    """Whether the line holds a cloze inside inline code (the plugin reads it as a cloze)."""
    return "`" in line and any(_pattern_clozes(line, line, p) for p in sr.clozes)


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
        q, seq = _groups_before(masked, q, close, pattern)
        if q >= close:
            pos = start + 1
            continue
        answer_end, hint, middle_seq = _groups_inside(line, masked, q, close, pattern)
        end, after_hint, after_seq = _groups_after(
            line, masked, close + len(pattern.suffix), pattern
        )
        answer = line[q:answer_end]
        if answer.strip():
            out.append(
                _Cloze(start, end, answer, after_hint or hint, after_seq or middle_seq or seq)
            )
        pos = end
    return out


def _groups_before(masked: str, q: int, close: int, pattern: ClozePattern) -> tuple[int, str]:
    """Where the answer starts after the optional groups before it, and their sequence."""
    seq = ""
    for pre, kind, post in pattern.before:
        value, end = _group(masked, q, pre, post, close)
        if value is not None and (kind != "seq" or _SEQ.fullmatch(value)):
            if kind == "seq":
                seq = value
            q = end
    return q, seq


def _groups_inside(
    line: str, masked: str, q: int, close: int, pattern: ClozePattern
) -> tuple[int, str, str]:
    """Where the answer ends before the groups inside the delimiters, their hint and sequence."""
    answer_end = close
    hint = seq = ""
    for pre, kind, post in pattern.middle:
        at = masked.find(pre, q + 1, close)
        if at < 0:
            continue
        value_start = at + len(pre)
        value_end = close
        if post:
            if not masked.startswith(post, close - len(post)):
                continue
            value_end -= len(post)
        if value_end > value_start:
            answer_end = min(answer_end, at)
            if kind == "hint":
                hint = line[value_start:value_end]
            elif _SEQ.fullmatch(line[value_start:value_end]):
                seq = line[value_start:value_end]
    return answer_end, hint, seq


def _groups_after(line: str, masked: str, end: int, pattern: ClozePattern) -> tuple[int, str, str]:
    """Where the cloze ends after the optional groups past its closing delimiter, their hint
    and sequence ("" for a group absent)."""
    hint = seq = ""
    for pre, kind, post in pattern.after:
        value, group_end = _group(masked, end, pre, post, len(masked))
        if value is not None and (kind != "seq" or _SEQ.fullmatch(value)):
            if kind == "seq":
                seq = value
            else:
                hint = line[end + len(pre) : group_end - len(post)]
            end = group_end
    return end, hint, seq


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

_SR_COMMENT_MAX = 4000
_SR_COMMENT = re.compile(rf"<!--SR:([^>\n]{{0,{_SR_COMMENT_MAX}}}?)-->")
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
    """One line of the note (obsidian.Line) as the plugin reads it."""

    line: obsidian.Line
    text: str  # without comments (HTML, %%, the SR comment)
    # "text", "code" (fenced), "blank", "schedule" (holds only <!--SR:-->), "hidden" (holds
    # only comments: read as if it were not there, as the plugin skips a comment line)
    kind: str
    schedule: str = ""  # the SR comment's contents on this line
    heading: tuple[int, str] | None = None

    @property
    def number(self) -> int:
        return self.line.number

    @property
    def raw(self) -> str:
        """The line as written."""
        return self.line.text


def _rows(note: NoteText, problems: list[Diagnostic] | None = None) -> list[_Row]:
    """The note's lines after its frontmatter, comments and code resolved; comments that hide
    text without a word (never closed, a scheduling comment too long) are warned in `problems`."""
    problems = [] if problems is None else problems
    opened = 0  # line where the HTML comment still open began
    rows: list[_Row] = []
    in_html = False
    for line in note.body_scan.lines:
        if line.code:
            rows.append(_Row(line, line.text, "code"))
            continue
        text, in_html, schedule = _strip_html_comments(line.visible, in_html)
        if in_html and not opened:
            opened = line.number
        elif not in_html:
            opened = 0
        if schedule is None:
            schedule = ""
            message = (
                f"scheduling comment '<!--SR:…' longer than {_SR_COMMENT_MAX:,} characters or"
                " not closed on its line: read as an ordinary comment (the card starts new)"
            )
            problems.append(Diagnostic(note.rel, line.number, "warning", message))
        if not text.strip():
            kind = "schedule" if schedule else "hidden" if line.text.strip() else "blank"
            rows.append(_Row(line, "", kind, schedule))
            continue
        # A heading is a line of its paragraph, as the plugin reads it ("### Heading" right
        # above "?" is the card's front); it also sets the Context of the cards below.
        head = obsidian.heading(text)
        rows.append(_Row(line, text.rstrip(), "text", schedule, head))
    if in_html:
        message = "'<!--' never closed: the rest of the note is a comment and makes no cards"
        problems.append(Diagnostic(note.rel, opened, "warning", message))
    return rows


def _strip_html_comments(text: str, in_comment: bool) -> tuple[str, bool, str | None]:
    """(the line without HTML comments, still inside one at its end, an SR comment's text);
    the text is None when a comment starts like one but cannot be read as one."""
    if not in_comment and "<!--" not in text:
        return text, False, ""
    schedule: str | None = ""
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
        if text.startswith("<!--SR:", opening):
            schedule = None
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
    contexts: list[tuple[str, ...]] = field(default_factory=list)  # by row: headings above
    code_cloze: int = 0  # line of a cloze in inline code in the paragraph being read
    last_card_row: int = -1  # index in rows of the last card's last row

    def warn(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.note.rel, line, "warning", message))


def read(note: NoteText, sr: SrSettings) -> tuple[list[CardSource], list[Diagnostic]]:
    """The cards of a note the plugin reads (one carrying a flashcard tag, or every note when
    folders are decks)."""
    if sr.is_ignored(note.rel):
        return [], []
    if not sr.folders_to_decks:
        lowered = note.text.lower()
        if not any(tag in lowered for tag in sr.tags):
            return [], []  # fast path: no flashcard tag anywhere
    reading = _Reading(note, sr)
    rows = _rows(note, reading.diagnostics)
    if not sr.folders_to_decks:
        first = _note_decks(note, rows, sr)
        if not first:
            return [], []
        reading.decks = first
    _read_rows(reading, rows)
    return reading.cards, reading.diagnostics


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
        if row.kind == "text":
            tags = _flashcard_tags(row.text, sr)
            if tags:
                return [name for _, _, name in tags]
    return []


def _read_rows(reading: _Reading, rows: list[_Row]) -> None:
    """The plugin's parser, line by line, on the note as Obsidian shows it: a card is a
    paragraph (up to a blank line, or up to the end marker when one is set and a card is
    open) holding `?`/`??` or clozes; a line with `::`/`:::` is a card of its own."""
    sr = reading.settings
    reading.contexts = _contexts(rows)
    para: list[int] = []  # rows of the paragraph being read (comment-only rows left out)
    kind: str | None = None  # None, CLOZE, QUESTION or REVERSED (a multi-line card)
    written = 0  # the length of the paragraph's lines joined, as the plugin measures its text
    i = 0
    while i < len(rows):
        row = rows[i]
        if row.kind == "hidden":
            i += 1
            continue
        if _ends_paragraph(sr, row, kind):
            _finish(reading, rows, para, kind, i - 1, ends=i)
            para, kind, written = [], None, 0
            i += 1
            continue
        written += len(row.raw.rstrip()) + (1 if para else 0)
        para.append(i)
        if row.kind == "text":
            split = _single_line_split(row.text, sr)
            if split is None:
                _separator_in_code(reading, row)
            else:
                _ended_by_single_line(reading, rows, para[:-1], kind, row.number)
                reading.code_cloze = 0
                last = i + 1 if i + 1 < len(rows) and rows[i + 1].kind == "schedule" else i
                _single_line(reading, rows, i, last, *split)
                para, kind, written = [], None, 0
                i = last + 1
                continue
            kind = _paragraph_kind(reading, row, kind, written)
        i += 1
    last = len(rows) - 1
    while para and last > para[0] and not rows[last].raw.strip():
        last -= 1  # a card still open at the end of the note ends at its last written line
    _finish(reading, rows, para, kind, last, ends=-1)


def _ends_paragraph(sr: SrSettings, row: _Row, kind: str | None) -> bool:
    """Whether the row closes the paragraph: a blank line (unless a card waits for its end
    marker) or the end marker."""
    blank = row.kind == "blank"
    return (blank and (not sr.end_marker or kind is None)) or _is_end_marker(sr, row)


def _paragraph_kind(reading: _Reading, row: _Row, kind: str | None, written: int) -> str | None:
    """The paragraph's card kind once this text row is read: a separator line makes it a
    multi-line card, a cloze a cloze card (unless it is one already)."""
    sr = reading.settings
    stripped = row.text.strip()
    if stripped and stripped in (sr.multi, sr.multi_reversed):
        # The plugin's test: any text above the separator in the paragraph.
        if written > 1:
            return QUESTION if stripped == sr.multi else REVERSED
        reading.warn(row.number, f"'{stripped}' has no text above it; no card made")
    elif kind is None and find_clozes(row.text, sr.clozes):
        return CLOZE
    elif kind is None and not reading.code_cloze and _cloze_in_code(row.text, sr):
        reading.code_cloze = row.number
    return kind


def _contexts(rows: list[_Row]) -> list[tuple[str, ...]]:
    """For each row, the headings above it (outermost first): the Context of a card starting
    there. A card starting with a heading has that heading's parents as its Context."""
    out: list[tuple[str, ...]] = []
    headings = obsidian.Headings()
    for row in rows:
        if row.heading is not None:
            headings.push(*row.heading)
            out.append(headings.parents())
        else:
            out.append(headings.context())
    return out


def _schedules_lost(rows: list[_Row], para: list[int]) -> str:
    """The words a lost card's warning adds about the scheduling comments it held."""
    held = [str(rows[k].number) for k in para if rows[k].schedule]
    if not held:
        return ""
    where = f"line {held[0]}" if len(held) == 1 else f"lines {', '.join(held)}"
    return f"; the review progress in its scheduling comment ({where}) is not used"


def _ended_by_single_line(
    reading: _Reading, rows: list[_Row], para: list[int], kind: str | None, line: int
) -> None:
    """The paragraph above a `::` line, which the plugin drops: a card it held is lost (said
    so); its tags still choose the deck of the cards below."""
    for k in para:
        _take_deck_tags(reading, rows[k].text)
    if not para:
        return
    if kind is None:
        _stray_schedules(reading, rows, para)
        return
    what = "cloze card" if kind == CLOZE else "multi-line card"
    reading.warn(
        rows[para[0]].number,
        f"{what} not made: the single-line card on line {line} ends it (the plugin reads a "
        f"line with a card separator as a card of its own; put a blank line above it)"
        + _schedules_lost(rows, para),
    )


def _stray_schedules(reading: _Reading, rows: list[_Row], para: list[int]) -> None:
    """Scheduling comments in a paragraph that is no card: the review progress of a card that
    is no longer there (or one right below a card that ends with an end marker)."""
    for k in para:
        row = rows[k]
        if not row.schedule:
            continue
        marker = k >= 2 and _is_end_marker(reading.settings, rows[k - 1])
        above = k - 2 if marker else k - 1
        if (
            k == para[0]
            and row.kind == "schedule"
            and reading.cards
            and above == reading.last_card_row
            and not reading.cards[-1].schedule
        ):
            card = reading.cards[-1]
            schedule = _schedule(reading, row, card.note_type, card.question)
            # Below the end marker it is no line of the card's (as the plugin counts them).
            end_line = card.end_line if marker else row.number
            reading.cards[-1] = replace(card, schedule=schedule, end_line=end_line)
            continue
        reading.warn(
            row.number,
            "scheduling comment, but no card here (no card separator or cloze in its "
            "paragraph); its review progress is not used",
        )


def _finish(
    reading: _Reading, rows: list[_Row], para: list[int], kind: str | None, last: int, ends: int
) -> None:
    """The paragraph is over (a blank line, the end marker `ends`, the note's end): its card."""
    code_cloze, reading.code_cloze = reading.code_cloze, 0
    if not para:
        return
    if kind is None:
        if code_cloze:
            reading.warn(
                code_cloze,
                "cloze inside inline code: code is never a cloze (the plugin makes a card of "
                "it); no card made",
            )
        for k in para:
            _take_deck_tags(reading, rows[k].text)
        _stray_schedules(reading, rows, para)
        return
    if kind == CLOZE:
        _cloze_card(reading, rows, para, max(last, para[0]))
    else:
        _multiline(reading, rows, para, kind, max(last, para[0]))
    if ends >= 0 and _is_end_marker(reading.settings, rows[ends]):
        reading.last_card_row = ends - 1  # a scheduling comment may stand below the marker


def _separator_in_code(reading: _Reading, row: _Row) -> None:
    """Warn about a card separator that the plugin does not see: one that follows the same
    separator inside inline code (the plugin looks at the first one only)."""
    if "`" not in row.text:
        return
    sr = reading.settings
    masked = obsidian.mask_code_spans(row.text)
    for separator in (sr.single_reversed, sr.single):
        if separator and separator in row.text and separator in masked:
            reading.warn(
                row.number,
                f"'{separator}' after inline code holding '{separator}': the plugin reads only "
                "the first one, which is code; no card made",
            )
            return


def _single_line_split(text: str, sr: SrSettings) -> tuple[int, int, bool] | None:
    """(separator start, end, reversed) of a single-line card, as the plugin decides: the
    longest separator first, at its first place in the line, unless that place is inside
    inline code (an odd number of backticks before it and after it)."""
    separators = sorted(((sr.single, False), (sr.single_reversed, True)), key=lambda s: -len(s[0]))
    for separator, reversed_ in separators:
        if not separator:
            continue
        at = text.find(separator)
        if at < 0:
            continue
        if text.count("`", 0, at) % 2 and text.count("`", at + len(separator)) % 2:
            continue
        return at, at + len(separator), reversed_
    return None


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
            context=reading.contexts[first],
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


def _single_line(
    reading: _Reading, rows: list[_Row], index: int, last: int, at: int, end: int, rev: bool
) -> None:
    row = rows[index]
    text, own = _card_tags(reading, row.text)
    shift = len(row.text) - len(text)
    front, back = text[: at - shift], text[end - shift :]
    if not front.strip() or not back.strip():
        side = "front" if not front.strip() else "back"
        lost = _schedules_lost(rows, list(range(index, last + 1)))
        reading.warn(row.number, f"card has an empty {side}; no card made{lost}")
        return
    kind = REVERSED if rev else QUESTION
    _add(reading, rows, index, last, kind, front.strip(), back.strip(), row.number, own)


def _is_end_marker(sr: SrSettings, row: _Row) -> bool:
    return bool(sr.end_marker) and row.kind == "text" and row.text.strip() == sr.end_marker


def _leading_schedules(reading: _Reading, rows: list[_Row], para: list[int]) -> list[int]:
    """The paragraph without scheduling-comment rows above its first line of text (they
    belong to the card above, or to none)."""
    start = 0
    while start < len(para) and rows[para[start]].kind == "schedule":
        start += 1
    if start:
        _stray_schedules(reading, rows, para[:start])
    return para[start:]


def _multiline(reading: _Reading, rows: list[_Row], para: list[int], kind: str, last: int) -> None:
    """A `?` / `??` card: the lines above the separator are the front, the lines below the
    back (the last separator line chooses the type, as in the plugin)."""
    sr = reading.settings
    para = _leading_schedules(reading, rows, para)
    separator = sr.multi if kind == QUESTION else sr.multi_reversed
    at = next(
        (k for k in para if rows[k].kind == "text" and rows[k].text.strip() == separator),
        para[-1] if para else 0,
    )
    _extra_separators(reading, rows, para, at)
    front_rows, back_rows = _sides(rows, para, at)
    if not front_rows:
        reading.warn(
            rows[at].number, "card has an empty front; no card made" + _schedules_lost(rows, para)
        )
        return
    first_line, own = _card_tags(reading, rows[front_rows[0]].text)
    front = [first_line, *(rows[k].text for k in front_rows[1:])]
    if not any(line.strip() for line in front):  # only tags above the separator
        reading.warn(
            rows[at].number, "card has an empty front; no card made" + _schedules_lost(rows, para)
        )
        _take_deck_tags(reading, rows[front_rows[0]].text)
        return
    if not any(rows[k].text.strip() for k in back_rows):
        reading.warn(
            rows[at].number, "card has an empty back; no card made" + _schedules_lost(rows, para)
        )
        return
    answer = "\n".join(rows[k].text for k in back_rows)
    _add(
        reading,
        rows,
        front_rows[0],
        last,
        kind,
        "\n".join(front),
        answer,
        rows[back_rows[0]].number,
        own,
    )


def _sides(rows: list[_Row], para: list[int], at: int) -> tuple[list[int], list[int]]:
    """The rows above and below the separator row `at`, scheduling comments and trailing
    blank lines left out."""
    front_rows = [k for k in para if k < at and rows[k].kind != "schedule"]
    back_rows = [k for k in para if k > at and rows[k].kind != "schedule"]
    while back_rows and rows[back_rows[-1]].kind == "blank":
        back_rows.pop()
    return front_rows, back_rows


def _extra_separators(reading: _Reading, rows: list[_Row], para: list[int], at: int) -> None:
    """Warn about separator lines of a multi-line card other than the one at `at`."""
    sr = reading.settings
    for k in para:
        stripped = rows[k].text.strip() if rows[k].kind == "text" else ""
        if k != at and stripped and stripped in (sr.multi, sr.multi_reversed):
            reading.warn(
                rows[k].number,
                f"'{stripped}' is inside the card of line {rows[para[0]].number}, which runs on "
                f"to the end marker '{sr.end_marker}' past blank lines (as the plugin reads it); "
                "it makes no card of its own"
                if sr.end_marker
                else f"'{stripped}' is inside the card of line {rows[para[0]].number} (one "
                "separator line per card); it makes no card of its own",
            )


def _cloze_card(reading: _Reading, rows: list[_Row], para: list[int], last: int) -> None:
    """A paragraph holding clozes (and no separator): one cloze card."""
    para = _leading_schedules(reading, rows, para)
    indices = [k for k in para if rows[k].kind != "schedule"]
    while indices and rows[indices[-1]].kind == "blank":
        indices.pop()
    if not indices:
        return
    sr = reading.settings
    found = {k: find_clozes(rows[k].text, sr.clozes) for k in indices if rows[k].kind == "text"}
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
    _add(reading, rows, indices[0], last, CLOZE, text, "", 0, own)


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
