"""Deletion is a fact about the notes, not about one build (issue 15, point 3).

A card is reported deleted only when its question is gone from its note's text. A card that
was only not built this time (its syntax filtered out by --syntax, its plugin's settings file
unreadable or cut short, a reader that failed on its note, a note type that could not be
resolved, its folder or note left out by --exclude) keeps its lock entry as it was: no deletion
is printed or written to ankigen-todo.txt, and the next full build neither adds it again nor
moves its modification time. Checked over generated vaults (hypothesis) and, on one vault, for
every combination of --syntax and --exclude.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import write_vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ankigen import syntax as syntax_module
from ankigen.build import BuildOptions, BuildReport, build
from ankigen.identity.deletions import text_words, written_in
from ankigen.identity.lockfile import load_lock
from ankigen.media import MediaOptions
from ankigen.syntax import flashcards, obsidian_to_anki, reader_names
from ankigen.todo import TODO_FILE

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0"))
OTA_SETTINGS = f".obsidian/plugins/{obsidian_to_anki.PLUGIN_ID}/data.json"
FC_SETTINGS = f".obsidian/plugins/{flashcards.PLUGIN_ID}/data.json"  # its own card tag
# Custom markers and a note type known only from the settings: with the file cut short, the
# plugin's defaults apply and none of these cards is read.
OTA_DATA = {
    "settings": {"Syntax": {"Begin Note": "BEGIN CARD", "End Note": "FINISH CARD"}},
    "fields_dict": {"Mystery": ["Text"]},
}
WORDS = [
    "anchor", "bramble", "cobalt", "dune", "ember", "fjord", "glacier", "harbour", "isthmus",
    "juniper", "kelp", "lagoon", "meadow", "nectar", "oasis", "pebble", "quartz", "reef",
    "savanna", "tundra", "umber", "valley", "willow", "xylem", "yarrow", "zephyr",
]  # fmt: skip
FOLDERS = ["Alpha", "Beta", "Alpha/Inner", ""]
KINDS = ("seed", "spaced-repetition", "obsidian-to-anki", "flashcards")


def _card(kind: str, word: str, variant: int) -> str:
    """One card of a syntax about `word`, written as a user writes it."""
    if kind == "seed":
        return f"#Q What is {word}?\nAnswer: A {word} answer.\n"
    if kind == "spaced-repetition":
        return f"Define {word}::the {word} meaning\n"
    if kind == "flashcards":
        return f"Explain {word} #memo\nBecause of {word}.\n"
    if variant == 0:
        return f"STARTI [Basic] Name {word}? Back: {word} named ENDI\n"
    if variant == 1:
        return f"BEGIN CARD\nBasic\nFront: Which {word}?\nBack: That {word}.\nFINISH CARD\n"
    return f"BEGIN CARD\nMystery\nRiddle of {word}\nFINISH CARD\n"


def _note(kind: str, words: list[str], seed_words: list[str]) -> str:
    head = {"spaced-repetition": "#flashcards\n\n"}
    lines = [head.get(kind, "")]
    for index, word in enumerate(words):
        lines.append(_card(kind, word, index % 3) + "\n")
    for word in seed_words:
        lines.append(_card("seed", word, 0) + "\n")
    return "".join(lines)


@dataclass(frozen=True)
class Shape:
    """A generated vault: (folder, plugin syntax, its words, seed words) per note."""

    notes: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...]

    def files(self) -> dict[str, str]:
        files = {
            OTA_SETTINGS: json.dumps(OTA_DATA),
            FC_SETTINGS: json.dumps({"flashcardsTag": "memo"}),
        }
        for number, (folder, kind, words, seeds) in enumerate(self.notes):
            rel = f"{folder}/Note {number}.md" if folder else f"Note {number}.md"
            files[rel] = _note(kind, list(words), list(seeds))
        return files


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    words = iter(draw(st.permutations(WORDS)))
    notes = []
    for _ in range(draw(st.integers(1, 5))):
        folder = draw(st.sampled_from(FOLDERS))
        kind = draw(st.sampled_from(KINDS[1:]))
        mine = tuple(next(words) for _ in range(draw(st.integers(0, 3))))
        seeds = tuple(next(words) for _ in range(draw(st.integers(0, 2))))
        notes.append((folder, kind, mine, seeds))
    return Shape(tuple(notes))


@dataclass(frozen=True)
class Run:
    """Why some cards are not built in one build."""

    syntax: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    cut_settings: bool = False  # the Obsidian_to_Anki and Flashcards settings cut short
    failing_reader: str = ""  # this reader raises on every note


EXCLUDES = [(), ("Alpha/*",), ("Alpha/Inner/*",), ("Beta/*", "Note 0.md"), ("*/Note 1.md",)]

runs = st.builds(
    Run,
    syntax=st.sets(st.sampled_from(KINDS), min_size=1).map(lambda s: tuple(sorted(s))),
    exclude=st.sampled_from(EXCLUDES),
    cut_settings=st.booleans(),
    failing_reader=st.sampled_from(["", *KINDS]),
)


def _failing(name: str):  # type: ignore[no-untyped-def]
    def read(note, settings):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"{name} broke on {note.rel}")

    return read


@contextlib.contextmanager
def _reader_failing(name: str) -> Iterator[None]:
    readers = syntax_module.readers()
    if not name:
        yield
        return
    original = readers[name]
    readers[name] = dataclasses.replace(original, read=_failing(name))
    try:
        yield
    finally:
        readers[name] = original


class Builds:
    """One vault built in this process (one worker: a failing reader is seen), the clock
    moving forward at each build as it does for a user."""

    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self.vault = write_vault(root / "vault", files)
        self.out = root / "dist"
        self.cache = root / "cache"
        self.clock = 1_800_000_000

    def build(self, run: Run = Run()) -> BuildReport:
        self.clock += 1000
        settings = [self.vault / OTA_SETTINGS, self.vault / FC_SETTINGS]
        whole = [path.read_text(encoding="utf-8") if path.exists() else None for path in settings]
        for path, text in zip(settings, whole, strict=True):
            if run.cut_settings and text is not None:
                path.write_text(text[: len(text) // 2], encoding="utf-8")
        previous = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(self.clock)
        try:
            with _reader_failing(run.failing_reader):
                return build(
                    BuildOptions(
                        vault=self.vault,
                        out_dir=self.out,
                        media=MediaOptions(cache_dir=self.cache, offline=True),
                        exclude=run.exclude,
                        syntax=run.syntax,
                        processes=1,
                    )
                )
        finally:
            for path, text in zip(settings, whole, strict=True):
                if text is not None:
                    path.write_text(text, encoding="utf-8")
            if previous is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = previous

    def entries(self) -> dict[str, tuple[str, str, int]]:
        """GUID → (note, content hash, mod) of every card in the lock."""
        lock, problems = load_lock(self.vault / "ankigen.lock")
        assert problems == ()
        assert lock.deleted == ()  # no build here deleted a question
        return {e.guid: (rel, e.content, e.mod) for rel, es in lock.notes.items() for e in es}


def _check_partial_then_full(builds: Builds, run: Run) -> None:
    full = builds.entries()
    partial = builds.build(run)
    assert partial.changes is not None
    assert partial.changes.removed == ()
    assert partial.todo.deleted == ()
    todo = builds.out / TODO_FILE
    assert not todo.exists() or "Notes > Delete" not in todo.read_text(encoding="utf-8")
    assert builds.entries() == full  # kept as they were, every one
    again = builds.build()
    assert again.changes is not None
    assert (again.changes.added, again.changes.removed, again.changes.kept) == ((), (), ())
    assert builds.entries() == full  # neither added again nor re-dated


@settings(
    max_examples=EXAMPLES or 25,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=shapes(), run=runs)
def test_cards_not_built_this_time_are_never_deleted(tmp_path_factory, shape, run) -> None:
    builds = Builds(tmp_path_factory.mktemp("vault"), shape.files())
    first = builds.build()
    cards = sum(len(words) + len(seeds) for _, _, words, seeds in shape.notes)
    assert first.changes is not None and len(first.changes.added) == cards
    _check_partial_then_full(builds, run)


def test_every_combination_of_syntax_and_exclude(tmp_path: Path) -> None:
    shape = Shape(
        (
            ("Alpha", "obsidian-to-anki", ("anchor", "bramble", "cobalt"), ("dune",)),
            ("Alpha/Inner", "spaced-repetition", ("ember", "fjord"), ("glacier",)),
            ("Beta", "flashcards", ("harbour", "isthmus"), ("juniper",)),
            ("", "obsidian-to-anki", ("kelp",), ("lagoon", "meadow")),
            ("Beta", "spaced-repetition", ("nectar",), ()),
        )
    )
    builds = Builds(tmp_path, shape.files())
    first = builds.build()
    assert first.changes is not None and len(first.changes.added) == 14
    names = reader_names()
    for count in range(1, len(names) + 1):
        for chosen in itertools.combinations(names, count):
            for exclude in EXCLUDES:
                _check_partial_then_full(builds, Run(syntax=chosen, exclude=exclude))


def test_a_question_gone_from_the_note_is_still_deleted(tmp_path: Path) -> None:
    """The other side: with its syntax filtered out, a card whose text is gone is deleted."""
    builds = Builds(tmp_path, Shape((("Alpha", "flashcards", ("anchor", "bramble"), ()),)).files())
    builds.build()
    note = builds.vault / "Alpha" / "Note 0.md"
    note.write_text(_note("flashcards", ["anchor"], []), encoding="utf-8")
    report = builds.build(Run(syntax=("seed",)))
    assert report.changes is not None
    assert report.changes.removed == ("Alpha/Note 0.md:4 Explain bramble",)
    assert len(report.changes.kept) == 1  # anchor: still written, only not read
    assert len(report.todo.deleted) == 1


@pytest.mark.parametrize(
    ("question", "text", "written"),
    [
        ("what is s3", "#Q What is **S3**?\nAnswer: storage", True),
        ("what is s3", "#Q What is S30?\nAnswer: cold", False),  # whole words only
        ("cloze: the danube flows into the black sea", "The Danube flows into the "
         "{{c1::Black Sea::where}}.", True),
        ("cloze: paris is the capital of france", "Text: Paris is the {capital} of "
         "{2:France}.", True),
        ("cloze: lyon is on the rhône", "Lyon is on the ==Rhône==.", True),
        ("use case: deploy", "#UseCase Deploy\nsteps", True),
        ("use case", "#UseCase\nsteps", True),  # no title: no words of its own
        ("what is [[ebs|block storage]]", "What is [[EBS|block storage]]?", True),
        ("question gone", "another question entirely", False),
        ("???", "anything", True),  # no words: cannot be told gone
    ],
)  # fmt: skip
def test_still_written(question: str, text: str, written: bool) -> None:
    assert written_in(question, text_words(text)) is written


def test_a_note_type_not_resolved_is_kept(tmp_path: Path) -> None:
    """The note type is known from the settings only; with the file cut short it is not."""
    files = {
        OTA_SETTINGS: json.dumps({"fields_dict": {"Mystery": ["Text"]}}),
        "Alpha/Riddles.md": (
            "START\nMystery\nRiddle of kelp\nEND\n\n#Q What is dune?\nAnswer: Sand.\n"
        ),
    }
    builds = Builds(tmp_path, files)
    first = builds.build()
    assert first.changes is not None and len(first.changes.added) == 2
    full = builds.entries()
    partial = builds.build(Run(cut_settings=True))
    assert any("note type 'Mystery' is unknown" in d.message for d in partial.diagnostics)
    assert partial.changes is not None
    assert partial.changes.kept == ("Alpha/Riddles.md:1 Riddle of kelp",)
    assert partial.changes.removed == ()
    assert builds.entries() == full
    _check_partial_then_full(builds, Run(cut_settings=True))


@pytest.mark.parametrize(
    "unit", ["{", "{{c1::", "::", "::a", "{2:", "a ", "::x}", "{{c1::a::", "}}"]
)
def test_text_words_scales_linearly(unit: str) -> None:
    """No backtracking: ten times the text costs about ten times the time (bound: 40). CPU
    time, best of five: other processes on the machine do not count."""
    import time

    def cost(count: int) -> float:
        text = unit * count
        best = float("inf")
        for _ in range(5):
            started = time.process_time()
            written_in("a question", text_words(text))
            best = min(best, time.process_time() - started)
        return best

    small, large = cost(50_000), cost(500_000)
    assert large < 40 * max(small, 1e-4)


def test_the_command_line_says_not_built_and_never_deleted(tmp_path: Path) -> None:
    """`build --syntax seed` on a vault of several syntaxes, through the real command line."""
    from test_adopt import cli

    shape = Shape((("Alpha", "spaced-repetition", ("anchor", "bramble"), ("cobalt",)),))
    vault = write_vault(tmp_path / "vault", shape.files())
    out = tmp_path / "dist"
    args = ("build", vault, "-o", out, "--offline", "--cache-dir", tmp_path / "cache")
    assert cli(*args).returncode == 0
    partial = cli(*args, "--syntax", "seed", "-v")
    assert partial.returncode == 0, partial.stderr
    assert "2 not built this time" in partial.stdout
    assert "not built this time: Alpha/Note 0.md:3 Define anchor" in partial.stdout
    assert "deleted" not in partial.stdout
    assert not (out / TODO_FILE).exists()
    again = cli(*args)
    assert "no card changed" in again.stdout, again.stdout
