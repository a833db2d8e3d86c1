"""Split and render stage: each folder's notes read, split into cards and rendered to HTML.

The HTML of each folder's Markdown fragments is kept in the output folder (state.py's render
cache); fragments that did not change since the last build are not rendered again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .diagnostics import internal_error
from .embed import EmbedContext, expand
from .records import (
    CLOZE,
    CardField,
    CardSource,
    Diagnostic,
    Folder,
    ParsedNote,
    RenderedCard,
    RenderedNote,
)
from .render import render_markdown
from .shown import shows_nothing
from .state import load_rendered, save_rendered, stamp
from .syntax import SyntaxSettings, read_note
from .syntax.cloze import marks_to_anki
from .syntax.cloze import plain_text as cloze_plain_text
from .workers import new_pool, terminate, trim_memory

Progress = Callable[[str, int, int], None]  # (what is being done, done, total)

# Below this many notes a process pool costs more than it saves.
_PARALLEL_MIN_NOTES = 40


@dataclass(frozen=True)
class RenderedFolder:
    folder: Folder
    notes: tuple[RenderedNote, ...]
    diagnostics: tuple[Diagnostic, ...]
    cache_dropped: int = 0  # records of the render cache that did not check out
    depends_on: tuple[str, ...] = ()  # other vault files the cards show (embedded notes)
    embeds_missing: bool = False  # an embedded note was not found: build again next time


Job = tuple[Folder, Path, bool, SyntaxSettings, EmbedContext | None]

# A worker renders this many notes of a folder at a time (about 500 cards in the benchmark's
# vaults): the results of a 5,000-card folder are neither held whole by a worker nor piled up
# whole in ankigen while it writes the folder before.
_BATCH_NOTES = 50


@dataclass(frozen=True)
class _Batch:
    """What a worker gives back for some consecutive notes of one folder."""

    notes: tuple[RenderedNote, ...]
    diagnostics: tuple[Diagnostic, ...]
    embed_problems: frozenset[Diagnostic]
    depends_on: frozenset[str]
    missing: bool
    dropped: int  # records of the folder's render cache that did not check out
    fragments: dict[str, str]  # Markdown → HTML, for the folder's render cache


_BatchJob = tuple[Folder, int, int, Path, bool, SyntaxSettings, EmbedContext | None]


def iter_rendered(
    folders: list[Folder],
    out_dir: Path,
    reuse: bool,
    syntax: SyntaxSettings,
    processes: int,
    progress: Progress | None,
    embeds: EmbedContext | None = None,
) -> Iterator[RenderedFolder]:
    """Split and render every note of the folders, one folder at a time, in their order; in
    worker processes when there is enough work. With `reuse`, fragments whose HTML the last
    build kept in `out_dir` are not rendered again.

    With a process pool the workers start at once (while the caller is still small: a forked
    worker's memory counts what the caller held then) and render batches of notes
    (_BATCH_NOTES) while the caller uses what they yielded; a folder's result is let go once
    yielded.
    """
    note_count = sum(len(f.notes) for f in folders)
    if progress:
        progress("reading notes", 0, note_count)
    if processes < 2 or len(folders) < 2 or note_count < _PARALLEL_MIN_NOTES:
        jobs = [(folder, out_dir, reuse, syntax, embeds) for folder in folders]
        return _in_order((render_folder(job) for job in jobs), note_count, progress)
    workers = min(processes, note_count // _BATCH_NOTES + 1)
    pool = new_pool(workers)
    waiting: deque[_BatchJob] = deque(
        (folder, start, start + _BATCH_NOTES, out_dir, reuse, syntax, embeds)
        for folder in folders
        for start in range(0, max(len(folder.notes), 1), _BATCH_NOTES)
    )
    # Two batches a worker handed out and not yet used: a worker that is done finds its next
    # batch waiting while the caller writes a package, and results do not pile up in memory
    # while the caller is slower.
    ahead = 2 * workers
    futures: deque[tuple[_BatchJob, Future[_Batch]]] = deque()

    def top_up() -> None:
        while waiting and len(futures) < ahead:
            job = waiting.popleft()
            futures.append((job, pool.submit(_render_batch, job)))

    def results() -> Iterator[RenderedFolder]:
        for folder in folders:
            batches = []
            while futures and futures[0][0][0] is folder:
                batches.append(futures.popleft()[1].result())
                top_up()
            if not waiting and all(future.done() for _, future in futures):
                # All rendered: the idle workers end now, not after the caller used the rest
                # (at 100,000 cards they hold 50 MB while it writes the last packages).
                pool.shutdown()
            yield _folder_of(folder, batches, out_dir)

    try:
        top_up()  # the workers start now
    except BaseException:
        terminate(pool)
        raise
    return _in_order(results(), note_count, progress, pool)


def _in_order(
    results: Iterator[RenderedFolder],
    note_count: int,
    progress: Progress | None,
    pool: ProcessPoolExecutor | None = None,
) -> Iterator[RenderedFolder]:
    done = 0
    try:
        for result in results:
            done += len(result.folder.notes)
            if progress:
                progress("reading notes", done, note_count)
            yield result
    except BaseException:  # Ctrl-C included: the workers end now, the queued work with them
        if pool:
            terminate(pool)
        raise
    if pool:
        pool.shutdown()


def render_folder(job: Job) -> RenderedFolder:
    """Read, split and render one folder's notes (in this process)."""
    folder, out_dir, reuse, syntax, embeds = job
    known, dropped = load_rendered(out_dir, folder.rel) if reuse else ({}, 0)
    batch = _render_notes(folder, 0, len(folder.notes), syntax, embeds, known, dropped)
    return _folder_of(folder, [batch], out_dir)


# A worker's render cache of the folder it renders: loaded once for all its batches.
_known: tuple[str, dict[str, str], int] = ("", {}, 0)


def _render_batch(job: _BatchJob) -> _Batch:
    """Read, split and render some notes of one folder (runs in a worker process)."""
    global _known
    folder, start, end, out_dir, reuse, syntax, embeds = job
    trim_memory()  # what the worker's previous batch left
    key = f"{out_dir}\0{folder.rel}"
    if not reuse:
        _known = ("", {}, 0)
    elif _known[0] != key:
        _known = ("", {}, 0)  # the last folder's cache goes before this one's is read
        _known = (key, *load_rendered(out_dir, folder.rel))
    return _render_notes(folder, start, end, syntax, embeds, _known[1], _known[2])


def _folder_of(folder: Folder, batches: list[_Batch], out_dir: Path) -> RenderedFolder:
    """The folder's batches put together; its render cache saved for the next build."""
    fragments: dict[str, str] = {}
    embed_problems: set[Diagnostic] = set()
    depends_on: set[str] = set()
    for batch in batches:
        fragments.update(batch.fragments)
        embed_problems.update(batch.embed_problems)
        depends_on.update(batch.depends_on)
    save_rendered(out_dir, folder.rel, fragments)
    del fragments
    diagnostics = [d for batch in batches for d in batch.diagnostics]
    diagnostics.extend(sorted(embed_problems))
    return RenderedFolder(
        folder,
        tuple(note for batch in batches for note in batch.notes),
        tuple(diagnostics),
        batches[0].dropped if batches else 0,
        tuple(sorted(depends_on - {note.rel for note in folder.notes})),
        any(batch.missing for batch in batches),
    )


def _render_notes(
    folder: Folder,
    start: int,
    end: int,
    syntax: SyntaxSettings,
    embeds: EmbedContext | None,
    known: dict[str, str],
    dropped: int,
) -> _Batch:
    """Read, split and render the folder's notes from `start` to `end`."""
    fragments: dict[str, str] = {}
    embed_problems: set[Diagnostic] = set()
    depends_on: set[str] = set()
    missing = False

    def render(markdown: str, rel: str = "", line: int = 1) -> str:
        nonlocal missing
        if embeds is not None and rel:
            # Embedded notes and drawings in place: the render cache is keyed by the result.
            expansion = expand(embeds, rel, markdown, line)
            markdown = expansion.markdown
            embed_problems.update(expansion.diagnostics)
            depends_on.update(expansion.depends_on)
            missing = missing or expansion.missing
        html = known.get(markdown)
        if html is None:
            html = render_markdown(markdown)
        fragments[markdown] = html
        return html

    notes = []
    diagnostics: list[Diagnostic] = []
    for note_file in folder.notes[start:end]:
        try:
            data = atomic.read_regular(note_file.path)  # a named pipe never blocks
        except OSError as error:
            diagnostics.append(Diagnostic(note_file.rel, 0, "error", f"cannot read note: {error}"))
            continue
        try:
            text = data.decode("utf-8-sig")  # a byte-order mark is not part of the note
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            diagnostics.append(
                Diagnostic(note_file.rel, line, "warning", "not valid UTF-8; bad bytes replaced")
            )
            text = data.decode("utf-8", errors="replace")
        try:
            note, found = read_note(note_file.rel, text, syntax, shows_nothing)
            diagnostics.extend(found)
            notes.append(_render_note(note, stamp(note_file.path, data), render))
        except Exception as error:  # one broken note must not stop the others
            diagnostics.append(internal_error(note_file.rel, 1, "note skipped", error))
    return _Batch(
        tuple(notes),
        tuple(diagnostics),
        frozenset(embed_problems),
        frozenset(depends_on),
        missing,
        dropped,
        fragments,
    )


Render = Callable[[str, str, int], str]  # (Markdown, note, its first line) → HTML


def _render_note(
    note: ParsedNote, file_stamp: tuple[int, int, str], render: Render
) -> RenderedNote:
    cards = tuple(RenderedCard(card, _card_fields(card, render, note.rel)) for card in note.cards)
    references = None
    if note.references and cards:  # once for all the note's cards
        html = render(note.references, note.rel, note.references_line)
        references = CardField(REFERENCES, html, note.references, note.references_line)
    return RenderedNote(note, cards, references, file_stamp)


# Our note type's names of a card's front and back, and of the references (package.FIELDS).
QUESTION_FIELD, ANSWER_FIELD, REFERENCES = "Question", "Answer", "References"


def _card_fields(card: CardSource, render: Render, rel: str) -> tuple[CardField, ...]:
    """The card's fields rendered: front, back, then the later fields of its own note type
    (a plugin's), each named as in that note type, else as in ours."""
    names = [name for name, _ in card.fields[:2]]
    names += [QUESTION_FIELD, ANSWER_FIELD][len(names) :]
    question_line = card.question_line or card.line
    html = render(front_markdown(card), rel, question_line)
    fields = [
        CardField(names[0], marks_to_anki(html) if card.note_type == CLOZE else html,
                  card.question, question_line),
        CardField(names[1], render(card.answer, rel, card.answer_line), card.answer,
                  card.answer_line),
    ]  # fmt: skip
    for index in range(2, len(card.fields)):
        name, markdown = card.fields[index]
        line = _field_line(card, index)
        html = render(markdown, rel, line) if markdown else ""
        fields.append(CardField(name, html, markdown, line))
    return tuple(fields)


def _field_line(card: CardSource, index: int) -> int:
    """The first line of the card's field `index` (the card's own line when not known)."""
    line = card.field_lines[index] if index < len(card.field_lines) else 0
    return line or card.line


def question_key(card: CardSource) -> str:
    """What identifies the card in its note: its front, a cloze's text read with its answers."""
    if card.note_type == CLOZE:
        return f"cloze: {cloze_plain_text(card.question)}"
    return front_markdown(card)


def front_markdown(card: CardSource) -> str:
    """The Markdown shown on the card's front."""
    if card.kind == "usecase":
        return f"Use case: {card.question}" if card.question else "Use case"
    return card.question
