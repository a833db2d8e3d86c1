"""build(): the whole pipeline, one stage a line.

find notes → split into cards → render Markdown → resolve media → identity → write packages
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import __version__, atomic
from .diagnostics import Diagnostics
from .discover import LOCK_FILE, discover_vault, is_package
from .fields import context_html, see_html, source_html
from .lock import (
    CardDraft,
    Changes,
    Lock,
    adopt_moved_notes,
    assign_identities,
    load_lock,
    save_lock,
)
from .media import Fetcher, FetchOutcome, FieldHtml, MediaOptions, remote_urls, resolve_media
from .model import AnkiNote, CardSource, DeckPackage, Diagnostic, Folder, ParsedNote, Vault
from .package import CardModel, load_card_model, write_package
from .render import render_markdown
from .split import split_note
from .state import (
    STATE_DIR,
    BuildState,
    FolderRecord,
    forget_rendered,
    load_rendered,
    other_vault_message,
    save_rendered,
    stamp,
)
from .workers import process_pool

Progress = Callable[[str, int, int], None]  # (what is being done, done, total)

# Below this many notes a process pool costs more than it saves.
_PARALLEL_MIN_NOTES = 40


@dataclass(frozen=True)
class BuildOptions:
    vault: Path
    out_dir: Path
    media: MediaOptions = field(default_factory=MediaOptions)
    force: bool = False
    lock: bool = True  # keep <vault>/ankigen.lock up to date
    exclude: tuple[str, ...] = ()
    processes: int = os.cpu_count() or 1


@dataclass(frozen=True)
class BuildReport:
    written: tuple[str, ...]  # package file names written this time
    unchanged: tuple[str, ...]  # package file names kept from the last build
    removed: tuple[str, ...]  # packages of folders that no longer have cards
    cards: int
    use_cases: int
    diagnostics: tuple[Diagnostic, ...]
    changes: Changes | None
    moved: tuple[str, ...] = ()  # "old/path.md → new/path.md": renamed notes that kept their cards


@dataclass(frozen=True)
class RenderedCard:
    source: CardSource
    question: str  # HTML
    answer: str  # HTML


@dataclass(frozen=True)
class RenderedNote:
    note: ParsedNote
    cards: tuple[RenderedCard, ...]
    references: str  # HTML, rendered once for all the note's cards
    stamp: tuple[int, int, str]


@dataclass(frozen=True)
class RenderedFolder:
    folder: Folder
    notes: tuple[RenderedNote, ...]
    diagnostics: tuple[Diagnostic, ...]
    cache_dropped: int = 0  # records of the render cache that did not check out

    @cached_property
    def media_fields(self) -> list[FieldHtml]:
        """Every HTML field that may hold pictures, in a fixed order (see _drafts)."""
        fields = []
        for note in self.notes:
            rel = note.note.rel
            for card in note.cards:
                source = card.source
                fields.append(FieldHtml(rel, card.question, source.line, source.question))
                fields.append(FieldHtml(rel, card.answer, source.answer_line, source.answer))
            if note.cards:
                fields.append(
                    FieldHtml(rel, note.references, note.note.references_line, note.note.references)
                )
        return fields


def build(options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Build one package per folder of the vault that holds cards."""
    report = Diagnostics()
    out_dir = options.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    vault, found = discover_vault(options.vault, options.exclude)  # find notes
    report.extend(found)
    model = load_card_model()
    plan = _plan(options, vault, model, report)  # skip folders that did not change

    rendered = _render_folders(plan.stale, out_dir, plan.reuse, options.processes, progress)
    if dropped := sum(folder.cache_dropped for folder in rendered):
        report.warn(
            "",
            0,
            f"{dropped} render cache record(s) in {out_dir / STATE_DIR} not valid; "
            "dropped and rendered again",
        )
    fetched = _fetch_pictures(rendered, options.media, progress)  # the network, once
    identities = _Identities(options, vault, model, report)
    written = []
    for done, folder in enumerate(rendered):
        if progress:
            progress("writing packages", done, len(rendered))
        diagnostics, package, record = _finish_folder(
            folder, vault, options, fetched, identities, model
        )
        report.extend(diagnostics)
        plan.state.folders[folder.folder.rel] = record
        if package:
            written.append(package)

    removed = _remove_stale_packages(plan.state, plan.previous_packages, vault, out_dir)
    forget_rendered(out_dir, keep={folder.rel for folder in vault.folders})
    try:
        identities.save()
    except OSError as error:  # the lock is not written; the packages are fine
        report.extend([Diagnostic(LOCK_FILE, 0, "error", f"cannot write the lock file: {error}")])
    try:
        plan.state.save(out_dir)
    except OSError as error:  # the packages are written; the next build only takes longer
        message = f"cannot save the build state ({error}); the next build rebuilds everything"
        report.warn("", 0, message)
    if not any(record.package for record in plan.state.folders.values()):
        report.warn("", 0, f"no cards in {vault.root}: no note has a #Question or #UseCase line")
    return _report(plan, vault, tuple(written), removed, report, identities)


@dataclass
class _Plan:
    state: BuildState
    stale: list[Folder]  # to build
    fresh: list[Folder]  # unchanged since the last build: their packages stay
    previous_packages: set[str]
    reuse: bool  # HTML of the last build may be reused


def _plan(options: BuildOptions, vault: Vault, model: CardModel, report: Diagnostics) -> _Plan:
    state = BuildState.load(options.out_dir, vault.root)
    for problem in state.problems:
        report.warn("", 0, problem)
    if state.vault and state.vault != str(vault.root):
        report.warn("", 0, other_vault_message(options.out_dir, state.vault))
    previous_packages = {r.package for r in state.folders.values() if r.package}
    key = _options_key(options, model)
    if state.key != key or options.force or state.vault != str(vault.root):
        state = BuildState(key=key, vault=str(vault.root))
    stale = [f for f in vault.folders if not state.is_fresh(f, vault, options.out_dir)]
    fresh = [f for f in vault.folders if f not in stale]
    for folder in fresh:  # their warnings still stand
        report.extend(state.diagnostics_of(state.folders[folder.rel]))
    reuse = not options.force and bool(state.folders)
    return _Plan(state, stale, fresh, previous_packages, reuse)


def _finish_folder(
    folder: RenderedFolder,
    vault: Vault,
    options: BuildOptions,
    fetched: Mapping[str, FetchOutcome],
    identities: _Identities,
    model: CardModel,
) -> tuple[list[Diagnostic], str, FolderRecord]:
    """Resolve media, give cards their identity, write the package.

    Returns the folder's diagnostics, the package written ("" for none) and its record."""
    diagnostics = list(folder.diagnostics)
    deck = folder.folder
    written = ""
    pictures: tuple[str, ...] = ()
    pictures_failed = False
    try:
        media = resolve_media(folder.media_fields, vault, options.media, fetched)
        diagnostics.extend(media.diagnostics)
        pictures, pictures_failed = media.local_files, bool(media.diagnostics)
        notes = identities.assign(folder, _drafts(folder, media.html, vault), diagnostics)
        package = DeckPackage(deck.deck, deck.package, notes, media.media)
        if package.notes:
            write_package(
                package,
                options.out_dir,
                created=identities.created,
                model_mod=identities.model_mod,
                model=model,
            )
            written = package.filename
    except OSError as error:
        where = options.out_dir / deck.package
        diagnostics.append(Diagnostic("", 0, "error", f"cannot write {where}: {error}"))
    except Exception as error:  # a bug must cost one folder, not the build
        diagnostics.append(internal_error(deck.rel or ".", 0, "folder skipped", error))
    # A picture that was missing or failed may be there next time: try the folder again then.
    retry = pictures_failed or any(d.severity == "error" for d in diagnostics)
    return diagnostics, written, _record(folder, pictures, vault, diagnostics, retry)


class _Identities:
    """GUIDs and modification times for every card, kept in the vault's lock file."""

    def __init__(
        self, options: BuildOptions, vault: Vault, model: CardModel, report: Diagnostics
    ) -> None:
        self.enabled = options.lock
        self.path = vault.root / LOCK_FILE
        lock, problems = load_lock(self.path) if self.enabled else (Lock(), ())
        report.extend(problems)
        existing = {n.rel for f in vault.folders for n in f.notes}
        # Notes gone from the vault: their cards are removed, unless the note was only moved.
        self.orphans = {rel: cards for rel, cards in lock.notes.items() if rel not in existing}
        self.lock, _ = lock.pruned(existing)
        self.changes: list[Changes] = []
        self.moved: list[str] = []
        epoch = _source_date_epoch(report)
        self.now = int(time.time()) if epoch is None else epoch
        self.created = epoch or 0  # the collection's creation time: fixed, never the clock
        self.model_mod: int | None = None  # without a lock the note type carries `created`
        if self.enabled:
            self.lock, self.model_mod = self.lock.with_model(model.fingerprint, self.now)
        self.fallback_mod = _ModTimes(vault.root)

    def assign(
        self, folder: RenderedFolder, drafts: list[CardDraft], diagnostics: list[Diagnostic]
    ) -> tuple[AnkiNote, ...]:
        self.lock, moved = adopt_moved_notes(self.lock, self.orphans, drafts)
        self.moved.extend(moved)
        scope = [note.rel for note in folder.folder.notes]
        identified = assign_identities(drafts, self.lock, self.fallback_mod, self.now, scope=scope)
        self.lock = self.lock.updated(identified.lock)
        self.changes.append(identified.changes)
        diagnostics.extend(identified.diagnostics)
        return identified.notes

    def save(self) -> None:
        if self.enabled:
            save_lock(self.path, self.lock)

    def all_changes(self) -> Changes:
        """What changed for the cards, over the whole build."""
        removed = Changes(
            removed=tuple(
                f"{rel}: {card.question}"
                for rel, cards in sorted(self.orphans.items())
                for card in cards
            )
        )
        return merge_changes([*self.changes, removed])


def _report(
    plan: _Plan,
    vault: Vault,
    written: tuple[str, ...],
    removed: tuple[str, ...],
    report: Diagnostics,
    identities: _Identities,
) -> BuildReport:
    records = [plan.state.folders[f.rel] for f in vault.folders if f.rel in plan.state.folders]
    unchanged = (plan.state.folders[f.rel].package for f in plan.fresh)
    return BuildReport(
        written=written,
        unchanged=tuple(name for name in unchanged if name),
        removed=removed,
        cards=sum(r.cards for r in records),
        use_cases=sum(r.use_cases for r in records),
        diagnostics=tuple(report.sorted()),
        changes=identities.all_changes() if identities.enabled else None,
        moved=tuple(identities.moved),
    )


def _source_date_epoch(report: Diagnostics) -> int | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org), when set."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        report.warn("", 0, f"SOURCE_DATE_EPOCH={value!r} is not a whole number; ignored")
        return None


def internal_error(path: str, line: int, what: str, error: Exception) -> Diagnostic:
    """The message for a bug caught by a guard; its traceback goes with it for --verbose."""
    message = (
        f"{what}, ankigen failed on it: {error!r} (rerun with --verbose to see where, "
        "and please report it)"
    )
    return Diagnostic(path, line, "error", message, detail=traceback.format_exc())


# ---------------------------------------------------------------- split and render


def _render_folders(
    folders: list[Folder], out_dir: Path, reuse: bool, processes: int, progress: Progress | None
) -> list[RenderedFolder]:
    """Split and render every note of the folders, in parallel when there is enough work.

    The HTML of each folder's fragments is kept in `out_dir`; with `reuse`, fragments that did
    not change since the last build are not rendered again.
    """
    jobs = [(folder, out_dir, reuse) for folder in folders]
    note_count = sum(len(f.notes) for f in folders)
    if progress:
        progress("reading notes", 0, note_count)
    if processes < 2 or len(folders) < 2 or note_count < _PARALLEL_MIN_NOTES:
        results = []
        for job in jobs:
            results.append(render_folder(job))
            if progress:
                progress("reading notes", sum(len(r.folder.notes) for r in results), note_count)
        return results
    biggest_first = sorted(jobs, key=lambda job: -len(job[0].notes))
    done = 0
    results_by_rel: dict[str, RenderedFolder] = {}
    with process_pool(min(processes, len(folders))) as pool:
        for result in pool.map(render_folder, biggest_first):
            results_by_rel[result.folder.rel] = result
            done += len(result.folder.notes)
            if progress:
                progress("reading notes", done, note_count)
    return [results_by_rel[f.rel] for f in folders]


def render_folder(job: tuple[Folder, Path, bool]) -> RenderedFolder:
    """Read, split and render one folder's notes (runs in a worker process)."""
    folder, out_dir, reuse = job
    known, dropped = load_rendered(out_dir, folder.rel) if reuse else ({}, 0)
    fragments: dict[str, str] = {}

    def render(markdown: str) -> str:
        html = known.get(markdown)
        if html is None:
            html = render_markdown(markdown)
        fragments[markdown] = html
        return html

    notes = []
    diagnostics: list[Diagnostic] = []
    for note_file in folder.notes:
        try:
            data = atomic.read_regular(note_file.path)
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
            note, found = split_note(note_file.rel, text)
            diagnostics.extend(found)
            notes.append(_render_note(note, stamp(note_file.path, data), render))
        except Exception as error:  # one broken note must not stop the others
            diagnostics.append(internal_error(note_file.rel, 1, "note skipped", error))
    save_rendered(out_dir, folder.rel, fragments)
    return RenderedFolder(folder, tuple(notes), tuple(diagnostics), dropped)


def _render_note(
    note: ParsedNote, file_stamp: tuple[int, int, str], render: Callable[[str], str]
) -> RenderedNote:
    cards = tuple(
        RenderedCard(card, render(_front_markdown(card)), render(card.answer))
        for card in note.cards
    )
    references = render(note.references) if note.references and cards else ""
    return RenderedNote(note, cards, references, file_stamp)


def _front_markdown(card: CardSource) -> str:
    if card.kind == "usecase":
        return f"Use case: {card.question}" if card.question else "Use case"
    return card.question


# ---------------------------------------------------------------- media


def _fetch_pictures(
    folders: list[RenderedFolder], options: MediaOptions, progress: Progress | None
) -> Mapping[str, FetchOutcome]:
    """Download every remote picture the folders use, all at once (the network edge)."""
    urls = remote_urls(field for folder in folders for field in folder.media_fields)
    if not urls:
        return {}
    report = (lambda done, total: progress("fetching pictures", done, total)) if progress else None
    with Fetcher(options) as fetcher:
        return dict(fetcher.fetch_all(urls, report))


# ---------------------------------------------------------------- identity


def _drafts(folder: RenderedFolder, html: tuple[str, ...], vault: Vault) -> list[CardDraft]:
    """Cards with their final fields, before identity; `html` in media_fields' order."""
    drafts = []
    position = 0
    for note in folder.notes:
        if not note.cards:
            continue
        references = html[position + 2 * len(note.cards)]
        for card in note.cards:
            source = card.source
            fields = (
                html[position],
                html[position + 1],
                context_html(note.note.title, source.context),
                see_html(source.see),
                references,
                source_html(vault.name, note.note.rel, source.line),
            )
            position += 2
            drafts.append(
                CardDraft(
                    note_rel=note.note.rel,
                    line=source.line,
                    question_key=_front_markdown(source),
                    answer_key=source.answer,
                    fields=fields,
                    tags=tuple(dict.fromkeys((*source.tags, *note.note.tags))),
                )
            )
        position += 1
    return drafts


class _ModTimes:
    """A new card's modification time: its note's last git commit, else the file's mtime."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._git: dict[str, int] | None = None

    def __call__(self, rel: str) -> int:
        if self._git is None:
            self._git = _git_commit_times(self.root)
        if rel in self._git:
            return self._git[rel]
        try:
            return int((self.root / rel).stat().st_mtime)
        except OSError:
            return 0


def _git_commit_times(root: Path) -> dict[str, int]:
    """Last commit time of every file under `root`, from one `git log` (empty outside git)."""
    try:
        result = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "-c",
                "core.quotepath=off",  # else git writes "Caf\303\251.md" for Café.md
                "log",
                "--format=%x00%ct",
                "--name-only",
                "--relative",
                "--",
                ".",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    times: dict[str, int] = {}
    for entry in result.stdout.split("\x00")[1:]:
        lines = entry.strip().splitlines()
        if not lines:
            continue
        commit_time = int(lines[0])
        for name in lines[1:]:
            times.setdefault(name, commit_time)  # the log is newest first
    return times


def merge_changes(parts: list[Changes]) -> Changes:
    """One Changes for the whole build, from each folder's."""
    kinds = ("added", "changed", "reworded", "removed", "unchanged")
    return Changes(
        **{kind: tuple(x for part in parts for x in getattr(part, kind)) for kind in kinds}
    )


# ---------------------------------------------------------------- incremental state


def _options_key(options: BuildOptions, model: CardModel) -> str:
    """What, beside the notes and pictures, shapes the packages: version, options, templates."""
    media = options.media
    return f"{__version__}|{model.fingerprint}|{media.max_image_width}|{options.lock}"


def _record(
    folder: RenderedFolder,
    pictures: tuple[str, ...],
    vault: Vault,
    diagnostics: list[Diagnostic],
    retry: bool,
) -> FolderRecord:
    cards = [card.source for note in folder.notes for card in note.cards]
    stamps = {}
    for rel in pictures:
        try:
            info = (vault.root / rel).stat()  # the media stage read it already: no hash
            stamps[rel] = (info.st_size, info.st_mtime_ns, "")
        except OSError:
            continue
    has_cards = bool(cards)
    return FolderRecord(
        package=folder.folder.package if has_cards else "",
        notes={note.note.rel: note.stamp for note in folder.notes},
        pictures=stamps,
        cards=sum(c.kind == "question" for c in cards),
        use_cases=sum(c.kind == "usecase" for c in cards),
        diagnostics=[(d.path, d.line, d.severity, d.message) for d in diagnostics],
        retry=retry,
    )


def _remove_stale_packages(
    state: BuildState, previous: set[str], vault: Vault, out_dir: Path
) -> tuple[str, ...]:
    """Delete the packages ankigen wrote before for folders that no longer have cards."""
    current = {f.rel for f in vault.folders}
    for rel in [rel for rel in state.folders if rel not in current]:
        del state.folders[rel]
    wanted = {record.package for record in state.folders.values()}
    removed = []
    for package in sorted(previous - wanted):
        if not is_package(out_dir, package):  # the state file is not trusted: never anything else
            continue
        with contextlib.suppress(FileNotFoundError):
            (out_dir / package).unlink()
            removed.append(package)
    return tuple(removed)
