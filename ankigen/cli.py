"""Command line: `ankigen build [VAULT] [-o OUT]` (also `python build_deck.py [VAULT] [-o OUT]`)."""

from __future__ import annotations

import _thread
import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .diagnostics import printable

if TYPE_CHECKING:
    from .build import BuildReport

# In a checkout the example vault is the default; an installed ankigen has none beside it.
EXAMPLE_VAULT = Path(__file__).resolve().parent.parent / "examples" / "vault"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def parser(prog: str = "ankigen build") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Turn a vault of Obsidian notes into Anki packages: one .apkg per folder "
        "that holds cards (#Question / #UseCase, and the Spaced Repetition, Obsidian_to_Anki "
        "and Flashcards plugins' syntaxes), deck named after the folder path unless the "
        "syntax chooses one.",
        epilog="Exit status: 0 built (warnings are printed), 1 errors (or warnings with "
        "--strict), 2 usage error, 130 interrupted. Coming from Obsidian_to_Anki or "
        "Flashcards? Run `ankigen adopt VAULT --collection PATH` once first (see `ankigen "
        "adopt --help`). `ankigen cache info|clear` shows or empties the picture cache.",
    )
    p.add_argument(
        "vault",
        nargs="?",
        type=Path,
        default=None,
        help="the Obsidian vault folder (default, in a checkout of ankigen: its example vault)",
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path("dist"),
        help="where to write the .apkg files (default: dist)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        help="where downloaded pictures are cached (default: the user cache folder, "
        "e.g. ~/.cache/ankigen)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="no network: use cached pictures only, warn about the others",
    )
    p.add_argument(
        "--timeout",
        type=_bounded(float, 0.0, 3600.0, low_open=True),
        default=10.0,
        metavar="SECONDS",
        help="connect and read timeout for each picture download (default: 10)",
    )
    p.add_argument(
        "--jobs",
        type=_bounded(int, 1, 256),
        default=32,
        metavar="N",
        help="pictures downloaded at once, all servers together (default: 32)",
    )
    p.add_argument(
        "--jobs-per-host",
        type=_bounded(int, 1, 256),
        default=16,
        metavar="N",
        help="pictures downloaded at once from one server (default: 16)",
    )
    p.add_argument(
        "--cache-max-size",
        type=_size,
        default="500M",
        metavar="SIZE",
        help="the picture cache keeps at most this much; the least recently used files "
        "beyond are deleted after a build (e.g. 200M, 2G; default: 500M)",
    )
    p.add_argument(
        "--max-image-width",
        type=_bounded(int, 1, 65535),
        default=1600,
        metavar="PIXELS",
        help="wider pictures are scaled down to this width (default: 1600)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip vault paths matching GLOB (relative to the vault, e.g. 'Drafts/*'); repeatable",
    )
    p.add_argument(
        "--syntax",
        action="append",
        default=[],
        type=_syntax_names,
        metavar="NAMES",
        help="read only these flashcard syntaxes, comma-separated (default: all): "
        "seed (#Question / Answer:), spaced-repetition (the Spaced Repetition plugin's "
        "::, ?, ==cloze==); repeatable",
    )
    p.add_argument(
        "--force", action="store_true", help="rebuild every folder, even the unchanged ones"
    )
    p.add_argument(
        "--no-lock",
        action="store_true",
        help="do not read or write <vault>/ankigen.lock (card identities and modification "
        "times then come from git or file times only)",
    )
    p.add_argument("--strict", action="store_true", help="fail (exit 1) when there are warnings")
    verbosity = p.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="print only warnings and errors"
    )
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="also list every package and card change"
    )
    p.add_argument("--version", action="version", version=f"ankigen {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    """`ankigen build …`; `ankigen …` without the word build works too."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the command itself, not a caller in Python: Ctrl-C from the very start
        stop_quietly_on_interrupt("ankigen adopt" if args[:1] == ["adopt"] else "ankigen")
    if args[:1] == ["cache"]:
        return cache_command(args[1:])
    if args[:1] == ["adopt"]:
        from .adopt import main as adopt_main

        return adopt_main(args[1:], prog="ankigen adopt")
    if args[:1] == ["build"]:
        args = args[1:]
    return run(args, prog="ankigen build")


def cache_command(argv: list[str]) -> int:
    """`ankigen cache info|clear [--cache-dir DIR]`: show or empty the picture cache."""
    from .fetch import MediaOptions, cache_info, clear_cache

    p = argparse.ArgumentParser(
        prog="ankigen cache", description="Show or empty the cache of downloaded pictures."
    )
    p.add_argument("action", choices=("info", "clear"))
    p.add_argument("--cache-dir", type=Path, help="the cache folder (default: as for build)")
    try:
        args = p.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    root = MediaOptions(cache_dir=args.cache_dir).cache_path
    if args.action == "clear":
        freed = clear_cache(root)
        say(f"ankigen: cache {root} emptied, {_megabytes(freed)} freed", sys.stdout)
        return EXIT_OK
    info = cache_info(root)
    limit = _megabytes(MediaOptions().cache_max_bytes)
    say(f"cache: {info.path}", sys.stdout)
    print(f"size: {_megabytes(info.size)} in {info.files} files ({info.urls} downloaded pictures)")
    print(f"limit: {limit} (change with `ankigen build --cache-max-size`)")
    return EXIT_OK


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def run(argv: list[str], prog: str) -> int:
    try:
        options = parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    for stream in (sys.stdout, sys.stderr):  # a file name must never stop the printing
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    if options.vault is None:
        if not EXAMPLE_VAULT.is_dir():
            say(
                f"{prog}: error: no vault given: pass your Obsidian vault's folder, "
                f"e.g. `{prog} ~/Notes -o decks`",
                sys.stderr,
            )
            return EXIT_USAGE
        options.vault = EXAMPLE_VAULT
    if not options.vault.is_dir():
        say(f"{prog}: error: vault folder not found: {options.vault}", sys.stderr)
        return EXIT_USAGE
    try:
        options.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        say(f"{prog}: error: cannot use output folder {options.out}: {error}", sys.stderr)
        return EXIT_FAILED
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


def stop_quietly_on_interrupt(prog: str = "ankigen") -> None:
    """Until a command sets its own handlers (and again once they are restored, while Python
    shuts down): a signal ends the process with one line and exit 130, never a traceback from
    an import or from the interpreter's exit. Nothing is on disk to remove at those times."""

    def stop(signum: int, frame: object) -> None:
        if not Interrupts.said:  # the line is printed once, whoever prints it
            with contextlib.suppress(OSError, ValueError):
                os.write(2, f"{prog}: interrupted\n".encode())
        os._exit(EXIT_INTERRUPTED)

    for signum in Interrupts.SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signum) != signal.SIG_IGN:
                signal.signal(signum, stop)


class Interrupts:
    """Ctrl-C and SIGTERM (kill, a CI timeout) stop a build: KeyboardInterrupt, temporaries
    removed, one line, exit 130.

    Python may swallow a KeyboardInterrupt raised at a bad moment (inside a finaliser or
    another library's hook: "Exception ignored in …"); should the build still run a few seconds
    after the signal, a watchdog thread ends it the hard way, with the same line and exit
    status (its worker processes die with it, its temporaries are removed by the next build).
    The handler itself only sets a flag and raises: starting a thread there can deadlock."""

    GRACE_SECONDS = 3.0
    SIGNALS = tuple(
        getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
    )

    def __init__(self, message: str = "ankigen: interrupted") -> None:
        self.message = message
        self.fired = False
        self.done = False
        self.reported = False
        self.lock = threading.Lock()
        self.previous: dict[int, Any] = {}
        self.lost = False  # a KeyboardInterrupt swallowed where Python cannot raise it
        # The watchdog first: once the handlers are set, a signal may arrive at any moment.
        threading.Thread(target=self._watch, name="ankigen-interrupt", daemon=True).start()
        self.previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        for signum in self.SIGNALS:
            if signum == getattr(signal, "SIGHUP", None) and (
                signal.getsignal(signum) == signal.SIG_IGN
            ):
                continue  # started with nohup: a closed terminal does not stop it
            try:
                self.previous[signum] = signal.signal(signum, self._interrupt)
            except ValueError:  # not the main thread (ankigen called from a thread): leave it
                return

    def _interrupt(self, signum: int, frame: object) -> None:
        if self.fired and not self.lost:  # a second Ctrl-C while stopping: ignored
            return
        self.fired = True
        self.lost = False
        raise KeyboardInterrupt

    def _unraisable(self, unraisable: Any) -> None:
        """Python cannot raise an exception out of a callback from native code (nh3 calls
        render._filter_attribute for every attribute it cleans), a finaliser or a weak
        reference's callback, and prints "Exception ignored in …" instead. Our
        KeyboardInterrupt landing there is not printed; the watchdog raises it again in the
        main thread, where it stops the build as usual."""
        if self.fired and isinstance(unraisable.exc_value, KeyboardInterrupt):
            self.lost = True  # the watchdog raises it again, from outside this hook
            return
        self.previous_hook(unraisable)

    def _watch(self) -> None:
        while not self.fired:
            if self.done:
                return
            time.sleep(0.1)
        deadline = time.monotonic() + self.GRACE_SECONDS
        while time.monotonic() < deadline:
            if self.done:
                return
            if self.lost:  # swallowed in a finaliser: raised again in the main thread
                _thread.interrupt_main()  # runs the SIGINT handler (ours) there
            time.sleep(0.02 if self.lost else 0.1)
        self.report()
        os._exit(EXIT_INTERRUPTED)

    said = False  # "interrupted" printed, by any instance

    def report(self) -> None:
        with self.lock:
            if not self.reported:
                self.reported = True
                Interrupts.said = True
                say(self.message, sys.stderr)
                sys.stderr.flush()

    def restore(self) -> None:
        self.done = True
        if sys.unraisablehook == self._unraisable:
            sys.unraisablehook = self.previous_hook
        for signum, handler in self.previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _build(args: argparse.Namespace) -> int:
    from .build import BuildOptions, build  # imported here: --help and --version stay quick
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
    options = BuildOptions(
        vault=args.vault,
        out_dir=args.out,
        media=media,
        force=args.force,
        lock=not args.no_lock,
        exclude=tuple(args.exclude),
        syntax=tuple(name for names in args.syntax for name in names),
    )
    started = time.perf_counter()
    progress = ProgressLine(sys.stderr) if not args.quiet and sys.stderr.isatty() else None
    try:
        report = build(options, progress)
    finally:
        if progress:
            progress.clear()
    elapsed = time.perf_counter() - started

    for diagnostic in report.diagnostics:
        say(str(diagnostic), sys.stderr)
        if args.verbose and diagnostic.detail:
            for line in diagnostic.detail.rstrip().splitlines():
                say(line, sys.stderr)
    errors = sum(d.severity == "error" for d in report.diagnostics)
    warnings = sum(d.severity == "warning" for d in report.diagnostics)
    if not args.quiet:
        _summary(report, args, warnings, errors, elapsed)
    if errors or (args.strict and warnings):
        return EXIT_FAILED
    return EXIT_OK


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
        kinds = ("added", "changed", *always) if args.verbose else always
        for kind in kinds:
            label = "deleted" if kind == "removed" else kind
            for card in getattr(report.changes, kind):
                say(f"{label}: {card}", out)
    _todo(report, out, args.verbose)
    packages = len(report.written) + len(report.unchanged)
    parts = [
        f"{packages} package{'s' * (packages != 1)} in {args.out}"
        f" ({len(report.written)} written, {len(report.unchanged)} unchanged)",
        f"{report.cards} question cards, {report.use_cases} use cases",
    ]
    if report.changes is not None:
        counts = [
            f"{len(getattr(report.changes, kind))} {'deleted' if kind == 'removed' else kind}"
            for kind in ("added", "changed", "reworded", "moved", "renamed", "removed")
            if getattr(report.changes, kind)
        ]
        if report.moved:
            counts.append(f"{len(report.moved)} note{'s' * (len(report.moved) != 1)} moved")
        parts.append(", ".join(counts) if counts else "no card changed")
    parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    if errors:
        parts.append(f"{errors} error{'s' * (errors != 1)}")
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
            f"in Anki: {len(todo.deleted)} deleted card{'s' * (len(todo.deleted) != 1)}; "
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


def say(text: str, stream: TextIO) -> None:
    """Print one line of output, control characters escaped."""
    print(printable(text), file=stream)
