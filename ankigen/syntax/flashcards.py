"""The Flashcards plugin's syntax (reuseman/flashcards-obsidian, its v1 syntax).

A note is read when it carries the card tag (default ``#card``, setting ``flashcardsTag``) or a
``cards-deck`` in its frontmatter (the plugin writes one into every note it synced). In it:

- ``Front text #card`` (or a heading ``## Front #card``, or ``#card`` on the line below the
  front): the paragraph up to the tag is the front, the paragraph below it the back;
  ``#card-reverse`` / ``#card/reverse`` make two cards; ``#card-spaced`` / ``#card/spaced`` a
  front-only card. Tags after the card tag are the card's tags.
- ``front::back`` on one line (``:::`` for two cards; separators from the settings).
- a line with ``==highlights==`` or ``{curly}`` / ``{2:numbered}`` clozes: a cloze card.
- ``^1234567890123`` below a card is the Anki note id the plugin wrote: never shown.

Flashcards 2.0 (its 2.0.0 release) adds, and ankigen reads:

- ``> [!CARD] : Front`` callouts (marker case-insensitive, colon optional): the title is the
  front, the whole body the back; always read, a v1 note never has them;
- in a 2.0 note, a heading carrying the card tag takes its whole section as the back, up to the
  next heading of the same or a higher level (or the next card); a 2.0 note is one whose vault
  has 2.0 settings (``defaultDeck``, ``defaultTags``, ``hashtag``…) or that the plugin synced
  (a ``flashcards`` frontmatter property or a ``^q-xxxx`` anchor); elsewhere the v1 rule holds;
- ``#card-reminder`` (2.0's name for ``#card-spaced``, which keeps working), ``^q-xxxx``
  anchors never shown, and its optional folder tags (``Medicine/Biology/Cell.md`` gets the tag
  ``Medicine::Biology``; the setting's key in data.json is not documented: ankigen reads
  ``folderTags`` or ``folderBasedTags``).

Deck: ``cards-deck`` in the frontmatter, else the folder path (``folderBasedDeck``, default on),
else the ``deck`` setting. Tags: a ``tags:`` line (frontmatter or body), the card's own, and the
``defaultAnkiTag`` setting. Headings above a card are its context (context-aware mode): in our
Context field rather than prefixed to the front. Code (fenced or inline), math and ``%%``
comments never hold cards.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .. import obsidian
from ..records import CLOZE, QUESTION, REVERSED, CardSource, Diagnostic
from . import CheckedValues, NoteText, few
from .cloze import anki_clozes_to_marks

NAME = "flashcards"
LABEL = "Flashcards"
PRIORITY = 3  # explicit markers (#card, its callouts)
IMPLICIT = False
PLUGIN_ID = "flashcards-obsidian"  # the plugin's folder under .obsidian/plugins/
SETTINGS_FILE = f".obsidian/plugins/{PLUGIN_ID}/data.json"

_ID_LINE = re.compile(r"\^(\d{13})\s*$")
# Flashcards 2.0's anchor: "^q-" and four letters or digits from its alphabet.
_V2_ANCHOR = re.compile(r"\^q-[abcdefghijkmnpqrstuvwxyz23456789]{4}")
_TRAILING_ANCHOR = re.compile(r"[ \t]*\^(?:q-[abcdefghijkmnpqrstuvwxyz23456789]{4}|\d{13})[ \t]*$")
# Keys only a Flashcards 2.0 data.json has (its settings were renamed in the rewrite).
_V2_KEYS = ("defaultDeck", "defaultTags", "folderBasedDecks", "hashtag", "contextStrategy",
            "inlineReverseSeparator", "legacy", "explicitSyntax")  # fmt: skip
_FOLDER_TAG_KEYS = ("folderTags", "folderBasedTags")
_GLOBAL_TAGS = re.compile(r"^[ \t]*(?:cards-)?tags: ?(.*)$", re.IGNORECASE)
_GLOBAL_TAG_WORD = re.compile(r"\[\[([^\]]*)\]\]|#?([\w:/-]+)")
_LIST_MARK = re.compile(r"[ \t]*(?:\d+[.)]|[-+*])[ \t]+")
_CURLY = re.compile(r"(?<!\{)\{(?:(\d{1,3}):?)?([^{}\n]+)\}(?!\})")


@dataclass(frozen=True)
class FlashcardsSettings:
    tag: str = "card"
    separator: str = "::"
    reverse_separator: str = ":::"
    deck: str = "Default"
    folder_deck: bool = True
    default_tag: str = "obsidian"
    context: bool = True  # contextAwareMode: the headings above a card are its context
    v2: bool = False  # the vault's settings are Flashcards 2.0's
    default_tags: tuple[str, ...] = ()  # 2.0's defaultTags (replaces defaultAnkiTag)
    folder_tags: bool = False  # 2.0's folder tags
    problems: tuple[str, ...] = ()


def flashcards_settings(
    data: Mapping[str, Any] | None, said: list[str] | None = None
) -> FlashcardsSettings:
    """The plugin's settings (its data.json is the settings object), checked; what is wrong
    with them is appended to `said` too."""
    base = FlashcardsSettings()
    if data is None:
        return base
    problems: list[str] = said if said is not None else []

    values = CheckedValues(data, problems)
    text, flag = values.line, values.flag

    if any(key in data for key in _V2_KEYS):
        return _v2_settings(data, values, problems)
    folder_deck = flag("folderBasedDeck", base.folder_deck)
    context = flag("contextAwareMode", base.context)
    tag = text("flashcardsTag", base.tag).lstrip("#")
    if not obsidian.is_tag(tag) or " " in tag:
        problems.append("'flashcardsTag' is not a tag")
        tag = base.tag
    return FlashcardsSettings(
        tag=tag,
        separator=text("inlineSeparator", base.separator),
        reverse_separator=text("inlineSeparatorReverse", base.reverse_separator),
        deck=text("deck", base.deck),
        folder_deck=folder_deck,
        default_tag=text("defaultAnkiTag", base.default_tag, empty_ok=True),
        context=context,
        folder_tags=_folder_tags_flag(values),
        problems=few(problems),
    )


class Settings(FlashcardsSettings):
    """The plugin's settings (FlashcardsSettings), as every reader's settings are made."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, problems: list[str]) -> FlashcardsSettings:
        return flashcards_settings(data, problems)


def _v2_settings(
    data: Mapping[str, Any], values: CheckedValues, problems: list[str]
) -> FlashcardsSettings:
    """Flashcards 2.0's settings (its data.json after the rewrite)."""
    base = FlashcardsSettings()
    hashtag = data.get("hashtag", {})
    if not isinstance(hashtag, dict):
        problems.append("'hashtag' is not an object")
        hashtag = {}
    tag = CheckedValues(hashtag, problems, "hashtag ").line("basicTag", base.tag).lstrip("#")
    if not obsidian.is_tag(tag) or " " in tag:
        problems.append("'hashtag.basicTag' is not a tag")
        tag = base.tag
    tags = data.get("defaultTags", ["obsidian"])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append("'defaultTags' is not a list of tags")
        tags = ["obsidian"]
    strategy = data.get("contextStrategy", "headings")
    if strategy not in ("headings", "none", "note-title"):
        problems.append("'contextStrategy' is not headings, none or note-title")
        strategy = "headings"
    return FlashcardsSettings(
        tag=tag,
        separator=values.line("inlineSeparator", base.separator),
        reverse_separator=values.line("inlineReverseSeparator", base.reverse_separator),
        deck=values.line("defaultDeck", base.deck),
        folder_deck=values.flag("folderBasedDecks", base.folder_deck),
        default_tag="",
        context=strategy == "headings",
        v2=True,
        default_tags=tuple(obsidian.anki_tag(t.strip().lstrip("#")) for t in tags if t.strip()),
        folder_tags=_folder_tags_flag(values),
        problems=few(problems),
    )


def _folder_tags_flag(values: CheckedValues) -> bool:
    """Flashcards 2.0's "Folder tags" setting (off by default); its key is not documented."""
    return any(values.flag(key, False) for key in _FOLDER_TAG_KEYS if key in values.data)


def read(note: NoteText, options: FlashcardsSettings) -> tuple[list[CardSource], list[Diagnostic]]:
    """The cards of a note the plugin reads (a card tag, its cards-deck, a [!card] callout)."""
    lowered = note.text.lower()
    if (
        f"#{options.tag}".lower() not in lowered
        and "cards-deck" not in note.text
        and "[!card" not in lowered
    ):
        return [], []
    reader = _Reader(note, options)
    cards = reader.cards()
    note.markup[NAME] = reader.markup()  # lines no other syntax may read as a card
    return cards, []


class _Reader:
    def __init__(self, note: NoteText, options: FlashcardsSettings) -> None:
        self.note = note
        self.options = options
        front = note.frontmatter
        # visible: "" in fenced code and comments (the plugin reads no card there)
        self.lines = [
            ln._replace(visible="") if ln.code or ln.hidden else ln for ln in note.body_scan.lines
        ]
        self.deck = self._deck(front.data)
        self.has_deck = "cards-deck" in front.data
        self.global_tags = self._global_tags()
        # A Flashcards 2.0 note: the vault's settings say so, or the plugin synced it.
        self.v2 = (
            options.v2
            or isinstance(front.data.get("flashcards"), dict)
            or bool(_V2_ANCHOR.search(note.text))
        )
        self.callouts = self._callouts()
        self.callout_starts = {first for first, _, _ in self.callouts}

    def _deck(self, data: dict) -> str:
        deck = data.get("cards-deck")
        if isinstance(deck, str | int | float) and str(deck).strip():
            return str(deck).strip()
        folder = self.note.folder
        if self.options.folder_deck and folder:
            return folder.replace("/", "::")
        return self.options.deck

    def _global_tags(self) -> list[str]:
        for line in self.note.lines:  # the plugin reads the first "tags:" line of the file
            match = _GLOBAL_TAGS.match(line)
            if match:
                words = _GLOBAL_TAG_WORD.findall(match.group(1))
                return [obsidian.anki_tag(a or b).replace(" ", "-") for a, b in words if a or b]
        return []

    # ------------------------------------------------------------ cards

    def cards(self) -> list[CardSource]:
        cards: list[CardSource] = []
        used: set[int] = set()  # lines that belong to a tagged card
        # Only a note the plugin synced (cards-deck) or that carries a card tag holds cards.
        tag_seen = self.has_deck or self._carries_tag() or bool(self.callouts)
        inside: dict[int, int] = {}  # first line index of a callout card → index after it
        for first, after, card in self.callouts:
            inside[first] = after
            used.update(range(first, after))
            if card is not None:
                cards.append(card)
        cards += self._tagged_cards(inside, used)
        if not tag_seen:
            return []  # "::" and highlights elsewhere in the vault are no cards
        cards += self._untagged_cards(used)
        cards.sort(key=lambda c: c.line)
        return cards

    def _tagged_cards(self, inside: dict[int, int], used: set[int]) -> list[CardSource]:
        """The cards marked with the card tag, in order; their lines are added to `used`."""
        cards: list[CardSource] = []
        headings = obsidian.Headings()
        index = 0
        floor = 0  # the line after the last tagged card: no front reaches above it
        while index < len(self.lines):
            if index in inside:  # a callout card is an explicit container: its text is its own
                index = inside[index]
                continue
            line = self.lines[index]
            found = obsidian.heading(line.visible)
            tagged = self._tag_in(line.visible)
            if found is not None and tagged is None:
                headings.push(*found)
            if tagged is not None:
                first, card, end = self._tagged(index, tagged, headings.stack, floor)
                if card is not None:
                    cards.append(card)
                    used.update(range(first, end))
                    floor = max(end, index + 1)
                    if found is not None:  # a heading card is context for the cards below
                        headings.push(found[0], card.question)
                    index = max(end, index + 1)
                    continue
            index += 1
        return cards

    def _untagged_cards(self, used: set[int]) -> list[CardSource]:
        """The `::` and cloze cards on the lines outside tagged cards."""
        cards: list[CardSource] = []
        above = obsidian.Headings()
        for index, line in enumerate(self.lines):
            found = obsidian.heading(line.visible)
            if found is not None:
                above.push(found[0], self._untagged(found[1]))
            if index in used or not line.visible.strip():
                continue
            context = above.stack[:-1] if found is not None else above.stack
            card = self._inline(index, context) or self._cloze(index, context)
            if card is not None:
                cards.append(card)
        return cards

    def markup(self) -> list[tuple[int, int, str]]:
        """The plugin's own lines: card tag lines, its Anki id lines, the note's tags line."""
        marks = []
        for line in self.lines:
            if self._tag_in(line.visible) is not None:
                marks.append((line.number, line.number, f"a Flashcards #{self.options.tag} line"))
            elif _ID_LINE.match(line.visible.strip()) or _GLOBAL_TAGS.match(line.visible):
                marks.append((line.number, line.number, "a Flashcards id or tags line"))
            elif line.visible.lstrip().lower().startswith("cards-deck"):
                marks.append((line.number, line.number, "a Flashcards cards-deck line"))
        return marks

    def _kinds(self) -> dict[str, str]:
        tag = self.options.tag.lower()
        return {
            tag: "basic",
            f"{tag}-reverse": "reverse",
            f"{tag}/reverse": "reverse",
            f"{tag}-spaced": "spaced",
            f"{tag}/spaced": "spaced",
            f"{tag}-reminder": "spaced",  # Flashcards 2.0's name for a front-only card
        }

    def _section(self, start: int, level: int) -> tuple[int, list[obsidian.Line]]:
        """Flashcards 2.0's heading card: (index after it, its back's lines): the section
        from `start` up to the next heading of `level` or higher, or the next card."""
        end = start
        callout_starts = self.callout_starts
        while end < len(self.lines):
            current = self.lines[end]
            found = obsidian.heading(current.visible)
            if found is not None and found[0] <= level:
                break
            if end in callout_starts or self._tag_in(current.visible) is not None:
                break
            if current.text.lstrip().lower().startswith("```flashcard"):
                break
            end += 1
        back = list(self.lines[start:end])
        while back and not back[-1].text.strip():
            back.pop()
        while back and not back[0].text.strip():
            back.pop(0)
        if back and not back[-1].code:
            last = back[-1]
            text = _TRAILING_ANCHOR.sub("", last.visible)
            if text.strip():
                back[-1] = last._replace(visible=text, text=_TRAILING_ANCHOR.sub("", last.text))
            else:
                back.pop()
        return end, back

    def _callouts(self) -> list[tuple[int, int, CardSource | None]]:
        """Flashcards 2.0's ``> [!CARD] : Front`` cards: (first line index, index after the
        callout, the card or None when it has no front or no back)."""
        if "[!card" not in self.note.text.lower():
            return []
        from .callouts import callouts

        index_of = {line.number: i for i, line in enumerate(self.lines)}
        out: list[tuple[int, int, CardSource | None]] = []
        heads = self.note.headings
        stack = obsidian.Headings()
        h = 0
        for callout in callouts(self.note, frozenset({"card"})):
            first = index_of.get(callout.line)
            if first is None:
                continue
            while h < len(heads) and heads[h][0] < callout.line:  # headings above, in one sweep
                stack.enter(*heads[h][1:])
                h += 1
            after = index_of.get(callout.end_line, first) + 1
            front = _TRAILING_ANCHOR.sub("", callout.title)
            front = self._untagged(front[1:] if front.startswith(":") else front).strip()
            back = _strip_anchor_lines(callout.body)
            if not front or not back:
                what = "front (its title)" if not front else "back (its body)"
                self.problem(callout.line, f"[!CARD] callout without a {what}; no card made")
                out.append((first, after, None))
                continue
            context = stack.context()
            card = self._card(
                callout.line, front, back, QUESTION, [], context, 0,
                (("Front", front), ("Back", back)),
            )  # fmt: skip
            card = replace(card, answer_line=callout.body_line or callout.line,
                           end_line=callout.end_line)  # fmt: skip
            out.append((first, after, card))
        return out

    def _carries_tag(self) -> bool:
        kinds = self._kinds()
        return any(
            name.lower() in kinds
            for line in self.lines
            for _, _, name in obsidian.line_tags(line.visible)
        )

    def _tag_in(self, text: str) -> tuple[str, int, int] | None:
        """(kind, start, end) of the card tag on a line: "basic", "reverse" or "spaced"; only
        other tags may follow it on the line."""
        if "#" not in text:
            return None
        kinds = self._kinds()
        candidates = [
            (kinds[name.lower()], start, end)
            for start, end, name in obsidian.line_tags(text)
            if name.lower() in kinds
        ]
        if len(candidates) <= 8:
            for found in candidates:
                if not _untagged_rest(text[found[2] :]):
                    return found
            return None
        # Many card tags on one line: only tags may follow the one that counts, and what may
        # follow one may follow the next, so the first that counts is found by halving
        # (each check reads the rest of the line: n log n, not n²).
        low, high = 0, len(candidates)
        while low < high:
            middle = (low + high) // 2
            if _untagged_rest(text[candidates[middle][2] :]):
                low = middle + 1
            else:
                high = middle
        return candidates[low] if low < len(candidates) else None

    def _untagged(self, text: str) -> str:
        found = self._tag_in(text)
        return text[: found[1]].rstrip() if found else text

    def _front_start(self, index: int, tag_after_text: bool, floor: int) -> int:
        """First line of a tagged card's front: its paragraph, a heading being a block of its
        own (``## Front`` above a line holding only ``#card`` is the front). The plugin's
        patterns go on from where the card above ended: a front never holds the lines of the
        cards above it (`floor`), as in "one #card-spaced" right below "two #card-spaced"."""
        if obsidian.heading(self.lines[index].visible) is not None:
            return index
        start = index
        while start > floor:
            above = self.lines[start - 1]
            if above.code or not above.visible.strip() or _ID_LINE.match(above.visible.strip()):
                break  # an id line ends the card above: never part of a front
            if obsidian.heading(above.visible) is not None:
                if not tag_after_text and start == index:
                    start -= 1
                break
            start -= 1
        return start

    def _tagged(
        self,
        index: int,
        tagged: tuple[str, int, int],
        headings: list[tuple[int, str]],
        floor: int,
    ) -> tuple[int, CardSource | None, int]:
        """(first line index, the card, index after it) of a card marked with the card tag."""
        kind, start, end = tagged
        line = self.lines[index]
        before = line.visible[:start].strip()
        first = self._front_start(index, bool(before), floor)
        front_lines = [ln.visible for ln in self.lines[first:index]] + [line.visible[:start]]
        front = "\n".join(front_lines).strip()
        found = obsidian.heading(front_lines[0])
        if found is not None:
            front = "\n".join([found[1], *front_lines[1:]]).strip()
        tags = [obsidian.anki_tag(n) for _, _, n in obsidian.line_tags(line.visible[end:])]
        after, back, anki_id = self._tagged_back(index, kind, found)
        if not front:
            self.problem(line.number, f"#{self.options.tag} without a front; no card made")
            return first, None, index + 1
        answer = "\n".join(ln.text if ln.code else ln.visible for ln in back).strip("\n")
        note_type = REVERSED if kind == "reverse" else QUESTION
        fields = (("Prompt", front),) if kind == "spaced" else (("Front", front), ("Back", answer))
        level = found[0] if found is not None else 7
        context = tuple(title for lvl, title in headings if lvl < level and title)
        card = self._card(
            self.lines[first].number, front, answer, note_type, tags, context, anki_id, fields
        )
        if back:
            card = replace(card, answer_line=back[0].number)
        return first, card, after

    def _tagged_back(
        self, index: int, kind: str, heading: tuple[int, str] | None
    ) -> tuple[int, list[obsidian.Line], int]:
        """(index after the card, its back lines, its Anki id or 0) of the tagged card on line
        `index`: a heading's section (v2), else the paragraph below up to a blank or id line."""
        if kind == "spaced":
            anki_id = self._id_below(index)
            return index + 1 + (1 if anki_id else 0), [], anki_id
        if self.v2 and heading is not None:
            return (*self._section(index + 1, heading[0]), 0)
        after = index + 1
        back: list[obsidian.Line] = []
        while after < len(self.lines) and not self.lines[after].text.strip():
            after += 1
        while after < len(self.lines):
            current = self.lines[after]
            if not current.code:
                id_match = _ID_LINE.match(current.visible.strip())
                if id_match:
                    return after + 1, back, int(id_match.group(1))
                if not current.visible.strip():
                    break
            back.append(current)
            after += 1
        return after, back, 0

    def _inline(self, index: int, headings: list[tuple[int, str]]) -> CardSource | None:
        line = self.lines[index]
        text = (
            _LIST_MARK.sub("", line.visible, count=1)
            if _LIST_MARK.match(line.visible)
            else line.visible
        )
        found = obsidian.heading(text)
        if found is not None:
            text = found[1]
        lowered = text.lstrip().lower()
        if lowered.startswith(("cards-deck", "tags")):
            return None
        masked = obsidian.mask_code_spans(text)
        at, separator = _first_separator(
            masked, self.options.separator, self.options.reverse_separator
        )
        if at <= 0:
            return None
        front = text[:at].strip()
        back, anki_id = _trailing_id(text[at + len(separator) :].strip())
        back, tags = _trailing_tags(back)
        if not front or not back:
            return None
        anki_id = anki_id or self._id_below(index)
        reversed_ = separator == self.options.reverse_separator
        context = tuple(t for _, t in headings if t)
        return self._card(
            line.number, front, back, REVERSED if reversed_ else QUESTION, tags, context,
            anki_id, (("Front", front), ("Back", back)),
        )  # fmt: skip

    def _cloze(self, index: int, headings: list[tuple[int, str]]) -> CardSource | None:
        line = self.lines[index]
        text = (
            _LIST_MARK.sub("", line.visible, count=1)
            if _LIST_MARK.match(line.visible)
            else line.visible
        )
        found = obsidian.heading(text)
        if found is not None:
            text = found[1]
        masked = _mask_math(obsidian.mask_code_spans(text))
        if "==" not in masked and "{" not in masked:
            return None
        pieces = []
        last = 0
        count = 0
        for match in _cloze_matches(masked):
            pieces.append(text[last : match[0]])
            pieces.append(f"{{{{c{match[2]}::{text[match[3] : match[4]]}}}}}")
            last = match[1]
            count += 1
        if not count:
            return None
        pieces.append(text[last:])
        body, anki_id = _trailing_id("".join(pieces).strip())
        body, tags = _trailing_tags(body)
        marked, found_clozes = anki_clozes_to_marks(body)
        if not found_clozes:
            return None
        context = tuple(t for _, t in headings if t)
        return self._card(
            line.number, marked, "", CLOZE, tags, context, anki_id or self._id_below(index),
            (("Text", marked), ("Extra", "")),
        )  # fmt: skip

    def _id_below(self, index: int) -> int:
        if index + 1 < len(self.lines):
            match = _ID_LINE.match(self.lines[index + 1].visible.strip())
            if match:
                return int(match.group(1))
        return 0

    def _card(
        self,
        line: int,
        question: str,
        answer: str,
        note_type: str,
        tags: list[str],
        context: tuple[str, ...],
        anki_id: int,
        fields: tuple[tuple[str, str], ...],
    ) -> CardSource:
        default = [self.options.default_tag] if self.options.default_tag else []
        default += self.options.default_tags
        if self.options.folder_tags and self.note.folder:
            default.append(self.note.folder.replace("/", "::").replace(" ", "_"))
        all_tags = [*self.global_tags, *tags, *default]
        if not self.options.context:
            context = ()
        return CardSource(
            kind="question",
            line=line,
            question=question,
            answer=answer,
            answer_line=line,
            tags=tuple(dict.fromkeys(t for t in all_tags if t)),
            context=context,
            note_type=note_type,
            deck=self.deck,
            fields=fields,
            syntax=NAME,
            anki_id=anki_id,
        )

    def problem(self, line: int, message: str) -> None:
        self.note.diagnostics.append(Diagnostic(self.note.rel, line, "warning", message))


def _strip_anchor_lines(text: str) -> str:
    """A back without the anchor the plugin writes after it (a line of its own, or the end of
    the last line)."""
    lines = text.rstrip().split("\n")
    while lines and not _TRAILING_ANCHOR.sub("", lines[-1]).strip():
        lines.pop()
    if lines:
        lines[-1] = _TRAILING_ANCHOR.sub("", lines[-1])
    return "\n".join(lines).strip()


def _first_separator(text: str, *separators: str) -> tuple[int, str]:
    """(position, separator) of the first separator in the text, the longest one where two
    start at the same place (":::" before "::"); (-1, "") when none."""
    by_length = sorted(separators, key=len, reverse=True)
    best = (-1, "")
    for separator in by_length:
        at = text.find(separator, 1)
        if at > 0 and (best[0] < 0 or at < best[0]):
            best = (at, separator)
    return best


def _untagged_rest(rest: str) -> str:
    """What is left on a line after its tags: must be nothing for a card tag to count."""
    pieces = []
    last = 0
    for start, end, _ in obsidian.line_tags(rest):
        pieces.append(rest[last:start])
        last = end
    pieces.append(rest[last:])
    return "".join(pieces).strip()


_TRAILING_ID = re.compile(r"\s\^(\d{13})$")


def _trailing_id(text: str) -> tuple[str, int]:
    """A `^1234567890123` at the end of a line (the plugin's inlineID option): lifted off."""
    match = _TRAILING_ID.search(text)
    if match is None:
        return text, 0
    return text[: match.start()].rstrip(), int(match.group(1))


def _trailing_tags(text: str) -> tuple[str, list[str]]:
    """Tags at the end of a line: lifted off; the text before them."""
    tags = obsidian.line_tags(text)
    cut = len(text)
    names: list[str] = []
    for start, end, name in reversed(tags):
        if text[end:cut].strip():
            break
        names.insert(0, obsidian.anki_tag(name))
        cut = start
    return text[:cut].rstrip(), names


def _mask_math(text: str) -> str:
    """`$…$` and `$$…$$` replaced by NUL characters (same length): clozes never start there."""
    pieces = []
    last = 0
    for start, end in obsidian.math_spans(text):
        if start < last:
            continue
        pieces.append(text[last:start])
        pieces.append("\x00" * (end - start))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _cloze_matches(masked: str) -> list[tuple[int, int, int, int, int]]:
    """(start, end, number, answer start, answer end) of each cloze, left to right."""
    found = []
    for match in _CURLY.finditer(masked):
        number = int(match.group(1)) if match.group(1) else 1
        found.append((match.start(), match.end(), number, match.start(2), match.end(2)))
    curly_starts = [c[0] for c in found]  # curly clozes never overlap: both lists are sorted
    curly_ends = [c[1] for c in found]
    for match in obsidian.HIGHLIGHT.finditer(masked):
        at = bisect.bisect_right(curly_ends, match.start())  # first curly ending after it starts
        if at == len(curly_starts) or curly_starts[at] >= match.end():
            found.append((match.start(), match.end(), 1, match.start(1), match.end(1)))
    return sorted(found)
