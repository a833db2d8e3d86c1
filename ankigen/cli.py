"""Command line: `ankigen build|check|preview|plan|adopt|cache …` (`build_deck.py` is build)."""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import math
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .config import CONFIG_FILE, ConfigError, VaultConfig, key_line, load_config
from .diagnostics import (
    FORMATS,
    IGNORE_KEY,
    Formatter,
    default_format,
    plural,
    printable,
    say,
    without_ignored,
)
from .interrupts import Interrupts, stop_quietly_on_interrupt

if TYPE_CHECKING:
    from .build import BuildOptions, BuildReport

# In a checkout the example vault is the default; an installed ankigen has none beside it.
EXAMPLE_VAULT = Path(__file__).resolve().parent.parent / "examples" / "vault"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


COMMANDS = ("build", "check", "preview", "plan", "adopt", "cache")
_ABOUT = (
    "Turn a vault of Obsidian notes into Anki packages: one .apkg per folder that holds cards "
    "(#Question / #UseCase, and the Spaced Repetition, Obsidian_to_Anki and Flashcards "
    "plugins' syntaxes), deck named after the folder path unless the syntax chooses one."
)
_EXIT = (
    "Exit status: 0 built (warnings are printed), 1 errors (or warnings with --strict), "
    "2 usage error, 130 interrupted."
)


def top_parser() -> argparse.ArgumentParser:
    """`ankigen COMMAND …`: one parser, a subcommand each."""
    p = argparse.ArgumentParser(
        prog="ankigen",
        description=_ABOUT,
        epilog=f"`ankigen VAULT` alone is `ankigen build VAULT`. {_EXIT} Coming from "
        "Obsidian_to_Anki or Flashcards? Run `ankigen adopt VAULT --collection PATH` once "
        "first. Options can also live in VAULT/ankigen.toml (see the README).",
    )
    p.add_argument("--version", action="version", version=f"ankigen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    helps = {
        "build": "write one .apkg per folder of the vault (the default command)",
        "check": "report everything a build would, write nothing (same exit status)",
        "preview": "build, then write OUT/preview/index.html showing every card",
    }
    for name, text in helps.items():
        add_build_options(sub.add_parser(name, help=text, description=text), name)
    sub.add_parser("plan", help="show what a build would change in Anki", add_help=False)
    sub.add_parser(
        "adopt", help="take over the cards a plugin already put into Anki", add_help=False
    )
    cache = sub.add_parser("cache", help="show or empty the cache of downloaded pictures")
    _cache_options(cache)
    return p


def parser(prog: str = "ankigen build", command: str = "build") -> argparse.ArgumentParser:
    """The parser of one command (build, check or preview) on its own."""
    p = argparse.ArgumentParser(
        prog=prog,
        description=_ABOUT,
        epilog=f"{_EXIT} Other commands: `ankigen --help`.",
    )
    add_build_options(p, command)
    p.add_argument("--version", action="version", version=f"ankigen {__version__}")
    return p


def add_build_options(p: argparse.ArgumentParser, command: str) -> None:
    """The options of build, check and preview. Defaults are None: a value not given on the
    command line comes from VAULT/ankigen.toml, else from config.OPTIONS."""
    _add_vault_options(p, command)
    _add_picture_options(p)
    _add_reading_options(p)
    _add_identity_options(p)
    _add_report_options(p, command)


def _add_vault_options(p: argparse.ArgumentParser, command: str) -> None:
    """The vault read and the folder written."""
    p.add_argument(
        "vault",
        nargs="?",
        type=Path,
        default=None,
        help="the Obsidian vault folder (default, in a checkout of ankigen: its example vault)",
    )
    if command != "check":
        p.add_argument(
            "-o",
            "--out",
            type=Path,
            help="where to write the .apkg files (default: ankigen.toml's out, else dist)",
        )


def _add_picture_options(p: argparse.ArgumentParser) -> None:
    """Downloading, caching and scaling pictures."""
    p.add_argument(
        "--cache-dir",
        type=Path,
        help="where downloaded pictures are cached (default: the user cache folder, "
        "e.g. ~/.cache/ankigen)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        default=None,
        help="no network: use cached pictures only, warn about the others",
    )
    p.add_argument(
        "--timeout",
        type=_bounded(float, 0.0, 3600.0, low_open=True),
        metavar="SECONDS",
        help="connect and read timeout for each picture download (default: 10)",
    )
    p.add_argument(
        "--jobs",
        type=_bounded(int, 1, 256),
        metavar="N",
        help="pictures downloaded at once, all servers together (default: 32)",
    )
    p.add_argument(
        "--jobs-per-host",
        type=_bounded(int, 1, 256),
        metavar="N",
        help="pictures downloaded at once from one server (default: 16)",
    )
    p.add_argument(
        "--cache-max-size",
        type=_size,
        metavar="SIZE",
        help="the picture cache keeps at most this much; the least recently used files "
        "beyond are deleted after a build (e.g. 200M, 2G; default: 500M)",
    )
    p.add_argument(
        "--max-image-width",
        type=_bounded(int, 1, 65535),
        metavar="PIXELS",
        help="wider pictures are scaled down to this width (default: 1600)",
    )


def _add_reading_options(p: argparse.ArgumentParser) -> None:
    """Which notes and card syntaxes are read, and how decks are named."""
    p.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="skip vault paths matching GLOB (relative to the vault, e.g. 'Drafts/*'); repeatable",
    )
    p.add_argument(
        "--syntax",
        action="append",
        type=_syntax_names,
        metavar="NAMES",
        help="read only these flashcard syntaxes, comma-separated (default: all): "
        "seed (#Question / Answer:), spaced-repetition (the Spaced Repetition plugin's "
        "::, ?, ==cloze==), obsidian-to-anki (START/END, STARTI/ENDI, regex notes), "
        "flashcards (#card, ::, > [!CARD]), callouts (see --callout-cards); repeatable",
    )
    p.add_argument(
        "--callout-cards",
        action="append",
        type=_callout_names,
        metavar="NAMES",
        help="read callouts of these names as cards, comma-separated (e.g. question,faq): "
        "'> [!question]- front' with the callout's body as the back; off by default; "
        "repeatable",
    )
    p.add_argument(
        "--callout-cards-reversed",
        action="append",
        type=_callout_names,
        metavar="NAMES",
        help="like --callout-cards, but each such callout makes two cards (front→back and "
        "back→front); repeatable",
    )
    p.add_argument("--deck-prefix", metavar="DECK", help="put every folder's deck under DECK")
    p.add_argument(
        "--vault-name",
        type=_vault_name,
        metavar="NAME",
        help="the vault's name in Obsidian (root deck, obsidian:// links), recorded in "
        "ankigen.lock (default: the recorded name, else the vault folder's name)",
    )


def _add_identity_options(p: argparse.ArgumentParser) -> None:
    """Rebuilding, the lock file, plugin notes and strictness."""
    p.add_argument(
        "--force", action="store_true", help="rebuild every folder, even the unchanged ones"
    )
    p.add_argument(
        "--no-lock",
        dest="lock",
        action="store_false",
        default=None,
        help="do not read or write <vault>/ankigen.lock (card identities and modification "
        "times then come from git or file times only)",
    )
    p.add_argument(
        "--new-notes",
        action="store_true",
        default=None,
        help="build cards that carry an Anki note id Obsidian_to_Anki or Flashcards wrote "
        "(<!--ID: n-->, ^n) although `ankigen adopt` has not seen it, as new notes: importing "
        "them adds a second note beside the plugin's (without it such a build is refused)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="fail (exit 1) when there are warnings",
    )


def _add_report_options(p: argparse.ArgumentParser, command: str) -> None:
    """How diagnostics and changes are shown, and the preview."""
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="how diagnostics are printed: text lines, one json object, or GitHub workflow "
        "annotations (default: github when GITHUB_ACTIONS=true, else text)",
    )
    p.add_argument(
        "--ignore",
        action="append",
        metavar="CODE",
        help="silence diagnostics with this code (e.g. AG401; listed in the README); "
        f"repeatable; a note silences its own with `{IGNORE_KEY}: [CODE]` in its frontmatter",
    )
    if command == "build":
        p.add_argument(
            "--preview",
            action="store_true",
            help="also write OUT/preview/index.html, every card as Anki shows it",
        )
    verbosity = p.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="print only warnings and errors"
    )
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="also list every package and card change"
    )


def main(argv: list[str] | None = None) -> int:
    """`ankigen COMMAND …`; `ankigen VAULT …` without a command is `ankigen build VAULT …`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the command itself, not a caller in Python: Ctrl-C from the very start
        stop_quietly_on_interrupt("ankigen adopt" if args[:1] == ["adopt"] else "ankigen")
    first = args[0] if args else ""
    if first == "adopt":
        from .adopt import main as adopt_main

        return adopt_main(args[1:], prog="ankigen adopt")
    if first == "plan":
        return _plan_command(args[1:])
    if first in ("-h", "--help", "--version") or first == "cache":
        try:
            options = top_parser().parse_args(args)
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return cache_command(options)
    if first in ("build", "check", "preview"):
        return run(args[1:], prog=f"ankigen {first}", command=first)
    return run(args, prog="ankigen build")


def _plan_command(argv: list[str]) -> int:
    from .plan import main as plan_main

    return int(plan_main(argv, prog="ankigen plan"))


def _cache_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("info", "clear"))
    p.add_argument("--cache-dir", type=Path, help="the cache folder (default: as for build)")


def cache_command(args: argparse.Namespace) -> int:
    """`ankigen cache info|clear [--cache-dir DIR]`: show or empty the picture cache."""
    from .fetch import MediaOptions, cache_info, clear_cache

    root = MediaOptions(cache_dir=args.cache_dir).cache_path
    if args.action == "clear":
        freed = clear_cache(root)
        say(f"ankigen: cache {root} emptied, {_megabytes(freed)} freed", sys.stdout)
        return EXIT_OK
    info = cache_info(root)
    limit = _megabytes(MediaOptions().cache_max_bytes)
    say(f"cache: {info.path}", sys.stdout)
    print(
        f"size: {_megabytes(info.size)} in {plural(info.files, 'file')} "
        f"({plural(info.urls, 'downloaded picture')})"
    )
    print(f"limit: {limit} (change with `ankigen build --cache-max-size`)")
    return EXIT_OK


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def run(argv: list[str], prog: str, command: str = "build") -> int:
    """build, check or preview (`build_deck.py` runs build)."""
    try:
        options = parser(prog, command).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    options.command = command
    for stream in (sys.stdout, sys.stderr):  # a file name must never stop the printing
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    problem = _settle(options, prog)
    if problem is not None:
        return problem
    interrupts = None
    try:
        interrupts = Interrupts()
        status = _build(options)
        if interrupts.fired:  # the KeyboardInterrupt was swallowed on the way
            raise KeyboardInterrupt
        return status
    except KeyboardInterrupt:
        if interrupts is None:
            say("ankigen: interrupted", sys.stderr)
        else:
            interrupts.report()
        return EXIT_INTERRUPTED
    except OSError as error:  # a disk problem outside any one note (output folder, cache)
        say(f"ankigen: error: {error}", sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # the last guard: a message, never a traceback
        if options.verbose:
            for line in traceback.format_exc().rstrip().splitlines():
                say(line, sys.stderr)
        say(
            f"ankigen: error: internal error: {error!r} (rerun with --verbose to see where, "
            "and please report it)",
            sys.stderr,
        )
        return EXIT_FAILED
    finally:
        if interrupts is not None:
            interrupts.restore()


def _settle(options: argparse.Namespace, prog: str) -> int | None:
    """Vault, ankigen.toml and output folder checked, every option given its value; the exit
    status when something is wrong (one line said why), else None."""
    status = _settle_vault(options, prog)
    if status is not None:
        return status
    vault: Path = options.vault
    try:
        config = load_config(vault)
    except ConfigError as error:
        say(str(error), sys.stderr)
        return EXIT_USAGE
    options.plugins = config.plugins
    status = _settle_values(options, config)
    if status is not None:
        return status
    if options.format is None:
        options.format = default_format()
    if options.command == "check":
        options.out = None
        return None
    if options.out is None:
        given = config.values
        options.out = vault / given["out"] if "out" in given else Path("dist")
    return _check_out(options.out, vault, prog, options.exclude)


def _settle_vault(options: argparse.Namespace, prog: str) -> int | None:
    """The vault folder (the example vault when none is given) checked: the exit status when
    it is missing or a file, else None."""
    if options.vault is None:
        if not EXAMPLE_VAULT.is_dir():
            say(
                f"{prog}: error: no vault given: pass your Obsidian vault's folder, "
                f"e.g. `{prog} ~/Notes -o decks`",
                sys.stderr,
            )
            return EXIT_USAGE
        options.vault = EXAMPLE_VAULT
    vault: Path = options.vault
    if vault.is_file():
        hint = f" (its folder is {vault.parent})" if vault.suffix.lower() == ".md" else ""
        say(
            f"{prog}: error: {vault} is a file; pass the vault's folder, the one that "
            f"holds your notes and .obsidian{hint}",
            sys.stderr,
        )
        return EXIT_USAGE
    if not vault.is_dir():
        say(f"{prog}: error: vault folder not found: {vault}", sys.stderr)
        return EXIT_USAGE
    return None


def _option_defaults() -> dict[str, Any]:
    """The value of each option neither the command line nor ankigen.toml gives (new lists
    each call: options own them)."""
    return {
        "timeout": 10.0,
        "jobs": 32,
        "jobs_per_host": 16,
        "cache_max_size": 500 * 1024**2,
        "max_image_width": 1600,
        "exclude": [],
        "syntax": [],
        "deck_prefix": "",
        "vault_name": "",
        "callout_cards": [],
        "callout_cards_reversed": [],
        "new_notes": False,
        "offline": False,
        "lock": True,
        "strict": False,
        "ignore": [],
    }


def _settle_values(options: argparse.Namespace, config: VaultConfig) -> int | None:
    """Each option the command line left out, from ankigen.toml or its default; the exit
    status when a value in ankigen.toml is wrong (said with its line), else None."""
    given = config.values
    for key, default in _option_defaults().items():
        if getattr(options, key) is not None:
            continue
        try:
            value = _config_value(key, given[key]) if key in given else default
        except argparse.ArgumentTypeError as error:
            line = key_line(config.path.read_text("utf-8-sig"), key) if config.path else 0
            say(f"{CONFIG_FILE}:{line}: error: '{key}': {error}", sys.stderr)
            return EXIT_USAGE
        setattr(options, key, value)
    return None


def _config_value(key: str, value: Any) -> Any:
    """An option's value as ankigen.toml gives it, read as the command line reads it."""
    if key == "cache_max_size":
        return _size(str(value))
    if key == "syntax":
        return [_syntax_names(",".join(value))]
    if key in ("callout_cards", "callout_cards_reversed"):
        return [_callout_names(",".join(value))] if value else []
    if key == "vault_name":
        return _vault_name(value)
    return value


def _check_out(out: Path, vault: Path, prog: str, exclude: list[str]) -> int | None:
    """The output folder: not a file, not inside the vault, writable."""
    if out.exists() and not out.is_dir():
        say(f"{prog}: error: -o {out} is a file; pass a folder for the packages", sys.stderr)
        return EXIT_USAGE
    if _read_by_build(out, vault, exclude):
        say(
            f"{prog}: error: the output folder {out} is inside the vault, where the build "
            "reads notes; choose a folder outside it (e.g. -o ../decks) or exclude it "
            "(--exclude)",
            sys.stderr,
        )
        return EXIT_USAGE
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        why = error.strerror or type(error).__name__
        say(f"{prog}: error: cannot write to the output folder {out}: {why}", sys.stderr)
        return EXIT_FAILED
    return None


def _read_by_build(out: Path, vault: Path, exclude: list[str]) -> bool:
    """True when `out` is a folder of the vault that discovery walks (not hidden, excluded)."""
    root, folder = vault.resolve(), out.resolve()
    if not folder.is_relative_to(root):
        return False
    parts = folder.relative_to(root).parts
    if not parts or any(part.startswith(".") for part in parts):
        return not parts
    paths = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    return not any(fnmatch.fnmatch(path, pattern) for path in paths for pattern in exclude)


def build_options(args: argparse.Namespace, out: Path, *, write: bool = True) -> BuildOptions:
    """The BuildOptions of settled command-line options (see _settle); plan uses it too."""
    from .build import BuildOptions  # imported here: --help and --version stay quick
    from .fetch import MediaOptions  # not .media: that one imports the Markdown plugins

    media = MediaOptions(
        cache_dir=args.cache_dir,
        offline=args.offline,
        timeout=args.timeout,
        jobs=args.jobs,
        jobs_per_host=args.jobs_per_host,
        max_image_width=args.max_image_width,
        cache_max_bytes=args.cache_max_size,
    )
    return BuildOptions(
        vault=args.vault,
        out_dir=out,
        media=media,
        force=args.force,
        lock=args.lock,
        exclude=tuple(args.exclude),
        syntax=tuple(name for names in args.syntax for name in names),
        new_notes=args.new_notes,
        callout_cards=tuple(name for names in args.callout_cards for name in names),
        callout_cards_reversed=tuple(
            name for names in args.callout_cards_reversed for name in names
        ),
        write=write,
        deck_prefix=args.deck_prefix,
        vault_name=args.vault_name,
        plugins=args.plugins,
    )


def _build(args: argparse.Namespace) -> int:
    from .build import build

    checking = args.command == "check"
    with contextlib.ExitStack() as stack:
        if checking:  # the packages are written where nothing is kept, then thrown away
            args.out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ankigen-")))
        options = build_options(args, args.out, write=not checking)
        started = time.perf_counter()
        quiet = args.quiet or args.format != "text"
        progress = ProgressLine(sys.stderr) if not quiet and sys.stderr.isatty() else None
        try:
            report = build(options, progress)
        finally:
            if progress:
                progress.clear()
        if report.refused:  # one line: what to run
            say(f"ankigen: error: {report.refused}", sys.stderr)
            return EXIT_FAILED
        diagnostics = without_ignored(report.diagnostics, args.ignore, args.vault)
        preview = None
        if args.command == "preview" or getattr(args, "preview", False):
            from .preview import write_preview

            preview = write_preview(args.out, report, args.vault, diagnostics)
        elapsed = time.perf_counter() - started

    formatter = Formatter(
        args.format, sys.stdout, sys.stderr, verbose=args.verbose, prefix=_repo_prefix(args.vault)
    )
    formatter.emit(diagnostics)
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = sum(d.severity == "warning" for d in diagnostics)
    failed = bool(errors or (args.strict and warnings))
    formatter.finish(
        {
            "command": args.command,
            "packages": len(report.written) + len(report.unchanged),
            "cards": report.cards,
            "use_cases": report.use_cases,
            "failed": failed,
        }
    )
    if not args.quiet and args.format == "text":
        if checking:
            _check_summary(report, warnings, errors, elapsed)
        else:
            _summary(report, args, warnings, errors, elapsed)
        if preview is not None:
            say(f"preview: {preview}", sys.stdout)
    return EXIT_FAILED if failed else EXIT_OK


def _repo_prefix(vault: Path) -> str:
    """The vault's path from the current folder (the repository in CI), "" outside it."""
    try:
        rel = vault.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return ""
    return "" if rel == Path() else f"{rel.as_posix()}/"


def _check_summary(report: BuildReport, warnings: int, errors: int, elapsed: float) -> None:
    packages = len(report.written) + len(report.unchanged)
    parts = [
        f"{plural(packages, 'package')} would be written",
        f"{plural(report.cards, 'question card')}, {plural(report.use_cases, 'use case')}",
        plural(warnings, "warning"),
    ]
    if errors:
        parts.append(plural(errors, "error"))
    say(f"ankigen check: {'; '.join(parts)}; nothing written, in {elapsed:.2f} s", sys.stdout)


def _summary(
    report: BuildReport, args: argparse.Namespace, warnings: int, errors: int, elapsed: float
) -> None:
    out = sys.stdout
    if args.verbose:
        for name in report.written:
            say(f"wrote {args.out / name}", out)
        for name in report.removed:
            why = "no folder of this build has cards for it: gone, excluded or empty"
            say(f"removed {args.out / name} ({why})", out)
    # Identity decisions are always shown: a user should see which cards kept their history,
    # which are gone, and what to do in Anki about it.
    for move in report.moved:
        say(f"moved: {move} (its cards keep their history)", out)
    if report.changes is not None:
        always = ("reworded", "moved", "renamed", "removed")
        kinds = ("added", "changed", *always, "kept") if args.verbose else always
        labels = {"removed": "deleted", "kept": "not built this time"}
        for kind in kinds:
            label = labels.get(kind, kind)
            for card in getattr(report.changes, kind):
                say(f"{label}: {card}", out)
    _todo(report, out, args.verbose)
    packages = len(report.written) + len(report.unchanged)
    parts = [
        f"{plural(packages, 'package')} in {args.out}"
        f" ({len(report.written)} written, {len(report.unchanged)} unchanged)",
        f"{plural(report.cards, 'question card')}, {plural(report.use_cases, 'use case')}",
    ]
    if report.changes is not None:
        counts = [
            f"{len(getattr(report.changes, kind))} {'deleted' if kind == 'removed' else kind}"
            for kind in ("added", "changed", "reworded", "moved", "renamed", "removed")
            if getattr(report.changes, kind)
        ]
        if report.changes.kept:  # their questions are still in the notes: never deleted
            counts.append(f"{len(report.changes.kept)} not built this time")
        if report.moved:
            counts.append(f"{plural(len(report.moved), 'note')} moved")
        parts.append(", ".join(counts) if counts else "no card changed")
    parts.append(plural(warnings, "warning"))
    if errors:
        parts.append(plural(errors, "error"))
    say(f"ankigen: {'; '.join(parts)} in {elapsed:.2f} s", out)


def _todo(report: BuildReport, out: TextIO, verbose: bool) -> None:
    """The Anki Browser searches for what an import cannot do (always in the todo file;
    printed when this build deleted or moved cards, or with --verbose)."""
    todo = report.todo
    news = report.changes is not None and (report.changes.removed or report.changes.moved)
    if not (news or verbose):
        return
    if todo.deleted:
        print(
            f"in Anki: {plural(len(todo.deleted), 'deleted card')}; "
            "Browse, search for the line below, select all, Notes > Delete:",
            file=out,
        )
        print(f"  {todo.deleted_search()}", file=out)
    for moved in todo.moved:
        print(
            f"in Anki: cards that belong in deck {moved.deck}; Browse, search for the line "
            f"below, select all, Cards > Change Deck > {moved.deck}:",
            file=out,
        )
        print(f"  {printable(moved.search())}", file=out)
    if todo and report.todo_file:
        print(f"(these searches are also in {report.todo_file})", file=out)


class ProgressLine:
    """One self-overwriting status line on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = 0.0
        self.width = 0

    def __call__(self, what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done not in (0, total) and now - self.last < 0.1:
            return
        self.last = now
        text = f"{what}: {done}/{total}"
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _syntax_names(text: str) -> tuple[str, ...]:
    from .syntax import reader_names

    names = tuple(name.strip() for name in text.split(",") if name.strip())
    known = reader_names()
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown syntax {', '.join(unknown) or repr(text)}; choose from {', '.join(known)}"
        )
    return names


def _callout_names(text: str) -> tuple[str, ...]:
    """Callout names, comma-separated: letters, digits, "-" and "_" (case-insensitive)."""
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    bad = [name for name in names if not re.fullmatch(r"[\w-]{1,64}", name)]
    if bad or not names:
        shown = ", ".join(repr(name) for name in bad) or repr(text)
        raise argparse.ArgumentTypeError(
            f"not a callout name: {shown} (letters, digits, '-' and '_', e.g. question,faq)"
        )
    return names


def _vault_name(text: str) -> str:
    from .identity.lockfile import vault_name_ok

    if not vault_name_ok(text):
        raise argparse.ArgumentTypeError(f"not a vault name (one line, no '/'): {text!r}")
    return text


def _size(text: str) -> int:
    """A size in bytes: "500M", "2G", "750k", "1048576"."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    number = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = number[-1:] if number[-1:] in units else ""
    try:
        value = float(number[: len(number) - len(unit)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size (e.g. 500M, 2G): {text}") from None
    if not 0 <= value < 2**63 / units[unit]:  # also rejects nan and inf
        raise argparse.ArgumentTypeError(f"not a size (e.g. 500M, 2G): {text}")
    return int(value * units[unit])


def _bounded(
    kind: type[int] | type[float], low: float, high: float, *, low_open: bool = False
) -> Callable[[str], float]:
    """An argparse type: a number in [low, high] (or (low, high]); nan and inf are refused."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            lowest = f"more than {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"must be {lowest} and at most {high:g}: {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse
