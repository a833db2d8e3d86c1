"""Diagnostics: collected from every stage, printed once, sorted, at the end of a build."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .records import Diagnostic


def printable(text: str) -> str:
    """`text` with control and other invisible characters shown as escapes (\\x1b, \\u200b),
    so a file name or a lock entry cannot move the cursor or hide text in a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def say(text: str, stream: TextIO) -> None:
    """Print one line of output, control characters escaped."""
    print(printable(text), file=stream)


def internal_error(path: str, line: int, what: str, error: Exception) -> Diagnostic:
    """The message for a bug caught by a guard; its traceback goes with it for --verbose."""
    message = (
        f"{what}, ankigen failed on it: {error!r} (rerun with --verbose to see where, "
        "and please report it)"
    )
    return Diagnostic(path, line, "error", message, detail=traceback.format_exc())


class Diagnostics:
    """The build's messages; stages return theirs and the build gathers them here."""

    def __init__(self) -> None:
        self._items: set[Diagnostic] = set()

    def warn(self, path: str, line: int, message: str) -> None:
        self._items.add(Diagnostic(path, line, "warning", message))

    def extend(self, items: Iterable[Diagnostic]) -> None:
        self._items.update(items)

    def sorted(self) -> list[Diagnostic]:
        """By file, then line, then text: the order a user reads them in."""
        if os.environ.get("ANKIGEN_UNCODED_LOG"):  # the test suite: every message gets a code
            for item in self._items:
                code_of(item)
        return sorted(self._items, key=lambda d: (d.path, d.line, d.message))


# ---------------------------------------------------------------- codes
#
# Every diagnostic has a short stable code, found here from its message (and, for settings
# files, its path): stages keep creating plain Diagnostic(path, line, severity, message) and
# this table is the one place that names them. A message no rule matches still gets a stable
# code, "AGX" and four hex digits of its family (its text before the first colon or
# parenthesis, numbers and quoted parts removed); the test suite lists those so they can be
# given a code of their own here.


@dataclass(frozen=True)
class Code:
    code: str
    pattern: str  # a plain substring of the message (no regular expression: nothing backtracks)
    summary: str  # for the README's table
    path_suffix: str = ""  # the rule applies only to diagnostics about such a file


CODES: tuple[Code, ...] = (
    Code("AG001", "ankigen failed on it", "internal error caught by a guard (please report it)"),
    # what Anki would refuse at import (ankilimits): the card is left out
    Code("AG801", "levels deep; Anki refuses a package", "a deck nested deeper than Anki allows"),
    Code("AG802", "Anki makes cards for c1 to c500", "a cloze number Anki makes no card for"),
    Code("AG803", "(Anki would not import it as written)", "a field or name Anki would refuse"),
    # vault and discovery
    Code("AG101", "cannot read folder", "a folder of the vault cannot be read"),
    Code("AG102", "skipped: its name is not valid UTF-8", "a file name is not valid UTF-8"),
    Code("AG103", "skipped: ", "a file or link skipped (special file, link out of the vault)"),
    Code("AG104", "setting ignored", "an Obsidian setting (.obsidian/*.json) is not valid"),
    Code("AG105", "", "vault configuration problem", path_suffix="ankigen.toml"),
    # notes and cards
    Code("AG201", "cannot read note", "a note cannot be read"),
    Code("AG202", "not valid UTF-8; bad bytes replaced", "a note is not valid UTF-8"),
    Code("AG203", "frontmatter ignored", "a note's frontmatter is not valid YAML or too large"),
    Code("AG204", "question is empty", "a #Question without text"),
    Code("AG205", "has no answer; no card made", "a card without an answer"),
    Code("AG206", "indented more than", "Markdown indented too deeply"),
    Code("AG207", "nested more than", "HTML nested too deeply"),
    Code("AG208", "duplicate question", "the same question twice in a note"),
    Code("AG209", "opens a comment that is never closed", "an unclosed %% comment"),
    Code("AG210", "marker inside the", "a card marker inside frontmatter, a comment or code"),
    Code("AG211", "code block never closed", "a fence never closed hides the rest of the note"),
    Code("AG212", "card not made: line", "one line is read by one syntax only: a card not made"),
    Code("AG213", "over another syntax's card", "a card runs into another syntax's card"),
    Code("AG214", "ankigen tags moved cards with it", "a tag ankigen keeps for moved cards"),
    # flashcard syntaxes
    Code("AG301", "plugin settings ignored", "a plugin's data.json cannot be read"),
    Code("AG302", "", "a plugin setting is not valid", path_suffix="/data.json"),
    Code("AG303", "card tagged for several decks", "a card tagged for more than one deck"),
    Code("AG304", "card holds only tags", "a card that holds only tags"),
    Code("AG305", "scheduling comment", "a review-state comment not understood"),
    Code("AG306", "card has an empty", "a card with an empty front or back"),
    Code("AG307", "overlapping cloze", "an overlapping cloze Anki cannot show"),
    Code("AG308", "no card read from here", "an Obsidian_to_Anki block is not closed"),
    Code("AG309", "empty note; no card made", "an Obsidian_to_Anki note without text"),
    Code("AG310", "without a [note type]", "an inline note without a note type"),
    Code("AG311", "note without a cloze", "a cloze note type without a cloze"),
    Code("AG312", "is unknown: not one of Anki's stock", "an unknown note type"),
    Code("AG313", "on this note and was stopped", "a user's regex ran over its time limit"),
    Code("AG314", "callout without a", "a card callout without a front or a back"),
    # media
    Code("AG402", "using the copy cached on", "a download failed; the cached copy is used"),
    Code("AG401", "picture", "a picture not included (missing, failed download, too large)"),
    Code("AG403", "inside an HTML attribute cannot be played", "a [sound:…] inside HTML"),
    Code("AG404", "sound", "a sound not included"),
    Code("AG406", "embedded note", "an embedded note not found"),
    Code("AG407", " not found in ", "an embedded heading or block not found"),
    Code("AG408", "leads back to itself", "an embed that embeds itself (a cycle)"),
    Code("AG409", "embeds in one card", "more embeds in a card than are expanded"),
    Code("AG410", "Mermaid diagram not drawn", "a Mermaid diagram that could not be drawn"),
    Code("AG411", "drawing ", "an Excalidraw drawing or element that could not be drawn"),
    # identity and the lock
    Code("AG501", "already belongs to a card", "a GUID already used by another card"),
    Code("AG502", "every card is treated as new", "the lock file cannot be used"),
    Code("AG503", "lock file", "the lock file is corrupt or cannot be written"),
    Code("AG504", "", "an entry of the lock file is not valid", path_suffix="ankigen.lock"),
    Code("AG505", "SOURCE_DATE_EPOCH", "SOURCE_DATE_EPOCH is not valid"),
    # adopted notes
    Code("AG601", "", "ankigen.adopted cannot be read", path_suffix="ankigen.adopted"),
    Code("AG602", "the card's note in Anki has", "an adopted note changed kind"),
    # the build and its output
    Code("AG701", "cannot write", "an output file cannot be written"),
    Code("AG702", "not valid, dropped", "the build state is not valid; rebuilt"),
    Code("AG703", "not valid; dropped", "render cache records not valid; rendered again"),
    Code("AG704", "cannot save the build state", "the build state cannot be saved"),
    Code("AG705", "no cards in", "the vault has no card"),
    Code("AG706", "was last built from another vault", "the output folder served another vault"),
    Code("AG707", "; building everything", "the build state cannot be read; all is rebuilt"),
    Code("AG708", "is not a folder (a link?); not used", "the build state folder is not one"),
)
# Codes no message has any more: never given to another kind of message, still accepted by
# --ignore (a configuration that names one keeps working), listed in the README as retired.
RETIRED: tuple[Code, ...] = (
    # Every field of every note type now carries its pictures and sounds.
    Code("AG405", "", "retired: media in a later field of a plugin's or adopted note type"),
)
_KNOWN = {code.code for code in (*CODES, *RETIRED)}


def code_of(diagnostic: Diagnostic) -> str:
    """The diagnostic's stable code (see CODES)."""
    message, path = diagnostic.message, diagnostic.path
    for rule in CODES:
        if rule.path_suffix and not path.endswith(rule.path_suffix):
            continue
        if rule.pattern in message:
            _note_uncoded(diagnostic, "")
            return rule.code
    code = fallback_code(message)
    _note_uncoded(diagnostic, code)
    return code


def fallback_code(message: str) -> str:
    """ "AGX" and four hex digits of the message's family: the same for every message made by
    one f-string, whatever its file names and numbers (its words before the first colon or
    parenthesis, without paths, quoted parts and digits)."""
    for quote in ("'", '"'):
        message = "".join(message.split(quote)[::2])
    head = message.split(":", 1)[0].split("(", 1)[0]
    words = [word for word in head.split() if "/" not in word and "\\" not in word]
    family = "".join(c for c in " ".join(words) if not c.isdigit())
    digest = hashlib.sha256(family.strip().encode("utf-8", "surrogatepass")).hexdigest()[:4].upper()
    return f"AGX{digest}"


def known_code(code: str) -> bool:
    return code in _KNOWN or (code.startswith("AGX") and len(code) == 7)


def _note_uncoded(diagnostic: Diagnostic, code: str) -> None:
    """With ANKIGEN_UNCODED_LOG set (the test suite sets it), messages that got only a
    fallback code are appended there, so they can be given a code of their own."""
    log = os.environ.get("ANKIGEN_UNCODED_LOG")
    if not log or not code:
        return
    with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as out:
        out.write(f"{code}\t{diagnostic}\n".replace("\r", " "))


# ---------------------------------------------------------------- silencing


IGNORE_KEY = "ankigen-ignore"  # frontmatter: codes silenced for one note


def note_ignores(vault: Path, rel: str) -> frozenset[str]:
    """The codes a note's frontmatter silences (`ankigen-ignore: [AG205]` or "AG205, AG401")."""
    from . import atomic, obsidian

    if not rel.endswith(".md"):
        return frozenset()
    try:
        text = atomic.read_regular(vault / rel, 16 * 1024 * 1024).decode("utf-8-sig", "replace")
    except (OSError, ValueError):
        return frozenset()
    data = obsidian.frontmatter(obsidian.lines(obsidian.clean_text(text))).data
    raw = data.get(IGNORE_KEY)
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(str(item).strip().upper() for item in raw if str(item).strip())


def without_ignored(
    items: Iterable[Diagnostic], ignore: Iterable[str], vault: Path | None = None
) -> list[Diagnostic]:
    """The diagnostics not silenced by `ignore` (codes) or their note's frontmatter."""
    codes = {code.upper() for code in ignore}
    per_note: dict[str, frozenset[str]] = {}
    kept = []
    for item in items:
        code = code_of(item)
        if code in codes:
            continue
        if vault is not None and item.path.endswith(".md"):
            if item.path not in per_note:
                per_note[item.path] = note_ignores(vault, item.path)
            if code in per_note[item.path]:
                continue
        kept.append(item)
    return kept


# ---------------------------------------------------------------- output formats

FORMATS = ("text", "json", "github")
SCHEMA_FILE = "diagnostics.schema.json"  # in assets/: the json format's JSON Schema


def default_format(environ: Mapping[str, str] | None = None) -> str:
    """github inside GitHub Actions (annotations on the files), text elsewhere."""
    environ = os.environ if environ is None else environ
    return "github" if environ.get("GITHUB_ACTIONS") == "true" else "text"


def as_record(diagnostic: Diagnostic) -> dict[str, object]:
    """One diagnostic as the json format writes it."""
    return {
        "file": diagnostic.path,
        "line": diagnostic.line,
        "column": 0,
        "severity": diagnostic.severity,
        "code": code_of(diagnostic),
        "message": diagnostic.message,
    }


def counts(items: Iterable[Diagnostic]) -> dict[str, int]:
    found = {"errors": 0, "warnings": 0, "notes": 0}
    for item in items:
        found[f"{item.severity}s"] += 1
    return found


def plural(count: int, word: str, many: str = "") -> str:
    """ "1 card", "2 cards" (`many` for irregular plurals)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


class Formatter:
    """Prints diagnostics in one of FORMATS; build, check and plan share it.

    text: `file:line: severity: message [CODE]` lines on stderr; github: one workflow command
    a diagnostic on stdout; json: nothing until `finish`, which prints one object on stdout."""

    def __init__(
        self, fmt: str, out: TextIO, err: TextIO, *, verbose: bool = False, prefix: str = ""
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.format, self.out, self.err, self.verbose = fmt, out, err, verbose
        self.prefix = prefix  # github: the vault's path in the repository, "notes/"
        self.items: list[Diagnostic] = []

    def emit(self, items: Iterable[Diagnostic]) -> None:
        for item in items:
            self.items.append(item)
            if self.format == "text":
                print(printable(text_line(item)), file=self.err)
                if self.verbose and item.detail:
                    for line in item.detail.rstrip().splitlines():
                        print(printable(line), file=self.err)
            elif self.format == "github":
                print(github_line(item, self.prefix), file=self.out)

    def finish(self, summary: Mapping[str, object]) -> None:
        """json: the one object; the other formats printed as they went."""
        if self.format == "json":
            document = {
                "diagnostics": [as_record(item) for item in self.items],
                "summary": {**counts(self.items), **summary},
            }
            print(json.dumps(document, ensure_ascii=False, indent=2), file=self.out)


def text_line(item: Diagnostic) -> str:
    where = f"{item.path}:{item.line}" if item.path else "ankigen"
    return f"{where}: {item.severity}: {item.message} [{code_of(item)}]"


def github_line(item: Diagnostic, prefix: str = "") -> str:
    """A workflow command: ::warning file=F,line=L,title=CODE::message; `prefix` makes the
    vault-relative path relative to the repository, where GitHub shows the annotation."""
    command = {"error": "error", "warning": "warning"}.get(item.severity, "notice")
    props = [f"title={_escape_property(code_of(item))}"]
    if item.path:
        props.insert(0, f"file={_escape_property(prefix + item.path)}")
        if item.line:
            props.insert(1, f"line={item.line}")
    message = item.message if item.path else f"ankigen: {item.message}"
    return f"::{command} {','.join(props)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    # GitHub's own toolkit escapes exactly these in a command's message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
