"""build(): the whole pipeline, one stage a line.

find notes → split and render (rendered) → resolve media → identity (identity/)
→ write packages (package); this module only says in which order.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .adoption_file import Adopted, load_adopted
from .diagnostics import Diagnostics, internal_error
from .discover import LOCK_FILE, discover_vault, vault_name
from .identity.identities import Identities
from .package import CardModel, load_card_model, remove_stale_packages
from .records import DeckPackage, Diagnostic, Folder, Vault
from .state import STATE_DIR, BuildState, FolderRecord, forget_rendered, other_vault_message
from .syntax import SyntaxSettings, load_syntax_settings
from .todo import TODO_FILE, AnkiTodo, write_todo

if TYPE_CHECKING:
    from .fetch import DiskCache
    from .identity.identify import Changes
    from .media import FetchOutcome, MediaOptions
    from .render_stage import Progress, RenderedFolder

# The stages that render, fetch and write (mistune, Pygments, nh3, Pillow, requests, genanki)
# are imported only when some folder is rebuilt: a rebuild with nothing to do stays quick.


@dataclass(frozen=True)
class BuildOptions:
    vault: Path
    out_dir: Path
    media: MediaOptions = field(default_factory=lambda: _media_options())
    force: bool = False
    lock: bool = True  # keep <vault>/ankigen.lock up to date
    exclude: tuple[str, ...] = ()
    processes: int = os.cpu_count() or 1
    syntax: tuple[str, ...] = ()  # the flashcard syntaxes read (reader names); () = all
    new_notes: bool = False  # build cards with a plugin's note id that adopt has not seen
    callout_cards: tuple[str, ...] = ()  # callout names read as cards (--callout-cards)
    callout_cards_reversed: tuple[str, ...] = ()  # ... as two cards each
    vault_name: str = ""  # --vault-name; "" = the name the lock recorded, else the folder's
    write: bool = True  # False (`ankigen check`): the lock, state and todo file are not written
    deck_prefix: str = ""  # every folder's deck goes under this one ("Study" → "Study::AWS")
    plugins: Mapping[str, Mapping[str, object]] = field(default_factory=dict)  # ankigen.toml


def _media_options() -> MediaOptions:
    from .fetch import MediaOptions

    return MediaOptions()


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
    todo: AnkiTodo = field(default_factory=AnkiTodo)  # what to do in Anki after the import
    todo_file: Path | None = None  # where that is written, next to the packages
    refused: str = ""  # why nothing was built: importing would double the user's notes


def build(options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Build one package per folder of the vault that holds cards."""
    report = Diagnostics()
    options.out_dir.mkdir(parents=True, exist_ok=True)
    vault, model, syntax, adopted = _read_vault(options, report)  # notes, settings, note types
    plan = _plan(options, vault, model, syntax, report, adopted.fingerprint)
    if not options.new_notes:  # never double the notes a plugin put into Anki
        refused = _refused(options, plan, syntax, adopted)
        if refused is not None:
            return refused
    # The workers start here, before the lock is read and the media stage imported.
    rendered = _start_rendering(options, vault, plan, syntax, report, progress)
    identities = Identities(options.lock, vault, model.fingerprint, report, options.exclude)
    identities.note_ids = adopted.note_ids  # deleted adopted cards are found by note id
    identities.syntax = syntax  # an adopted note marked DELETE is deleted
    finish, written = _folder_writer(options, vault, plan, model, adopted, identities, report)
    if rendered is not None:
        _finish_folders(rendered, finish, options, report, progress)
    removed = _remove_stale(plan, vault, options.out_dir)
    forget_rendered(options.out_dir, keep={folder.rel for folder in vault.folders})
    identities.finish()  # cards deleted from the notes are remembered
    if not options.write:  # `ankigen check`: everything is reported, nothing is kept
        return _report(plan, vault, tuple(written), removed, report, identities, None)
    todo_file = _save(options, plan, vault, identities, report)
    return _report(plan, vault, tuple(written), removed, report, identities, todo_file)


def _read_vault(
    options: BuildOptions, report: Diagnostics
) -> tuple[Vault, CardModel, SyntaxSettings, Adopted]:
    """The vault's notes, the card model, the readers' settings and the adopted note types."""
    name = vault_name(options.vault, options.vault_name, lock=options.lock)
    vault, found = discover_vault(options.vault, options.exclude, name)  # find notes
    report.extend(found)
    vault = _named(vault, options)
    model = load_card_model()
    syntax, found = load_syntax_settings(
        vault.root,
        options.syntax,
        callout_cards=options.callout_cards,
        callout_cards_reversed=options.callout_cards_reversed,
    )
    report.extend(found)
    if options.plugins:  # ankigen.toml's [plugins."<id>"] tables stand for their data.json
        syntax = replace(syntax, plugins={**syntax.plugins, **options.plugins})
    adopted, found = load_adopted(vault.root)  # note types kept from the user's collection
    report.extend(found)
    return vault, model, syntax, adopted


def _refused(
    options: BuildOptions, plan: _Plan, syntax: SyntaxSettings, adopted: Adopted
) -> BuildReport | None:
    """The report of a build refused because its packages would double notes a plugin put
    into Anki and `ankigen adopt` has not seen; None when there are none."""
    if not plan.stale:
        return None  # nothing to build (and `adopt` not imported)
    from .adopt import refusal, unadopted_ids

    unadopted = unadopted_ids(plan.stale, syntax, adopted)
    if not unadopted:
        return None
    refused = refusal(options.vault, unadopted)
    return BuildReport((), (), (), 0, 0, (Diagnostic("", 0, "error", refused),), None,
                       refused=refused)  # fmt: skip


def _start_rendering(
    options: BuildOptions,
    vault: Vault,
    plan: _Plan,
    syntax: SyntaxSettings,
    report: Diagnostics,
    progress: Progress | None,
) -> Iterable[RenderedFolder] | None:
    """The folders to rebuild, read and rendered by the workers as they are taken; None when
    every package is fresh."""
    if not plan.stale:
        return None
    report.extend(syntax.problems)  # the readers' settings, checked once, warned once
    from .embed import EmbedContext
    from .render_stage import iter_rendered

    embeds = EmbedContext.of(vault, options.exclude, options.media.cache_path)
    return iter_rendered(
        plan.stale, options.out_dir, plan.reuse, syntax, options.processes, progress, embeds
    )


_Finish = Callable[["RenderedFolder", "Mapping[str, FetchOutcome]"], None]


def _folder_writer(
    options: BuildOptions,
    vault: Vault,
    plan: _Plan,
    model: CardModel,
    adopted: Adopted,
    identities: Identities,
    report: Diagnostics,
) -> tuple[_Finish, list[str]]:
    """What finishes one rendered folder (media, identity, package, its state record), and
    the list of package names it fills."""
    written: list[str] = []

    def finish(folder: RenderedFolder, fetched: Mapping[str, FetchOutcome]) -> None:
        diagnostics, package, record = _finish_folder(
            folder, vault, options, fetched, identities, model, adopted
        )
        report.extend(diagnostics)
        plan.state.folders[folder.folder.rel] = record
        if package:
            written.append(package)
        _give_back_memory(record.cards + record.use_cases)

    return finish, written


def _finish_folders(
    rendered: Iterable[RenderedFolder],
    finish: _Finish,
    options: BuildOptions,
    report: Diagnostics,
    progress: Progress | None,
) -> None:
    """Folders are finished in vault order while the workers render the next ones. A folder
    with remote pictures waits, with all after it, until every folder is rendered: the
    pictures of all of them are then downloaded at once."""
    from .media import remote_urls

    dropped = 0
    waiting: list[RenderedFolder] = []
    for folder in rendered:
        dropped += folder.cache_dropped
        if waiting or remote_urls(folder.notes):
            waiting.append(folder)
        else:
            finish(folder, {})
        del folder  # let it go before waiting for the next one: less memory at 100k cards
    if dropped:
        where = options.out_dir / STATE_DIR
        message = f"{dropped} render cache record(s) in {where} not valid; dropped"
        report.warn("", 0, message + " and rendered again")
    fetched = _fetch_pictures(waiting, options.media, progress)  # the network, once
    for done, folder in enumerate(waiting):
        if progress:
            progress("writing packages", done, len(waiting))
        finish(folder, fetched)
    del waiting


def _save(
    options: BuildOptions, plan: _Plan, vault: Vault, identities: Identities, report: Diagnostics
) -> Path | None:
    """Write the lock, the Anki to-do file and the build state; trim the picture cache. The
    to-do file's path (None when there is nothing to do)."""
    identities.save(report)
    # The lock as this build left it: replaced or deleted by hand, every folder is identified again.
    plan.state.key = f"{plan.key}|{_lock_stamp(vault, options)}"
    todo_file = _write_todo(options.out_dir, identities, report)  # searches for the Anki Browser
    try:
        plan.state.save(options.out_dir)
    except OSError as error:  # the packages are written; the next build only takes longer
        message = f"cannot save the build state ({error}); the next build rebuilds everything"
        report.warn("", 0, message)
    if plan.stale:  # only a build that rendered something may have used the picture cache
        _trim_cache(options.media)
    if not any(record.package for record in plan.state.folders.values()):
        report.warn("", 0, f"no cards in {vault.root}: {_NO_CARDS}")
    return todo_file


_NO_CARDS = (
    "no note has a card in a syntax ankigen reads (#Question / #UseCase, or the Spaced"
    " Repetition, Obsidian_to_Anki or Flashcards plugin's cards; see --syntax)"
)


@dataclass
class _Plan:
    state: BuildState
    stale: list[Folder]  # to build
    fresh: list[Folder]  # unchanged since the last build: their packages stay
    previous_packages: set[str]
    reuse: bool  # HTML of the last build may be reused
    key: str = ""  # what shaped the packages besides the notes, the lock file's stamp aside


def _plan(
    options: BuildOptions,
    vault: Vault,
    model: CardModel,
    syntax: SyntaxSettings,
    report: Diagnostics,
    adopted_key: str = "",
) -> _Plan:
    state = BuildState.load(options.out_dir, vault.root)
    for problem in state.problems:
        report.warn("", 0, problem)
    if state.vault and state.vault != str(vault.root):
        report.warn("", 0, other_vault_message(options.out_dir, state.vault))
    previous_packages = {r.package for r in state.folders.values() if r.package}
    key = f"{_options_key(options, model)}|{syntax.fingerprint}|{adopted_key}|{vault.name}"
    built_with = f"{key}|{_lock_stamp(vault, options)}"
    if state.key != built_with or options.force or state.vault != str(vault.root):
        state = BuildState(key=key, vault=str(vault.root))
    now_there = _missing_now_there(vault, options)
    stale = [f for f in vault.folders if not state.is_fresh(f, vault, options.out_dir, now_there)]
    fresh = [f for f in vault.folders if f not in stale]
    for folder in fresh:  # their warnings still stand
        report.extend(state.diagnostics_of(state.folders[folder.rel]))
    reuse = not options.force and bool(state.folders)
    return _Plan(state, stale, fresh, previous_packages, reuse, key)


def _finish_folder(
    folder: RenderedFolder,
    vault: Vault,
    options: BuildOptions,
    fetched: Mapping[str, FetchOutcome],
    identities: Identities,
    model: CardModel,
    adopted: Adopted,
) -> tuple[list[Diagnostic], str, FolderRecord]:
    """Resolve media, give cards their identity, write the package.

    Returns the folder's diagnostics, the package written ("" for none) and its record."""
    from .ankilimits import importable
    from .fields import card_drafts
    from .foreign import with_foreign_note_types
    from .media import resolve_media

    diagnostics = list(folder.diagnostics)
    deck = folder.folder
    written = ""
    pictures: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    pictures_failed = False
    left_out: Counter[tuple[str, int]] = Counter()
    try:
        media = resolve_media(folder.notes, vault, options.media, fetched)
        diagnostics.extend(media.diagnostics)
        pictures, missing, pictures_failed = media.local_files, media.missing, media.retry
        media_files = media.media
        drafts = card_drafts(media.notes, vault, diagnostics)
        del media  # its notes: the drafts hold what the package needs
        notes_read = [note.note.rel for note in folder.notes]
        notes = identities.assign(deck, notes_read, drafts, diagnostics)
        notes = with_foreign_note_types(notes, adopted, diagnostics=diagnostics)
        checked = importable(notes, deck.deck)  # what Anki would refuse is left out, warned
        diagnostics.extend(checked.diagnostics)
        left_out = Counter((note.note_rel, note.line) for note in checked.left_out)
        package = DeckPackage(deck.deck, deck.package, checked.notes, media_files)
        written = _write_deck(package, options, identities, model)
    except OSError as error:
        where = options.out_dir / deck.package
        diagnostics.append(Diagnostic("", 0, "error", f"cannot write {where}: {error}"))
    except Exception as error:  # a bug must cost one folder, not the build
        diagnostics.append(internal_error(deck.rel or ".", 0, "folder skipped", error))
    # A download that failed may pass next time, and so may an error: the folder is built
    # again then. A picture that is missing waits for what it misses (see _missing_now_there).
    # An embedded note not found is looked for again at the next build.
    retry = pictures_failed or folder.embeds_missing
    retry = retry or any(d.severity == "error" for d in diagnostics)
    record = _record(folder, pictures, vault, diagnostics, retry, left_out)
    record.missing = list(missing)
    return diagnostics, written, record


def _write_deck(
    package: DeckPackage, options: BuildOptions, identities: Identities, model: CardModel
) -> str:
    """Write the package when it has notes; its file name, or "" when it has none."""
    if not package.notes:
        return ""
    from .package import write_package

    write_package(
        package,
        options.out_dir,
        created=identities.created,
        model_mod=identities.model_mod,
        model=model,
    )
    return package.filename


def _report(
    plan: _Plan,
    vault: Vault,
    written: tuple[str, ...],
    removed: tuple[str, ...],
    report: Diagnostics,
    identities: Identities,
    todo_file: Path | None,
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
        todo=identities.todo() if identities.enabled else AnkiTodo(),
        todo_file=todo_file,
    )


def _write_todo(out_dir: Path, identities: Identities, report: Diagnostics) -> Path | None:
    if not identities.enabled:
        return None
    try:
        return write_todo(out_dir, identities.todo())
    except OSError as error:
        report.extend([Diagnostic("", 0, "error", f"cannot write {out_dir / TODO_FILE}: {error}")])
        return None


# ---------------------------------------------------------------- media


def _trim_cache(options: MediaOptions) -> None:
    """The picture cache's least recently used files beyond its size limit go."""
    from .fetch import trim_cache  # imported here: a build with nothing to do never needs it

    trim_cache(options)


def _fetch_pictures(
    folders: list[RenderedFolder], options: MediaOptions, progress: Progress | None
) -> Mapping[str, FetchOutcome]:
    """Download every remote picture the folders use, all at once (the network edge)."""
    if not folders:
        return {}
    from .media import Fetcher, remote_urls

    urls = remote_urls(note for folder in folders for note in folder.notes)
    if not urls:
        return {}
    report = (lambda done, total: progress("fetching pictures", done, total)) if progress else None
    with Fetcher(options) as fetcher:
        return dict(fetcher.fetch_all(urls, report))


# ---------------------------------------------------------------- incremental state


def _missing_now_there(vault: Vault, options: BuildOptions) -> Callable[[str], bool]:
    """Whether a picture a folder missed at its last build can be had now: a file of that name
    is in the vault, the picture cache holds that URL, or (missed offline) this build is
    online (see FolderRecord.missing)."""
    names: set[str] | None = None
    cache: DiskCache | None = None

    def now_there(missing: str) -> bool:
        nonlocal names, cache
        kind, _, what = missing.partition(":")
        if kind == "name":
            if names is None:
                names = {rel.rsplit("/", 1)[-1].lower() for rel in vault.attachments}
            return what in names
        if kind == "offline" and not options.media.offline:
            return True
        if kind in ("url", "offline"):
            if cache is None:
                from .fetch import DiskCache  # only when a folder misses a remote picture

                cache = DiskCache(options.media.cache_path)
            entry = cache.entry(what)
            return entry is not None and cache.read_blob(entry.sha256) is not None
        return True  # not ours: build the folder again

    return now_there


def _named(vault: Vault, options: BuildOptions) -> Vault:
    """The vault with its deck prefix (ankigen.toml, --deck-prefix); its name was settled by
    discovery (the option, else the name the lock recorded, else the folder's)."""
    prefix = options.deck_prefix.strip(":")
    if not prefix:
        return vault
    folders = tuple(replace(folder, deck=f"{prefix}::{folder.deck}") for folder in vault.folders)
    return replace(vault, folders=folders)


def _lock_stamp(vault: Vault, options: BuildOptions) -> str:
    """Size, time and inode of ankigen.lock: changes whenever anything but ankigen writes it."""
    if not options.lock:
        return "no-lock"
    try:
        info = os.stat(vault.root / LOCK_FILE)
    except (OSError, ValueError):
        return "none"
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"


def _options_key(options: BuildOptions, model: CardModel) -> str:
    """What, beside the notes and pictures, shapes the packages: version, options, templates."""
    media = options.media
    named = f"{options.deck_prefix}|{options.vault_name}|{options.new_notes}"
    return f"{__version__}|{model.fingerprint}|{media.max_image_width}|{options.lock}|{named}"


def _record(
    folder: RenderedFolder,
    pictures: tuple[str, ...],
    vault: Vault,
    diagnostics: list[Diagnostic],
    retry: bool,
    left_out: Counter[tuple[str, int]] | None = None,
) -> FolderRecord:
    """The folder's record; `left_out` counts the cards (note, line) its package lacks."""
    skip = Counter(left_out)
    cards = []
    for note in folder.notes:
        for card in note.cards:
            key = (note.note.rel, card.source.line)
            if skip[key] > 0:
                skip[key] -= 1
            else:
                cards.append(card.source)
    stamps = {}
    for rel in pictures:
        try:
            info = (vault.root / rel).stat()  # the media stage read it already: no hash
            stamps[rel] = (info.st_size, info.st_mtime_ns, "")
        except OSError:
            continue
    has_cards = bool(cards)
    embeds = {}
    for rel in folder.depends_on:  # a change in an embedded note rebuilds the folder
        try:
            info = (vault.root / rel).stat()
            embeds[rel] = (info.st_size, info.st_mtime_ns, "")
        except OSError:
            continue
    return FolderRecord(
        package=folder.folder.package if has_cards else "",
        notes={note.note.rel: note.stamp for note in folder.notes},
        pictures=stamps,
        cards=sum(c.kind == "question" for c in cards),
        use_cases=sum(c.kind == "usecase" for c in cards),
        diagnostics=[(d.path, d.line, d.severity, d.message) for d in diagnostics],
        retry=retry,
        embeds=embeds,
    )


def _remove_stale(plan: _Plan, vault: Vault, out_dir: Path) -> tuple[str, ...]:
    """Forget folders gone from the vault; delete packages of folders without cards."""
    current = {f.rel for f in vault.folders}
    for rel in [rel for rel in plan.state.folders if rel not in current]:
        del plan.state.folders[rel]
    wanted = {record.package for record in plan.state.folders.values()}
    return remove_stale_packages(plan.previous_packages, wanted, out_dir)


def _give_back_memory(cards: int) -> None:
    """Return the memory finished folders freed to the system (glibc keeps it otherwise).

    A trim costs about a millisecond: it is done once some thousands of cards were written."""
    global _cards_since_trim
    _cards_since_trim += cards
    if _cards_since_trim < 2000:
        return
    _cards_since_trim = 0
    from .workers import trim_memory  # here: a build with nothing to do starts no worker

    trim_memory()


_cards_since_trim = 0
