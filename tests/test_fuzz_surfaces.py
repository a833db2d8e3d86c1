"""Property tests for the surfaces that came with the plugin syntaxes and `adopt`: the plugins'
settings files, review comments, clozes in every syntax, and collections given to `adopt`.

Invariants: nothing raises; a broken settings file is a warning naming it and the notes are
still read; each review comment part is a schedule or a warning; the fast scanners agree with
the plain (slow) definitions they replace; a crafted collection is read or refused with a
CollectionError, never anything else. `make test` runs a few hundred examples, `make fuzz`
(ANKIGEN_FUZZ_EXAMPLES) thousands.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from anki.collection import Collection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen import obsidian
from ankigen.anki_collection import CollectionError, read_collection
from ankigen.syntax import flashcards as fc
from ankigen.syntax import load_syntax_settings, plugin_ids, read_note, tag_matcher
from ankigen.syntax import obsidian_to_anki as ota
from ankigen.syntax import spaced_repetition as sr

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))


def examples(default: int) -> settings:
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,  # no timed tests: tests/test_scaling.py guards against slow inputs
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=not EXAMPLES,  # make test: the same examples on every run
    )


# ---------------------------------------------------------------- settings files

KEYS = {
    sr.PLUGIN_ID: [
        "flashcardTags", "convertFoldersToDecks", "singleLineCardSeparator",
        "singleLineReversedCardSeparator", "multilineCardSeparator",
        "multilineReversedCardSeparator", "multilineCardEndMarker", "clozePatterns",
        "noteFoldersToIgnore", "convertHighlightsToClozes", "convertBoldTextToClozes",
        "convertCurlyBracketsToClozes",
    ],
    ota.PLUGIN_ID: ["settings", "fields_dict", "Syntax", "Defaults", "CUSTOM_REGEXPS"],
    fc.PLUGIN_ID: [
        "flashcardsTag", "inlineSeparator", "inlineSeparatorReverse", "deck",
        "folderBasedDeck", "defaultAnkiTag", "contextAwareMode",
    ],
}  # fmt: skip
TEXTS = st.sampled_from(
    ["", " ", "::", ":::", "?", "??", "---", "#flashcards", "#card", "card", "==", "{{", "\n",
     "START", "END", "Basic", "Front", "a/b", "**", "*", "[", "==[123;;]answer[;;hint]==",
     "answer", "\\", "Deck::Sub", "x" * 300]
) | st.text(max_size=12)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(TEXTS, inner, max_size=6),
    max_leaves=30,
)


@st.composite
def plugin_settings(draw: st.DrawFn, plugin: str) -> object:
    """A data.json: an object with the plugin's keys (or nested as the plugin nests them)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)  # not even an object, sometimes
    values = {key: draw(JSON) for key in draw(st.lists(st.sampled_from(KEYS[plugin]), max_size=6))}
    if plugin == sr.PLUGIN_ID and draw(st.booleans()):
        return {"settings": values}
    if plugin == ota.PLUGIN_ID and draw(st.booleans()):
        syntax = {k: draw(TEXTS) for k in ("Begin Note", "End Note", "Begin Inline Note")}
        return {"settings": {"Syntax": syntax, "Defaults": values}, "fields_dict": draw(JSON)}
    return values


NOTE = (
    "---\ntags: [flashcards]\n---\n#flashcards #card\nq::a\n\nfront\n?\nback\n\n"
    "a ==cloze== b {c} {{c1::d}}\n\nhead #card\nback\n\nSTART\nBasic\nFront: f\nBack: b\nEND\n"
    "STARTI [Basic] x Back: y ENDI\n"
)


@examples(60)
@given(st.data())
def test_any_plugin_settings_file_is_read_or_warned_about(data):
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        written = {}
        for plugin in plugin_ids():
            if data.draw(st.booleans()):
                value = data.draw(plugin_settings(plugin))
                folder = root / ".obsidian" / "plugins" / plugin
                folder.mkdir(parents=True)
                (folder / "data.json").write_text(json.dumps(value))
                written[plugin] = f".obsidian/plugins/{plugin}/data.json"
        syntax, problems = load_syntax_settings(root)
        parsed, diagnostics = read_note("Deck/note.md", NOTE, syntax)
    for diagnostic in [*problems, *diagnostics]:
        assert diagnostic.path in (*written.values(), "Deck/note.md"), diagnostic
    # A settings file says only so much, however broken.
    for path in written.values():
        assert sum(d.path == path for d in diagnostics) <= 2 * 21
    assert all(card.question or card.fields for card in parsed.cards)


# ---------------------------------------------------------------- review comments

PARTS = st.lists(
    st.sampled_from(
        ["2024-08-16", "2000-01-01", "fsrs", "51", "-3", "230", "1e9", "x", "", " ", "1.5",
         "99999999999", "2024-13-40", "2024-02-30T10:00", "0", "2", "9.99", "--"]
    ) | st.text(alphabet=",!0123456789-.: ", max_size=8),
    max_size=11,
).map(",".join)  # fmt: skip


@examples(150)
@given(st.lists(PARTS, max_size=5), st.booleans())
def test_any_review_comment_is_a_schedule_or_a_warning(parts, bang):
    text = "".join(("!" if bang else "") + part for part in parts) or "!"
    diagnostics: list = []
    states = sr.parse_schedule(text, "n.md", 3, diagnostics)
    unread = sum(state is None for state in states)
    assert len(diagnostics) <= unread  # each warning is about a card that starts new
    for state in states:
        if state is not None:
            assert 1 <= state.interval <= sr.MAX_INTERVAL
            assert 1300 <= state.ease <= 10000
    # Through the reader: a comment after a card never raises, and never makes a card.
    note = f"#flashcards\nq::a\n<!--SR:{text}-->\nq2::a2 <!--SR:{text}-->\n"
    parsed, _ = read_note("n.md", note, sr_settings())
    assert [card.question for card in parsed.cards] == ["q", "q2"]


def sr_settings():
    from ankigen.syntax import SyntaxSettings

    return SyntaxSettings(plugins={sr.PLUGIN_ID: {"settings": {}}})


# ---------------------------------------------------------------- clozes

CLOZE_TEXT = st.text(alphabet="{}=:c12|$`\\ a\n*", max_size=60)


def _naive_close(text: str, start: int) -> int:
    """CurlyCloze's end as the plain definition has it (the scan each `{` used to make)."""
    i = start
    while True:
        close = text.find("}", i)
        if close < 0 or "\n\n" in text[start:close]:
            return -1
        if close > start and text[close - 1] != "}" and not text.startswith("}}", close):
            return close
        i = close + 1
        while i < len(text) and text[i] == "}":
            i += 1


@examples(400)
@given(CLOZE_TEXT)
def test_curly_cloze_ends_are_those_of_the_plain_definition(text):
    closes = ota._Closes(text)
    for start in range(len(text) + 1):
        assert closes.after(start) == _naive_close(text, start)


@examples(300)
@given(CLOZE_TEXT)
def test_flashcards_clozes_are_those_of_the_plain_definition(text):
    masked = fc._mask_math(text)
    found = fc._cloze_matches(masked)
    curly = [
        (m.start(), m.end(), int(m.group(1)) if m.group(1) else 1, m.start(2), m.end(2))
        for m in fc._CURLY.finditer(masked)
    ]
    expected = list(curly)
    for m in obsidian.HIGHLIGHT.finditer(masked):
        if not any(s < m.end() and m.start() < e for s, e, *_ in curly):
            expected.append((m.start(), m.end(), 1, m.start(1), m.end(1)))
    assert found == sorted(expected)
    assert len(masked) == len(text)


@examples(300)
@given(CLOZE_TEXT, st.sampled_from(["curly", "highlight", "anki"]))
def test_clozes_in_every_syntax_never_raise(text, kind):
    notes = {
        "curly": (f"START\nCloze\nText: {text}\nEND\n", {ota.PLUGIN_ID: {"settings": {
            "Defaults": {"CurlyCloze": True, "CurlyCloze - Highlights to Clozes": True}}}}),
        "highlight": (f"#flashcards\n{text}\n", {sr.PLUGIN_ID: {"settings": {
            "clozePatterns": ["==[123;;]answer[;;hint]==", "{{[123;;]answer[;;hint]}}"]}}}),
        "anki": (f"#card\n{text}\n\n#Question\nq {text}\n\nanswer\n", {}),
    }  # fmt: skip
    from ankigen.syntax import SyntaxSettings

    note, plugins = notes[kind]
    parsed, diagnostics = read_note("D/n.md", note, SyntaxSettings(plugins=plugins))
    for card in parsed.cards:
        assert card.question.strip() or card.answer.strip()
    assert all(d.path in ("D/n.md", ota.SETTINGS_FILE, sr.SETTINGS_FILE) for d in diagnostics)


# ---------------------------------------------------------------- settings matchers

SEGMENT = st.sampled_from(["a", "b", "Sub", "x y", "*", "**", "?", "[ab]", "a*", "*.md"])


@examples(300)
@given(
    st.lists(st.lists(SEGMENT, min_size=1, max_size=3).map("/".join), max_size=8),
    st.lists(st.sampled_from(["a", "b", "Sub", "x y", "n.md", "a.md"]), min_size=1, max_size=4),
)
def test_ignored_folders_match_as_each_pattern_alone_would(patterns, parts):
    rel = "/".join(parts)
    matcher = sr._ignore_matcher(tuple(patterns))

    def alone(pattern: str) -> bool:
        if any(c in pattern for c in "*?["):
            return fnmatch.fnmatchcase(rel, pattern.replace("**/", "*").replace("**", "*"))
        return rel == pattern or rel.startswith(pattern + "/")

    assert matcher(rel) == any(alone(p) for p in patterns)


@examples(300)
@given(
    st.lists(st.sampled_from(["a", "a/b", "b", "flashcards", "flashcards/x", "c/d/e"]), max_size=4),
    st.sampled_from(["a", "a/b/c", "ab", "b/a", "flashcards/x/y", "flashcardsx", "c/d", "c/d/e/f"]),
)
def test_card_tags_match_as_each_tag_alone_would(tags, path):
    expected = any(path == tag or path.startswith(tag + "/") for tag in tags)
    assert tag_matcher(tags)(path) == expected


# ---------------------------------------------------------------- collections for adopt


@pytest.fixture(scope="module")
def small_collection(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("col") / "collection.anki2"
    col = Collection(str(path))
    basic = col.models.by_name("Basic")
    for front in ("one", "two", "three"):
        note = col.new_note(basic)
        note["Front"], note["Back"] = front, "back"
        col.add_note(note, col.decks.id("D"))
    col.close()
    return path


CRAFTS = st.sampled_from(
    [
        "drop table notes",
        "drop table cards",
        "drop table notetypes",
        "drop table decks",
        "drop table fields",
        "create view v as select 1",
        "create trigger t after delete on notes begin select 1; end",
        "update notetypes set config = 7",
        "update notetypes set config = x'ffffffffffffffffff'",
        "update notetypes set config = x'0a'",
        "update notetypes set config = null",
        "update notes set flds = 7",
        "update notes set flds = x'00ff'",
        "update notes set mid = 'x'",
        "update notes set id = 'text'",
        "update cards set did = 'x'",
        "update notetypes set mtime_secs = 'x'",
        "update fields set name = x'ff'",
        "update decks set name = null",
        "insert into notes (id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data) "
        "values (9, 'g', 999, 0, 0, '', 'a', 'a', 0, 0, '')",
    ]
)


@examples(60)
@given(
    st.lists(CRAFTS, max_size=3),
    st.lists(st.tuples(st.integers(0, 200_000), st.binary(min_size=1, max_size=8)), max_size=3),
)
def test_any_crafted_collection_is_read_or_refused(small_collection, crafts, damage):
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "collection.anki2"
        shutil.copyfile(small_collection, path)
        db = sqlite3.connect(path)
        for statement in crafts:
            with contextlib.suppress(sqlite3.Error):  # one that no longer applies
                db.execute(statement)
        db.commit()
        db.close()
        size = path.stat().st_size
        with path.open("r+b") as file:  # bytes overwritten here and there: a damaged file
            for offset, data in damage:
                file.seek(offset % size)
                file.write(data)
        try:
            collection = read_collection(path)
        except CollectionError as error:
            assert "\n" not in str(error)
        else:
            assert all(isinstance(note.fields, tuple) for note in collection.notes.values())
