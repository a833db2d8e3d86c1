"""ankigen and ankdown side by side on the same generated vault, alternating in one run.

    make bench                                  # creates bench/.venv with the pinned ankdown
    .venv/bin/python bench/run.py --ankdown bench/.venv/bin/ankdown [--sizes 1000,10000]
        [--repeat 3] [--keep DIR] [--results bench/RESULTS.md]

The vault comes from the shared workload generator (`gen_vault.py --flavours target,ankdown`):
the same cards in ankigen's syntax and in ankdown's. Every timed command is a subprocess timed
from outside (wall time, Python start-up included); its CPU time counts every process it
started, and its peak memory is the largest sum over its whole process tree, sampled from /proc
every 10 ms, of each process's proportional set size (PSS: a page shared by n processes, as a
forked worker shares its parent's, counts 1/n in each), with the sum of resident sizes (RSS,
shared pages counted in every process) beside it. ankigen and ankdown take turns, so both see
the same machine load; the figures are medians. After each build the packages are opened and
their notes counted: a run that lost cards fails the benchmark.

ankdown has no incremental build: its "rebuild" is a full build of the same (edited) vault,
which is what a user of it waits for. In the cold rounds of the compared size, the bare
pipeline (bare_pipeline.py: mistune, Pygments and genanki in one process) runs too: the floor
for ankigen's CPU time per card.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GENERATOR_PLACES = (
    REPO / "bench" / "gen_vault.py",  # the copy in the repository
    REPO.parent / "shared" / "bench" / "gen_vault.py",
    REPO.parent.parent / "shared" / "bench" / "gen_vault.py",
)
CARDS_PER_NOTE, FOLDERS = 10, 20  # the workload's defaults: 10k cards = 1,000 notes


# ---------------------------------------------------------------- measuring one command


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the whole process tree
    peak: int  # bytes: the largest sum of PSS over the process tree (0: not sampled)
    peak_rss: int = 0  # bytes: the largest sum of RSS over the process tree


class TreeMemory:
    """Samples the resident memory of a process and all its descendants until stopped."""

    def __init__(self, root: int, interval: float = 0.01) -> None:
        self.root = root
        self.interval = interval
        self.peak = self.peak_rss = 0
        self._tree = {root}
        self._others: set[int] = set()  # pids seen that are not ours: a parent never changes to us
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._thread.join()
        return self.peak, self.peak_rss

    def _loop(self) -> None:
        while not self._stop.is_set():
            pss, rss = self._sample()
            self.peak, self.peak_rss = max(self.peak, pss), max(self.peak_rss, rss)
            self._stop.wait(self.interval)

    def _sample(self) -> tuple[int, int]:
        try:
            pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
        except OSError:
            return 0, 0
        for pid in sorted(pids):  # parents have smaller pids, mostly: one pass finds most
            if pid in self._tree or pid in self._others:
                continue
            try:
                with open(f"/proc/{pid}/stat", "rb") as stat:
                    text = stat.read()
                parent = int(text[text.rindex(b")") + 2 :].split()[1])
            except (OSError, ValueError):
                continue
            (self._tree if parent in self._tree else self._others).add(pid)
        pss = rss = 0
        for pid in list(self._tree):
            try:
                with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
                    for line in rollup.read().splitlines():
                        if line.startswith((b"Rss:", b"Pss:")):
                            kib = int(line.split()[1]) * 1024
                            if line.startswith(b"Rss:"):
                                rss += kib
                            else:
                                pss += kib
            except (OSError, ValueError, IndexError):
                if pid != self.root:
                    self._tree.discard(pid)  # gone; a new process may reuse the number
        return pss, rss


def measure(command: Sequence[str], memory: bool = True, cwd: Path = REPO) -> Run:
    """Run `command` once; fail loudly when it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=False
    )
    sampler = TreeMemory(process.pid) if memory else None
    output = b""
    with contextlib.suppress(Exception):
        output = process.stdout.read() if process.stdout else b""  # type: ignore[union-attr]
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    peak, peak_rss = sampler.stop() if sampler else (0, 0)
    if process.returncode != 0:
        tail = "\n".join(output.decode(errors="replace").strip().splitlines()[-15:])
        raise SystemExit(f"FAILED (exit {process.returncode}): {' '.join(command)}\n{tail}")
    return Run(wall, usage.ru_utime + usage.ru_stime, peak, peak_rss)


# ---------------------------------------------------------------- the two tools


@dataclass
class Tool:
    name: str
    vault: Path
    out: Path  # ankigen: the output folder; ankdown: the package file
    command: list[str]
    cache: Path | None = None
    runs: dict[str, list[Run]] = field(default_factory=dict)
    # ankigen keeps its lock in the vault: only ankigen's own clean removes it (the bare
    # pipeline reads the same vault; its clean must not make ankigen's next rebuild cold).
    lock: Path | None = None

    def clean(self) -> None:
        """Remove every output, so the next build starts cold."""
        if self.out.is_dir():
            shutil.rmtree(self.out)
        self.out.unlink(missing_ok=True)
        if self.cache:
            shutil.rmtree(self.cache, ignore_errors=True)
        if self.lock:
            self.lock.unlink(missing_ok=True)

    def build(self, step: str, memory: bool = True) -> Run:
        run = measure(self.command, memory)
        self.runs.setdefault(step, []).append(run)
        return run

    def packages(self) -> list[Path]:
        return sorted(self.out.glob("*.apkg")) if self.out.is_dir() else [self.out]


def ankigen_tool(vault: Path, work: Path) -> Tool:
    out, cache = work / "ankigen-out", work / "ankigen-cache"
    script = Path(sys.executable).with_name("ankigen")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "ankigen"]
    command = [*program, str(vault), "-o", str(out), "--offline", "--cache-dir", str(cache)]
    return Tool("ankigen", vault, out, [*command, "--quiet"], cache, lock=vault / "ankigen.lock")


def ankdown_tool(ankdown: Path, vault: Path, work: Path) -> Tool:
    out = work / "ankdown.apkg"
    # --highlight: ankigen colours code blocks with Pygments too, so both do the same work.
    command = [str(ankdown), "-r", str(vault), "-p", str(out), "--highlight"]
    return Tool("ankdown", vault, out, command)


def bare_tool(vault: Path, work: Path) -> Tool:
    out = work / "bare-out"
    command = [sys.executable, str(REPO / "bench" / "bare_pipeline.py"), str(vault), str(out)]
    return Tool("bare mistune + genanki", vault, out, command)


def count_notes(packages: list[Path]) -> int:
    """Notes in the packages, read back from their SQLite collections."""
    notes = 0
    for package in packages:
        with zipfile.ZipFile(package) as archive, tempfile.TemporaryDirectory() as scratch:
            names = archive.namelist()
            name = "collection.anki21" if "collection.anki21" in names else "collection.anki2"
            database = archive.extract(name, scratch)
            connection = sqlite3.connect(database)
            try:
                notes += connection.execute("select count(*) from notes").fetchone()[0]
            finally:
                connection.close()
    return notes


def check(tool: Tool, expected: int) -> None:
    found = count_notes(tool.packages())
    if found != expected:
        raise SystemExit(f"FAILED: {tool.name} wrote {found:,} notes, {expected:,} expected")


def size_of(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def tree_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- the workload


def generate(generator: Path, root: Path, cards: int) -> tuple[Path, Path, int]:
    """The vault in both syntaxes; returns (ours, ankdown's, card count)."""
    notes = max(1, cards // CARDS_PER_NOTE)
    command = [
        sys.executable,
        str(generator),
        "--notes",
        str(notes),
        "--folders",
        str(min(FOLDERS, notes)),
        "--cards-per-note",
        str(CARDS_PER_NOTE),
        "--flavours",
        "target,ankdown",
        "--out",
        str(root),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return root / "target", root / "ankdown", notes * CARDS_PER_NOTE


def edit_one_note(ours: Path, theirs: Path, notes: int, round_: int) -> None:
    """The same new line at the start of the first answer of one middle note, in both syntaxes."""
    number = notes // 2
    name = f"f{number % min(FOLDERS, notes):02d}/n{number:05d}.md"
    line = f"Edited for the benchmark, round {round_}."
    for path, marker, skip in ((ours / name, "Answer:", 1), (theirs / name, "%", 2)):
        lines = path.read_text(encoding="utf-8").split("\n")
        at = lines.index(marker) + skip
        lines.insert(at, line)
        path.write_text("\n".join(lines), encoding="utf-8")


# ---------------------------------------------------------------- report


def median(runs: list[Run], attribute: str) -> float:
    return statistics.median(getattr(run, attribute) for run in runs)


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}×" if theirs else "–"


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.1f} GiB RAM"
    return (
        f"{platform.system()} {platform.release()}, {model}, {os.cpu_count()} cores{memory}, "
        f"Python {platform.python_version()}"
    )


def version_of(python: Path, package: str) -> str:
    try:
        return subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def commit() -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def table(header: Sequence[str], rows: list[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def load() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


# ---------------------------------------------------------------- the benchmark


def startup(ours: Tool, theirs: Tool, rounds: int) -> list[Sequence[str]]:
    bare: list[Run] = []
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "ankigen --version": [*ours.command[: ours.command.index(str(ours.vault))], "--version"],
        "ankigen --help": [*ours.command[: ours.command.index(str(ours.vault))], "--help"],
        "ankdown --version": [theirs.command[0], "--version"],
    }
    results: dict[str, list[Run]] = {label: [] for label in commands}
    for _ in range(rounds):
        for label, command in commands.items():
            results[label].append(measure(command, memory=False))
    bare = results["python -c pass"]
    base = median(bare, "wall")
    rows = []
    for label, runs in results.items():
        wall = median(runs, "wall")
        extra = f"+{(wall - base) * 1000:.0f} ms" if label != "python -c pass" else "–"
        rows.append((label, seconds(wall), extra))
    return rows


def compare(
    generator: Path, ankdown: Path, work: Path, cards: int, repeat: int, full: bool
) -> tuple[list[str], dict[str, float]]:
    """The full comparison on one vault size; returns report lines and headline figures."""
    ours_vault, theirs_vault, expected = generate(generator, work / f"vault-{cards}", cards)
    ours = ankigen_tool(ours_vault, work / f"run-{cards}")
    theirs = ankdown_tool(ankdown, theirs_vault, work / f"run-{cards}")
    bare = bare_tool(ours_vault, work / f"run-{cards}")
    (work / f"run-{cards}").mkdir(exist_ok=True)
    print(f"\n{expected:,} cards: {expected // CARDS_PER_NOTE:,} notes in {FOLDERS} folders")
    headline: dict[str, float] = {}

    def cold(tool: Tool) -> None:
        tool.clean()
        tool.build("cold")
        check(tool, expected)

    def again(step: str) -> Callable[[Tool], None]:
        def run(tool: Tool) -> None:
            tool.build(step)
            check(tool, expected)

        return run

    def edit(round_: int) -> None:
        edit_one_note(ours_vault, theirs_vault, expected // CARDS_PER_NOTE, round_)

    steps: list[tuple[str, Callable[[Tool], None], Callable[[int], None]]] = [
        ("cold", cold, lambda _: None)
    ]
    if full:
        steps += [
            ("no change", again("no change"), lambda _: None),
            ("one note edited", again("one note edited"), edit),
        ]

    state_size = package_size = 0
    for step, action, prepare in steps:
        for round_ in range(repeat):
            prepare(round_)
            for tool in (ours, theirs) if round_ % 2 == 0 else (theirs, ours):
                action(tool)
            if step == "cold" and full:  # the floor for ankigen's CPU time, in the same rounds
                action(bare)
            last = ours.runs[step][-1], theirs.runs[step][-1]
            print(
                f"  {step:<16} ankigen {seconds(last[0].wall):>8} {mib(last[0].peak):>8}   "
                f"ankdown {seconds(last[1].wall):>8} {mib(last[1].peak):>8}",
                flush=True,
            )
            if step == "cold" and round_ == 0:
                state_size = tree_size(ours.out / ".ankigen")
                package_size = size_of(ours.packages())
        if step == "cold" and not full:
            break

    rows = []
    for step in [s for s, _, _ in steps]:
        a, b = ours.runs[step], theirs.runs[step]
        wall_a, wall_b = median(a, "wall"), median(b, "wall")
        cpu_a, cpu_b = median(a, "cpu"), median(b, "cpu")
        headline[step] = wall_a / wall_b
        peak_a, peak_b = max(r.peak for r in a), max(r.peak for r in b)
        rss_a, rss_b = max(r.peak_rss for r in a), max(r.peak_rss for r in b)
        rows.append(
            (
                step,
                seconds(wall_a),
                seconds(wall_b) + (" (full build)" if step != "cold" else ""),
                ratio(wall_a, wall_b),
                f"{seconds(cpu_a)} / {seconds(cpu_b)} = {ratio(cpu_a, cpu_b)}",
                f"{mib(peak_a)} / {mib(peak_b)} ({mib(rss_a)} / {mib(rss_b)})",
            )
        )
    cold_a, cold_b = ours.runs["cold"], theirs.runs["cold"]
    summary = {
        "cards": expected,
        "ankigen cold": median(cold_a, "wall"),
        "ankdown cold": median(cold_b, "wall"),
        "ankigen cpu": median(cold_a, "cpu"),
        "ankdown cpu": median(cold_b, "cpu"),
        "ankigen peak": max(r.peak for r in cold_a),
        "ankdown peak": max(r.peak for r in cold_b),
        "ankigen rss": max(r.peak_rss for r in cold_a),
        "ankdown rss": max(r.peak_rss for r in cold_b),
        "state": state_size,
        "packages": package_size,
        "ankdown package": size_of(theirs.packages()),
        "bare cpu": median(bare.runs["cold"], "cpu") if bare.runs else 0.0,
        "bare wall": median(bare.runs["cold"], "wall") if bare.runs else 0.0,
    }
    lines = table(
        (
            "step",
            "ankigen",
            "ankdown",
            "wall ÷ ankdown",
            "cpu ankigen / ankdown",
            "peak memory ankigen / ankdown, all processes: PSS (RSS)",
        ),
        rows,
    )
    return lines, summary


def benchmark(work: Path, args: argparse.Namespace) -> int:
    generator = args.gen_vault or next((p for p in GENERATOR_PLACES if p.exists()), None)
    if generator is None or not generator.exists():
        places = ", ".join(str(p) for p in GENERATOR_PLACES)
        print(
            f"gen_vault.py not found (looked in {places}): make bench GEN_VAULT=path/to/it",
            file=sys.stderr,
        )
        return 2
    if not args.ankdown.exists():
        print(
            f"{args.ankdown} not found: `make bench` installs the pinned ankdown into "
            "bench/.venv; or pass --ankdown PATH",
            file=sys.stderr,
        )
        return 2
    # Byte-code as an installed package has it (pip compiles it at install): an editable
    # checkout run with PYTHONDONTWRITEBYTECODE set would compile every module at every start.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "ankigen")], check=True)
    started_at = datetime.now(UTC)
    load_before = load()
    ankdown_version = version_of(args.ankdown.with_name("python"), "ankdown")
    print(f"ankigen {commit()} vs ankdown {ankdown_version}; {machine()}; load {load_before}")

    sizes = sorted(set(args.sizes))
    main_size = args.cards if args.cards in sizes else max(s for s in sizes if s <= args.cards)
    results: dict[int, dict[str, float]] = {}
    main_lines: list[str] = []
    start_rows: list[Sequence[str]] = []
    for cards in sizes:
        is_main = cards == main_size
        repeat = args.repeat if cards <= main_size else 1
        lines, summary = compare(generator, args.ankdown, work, cards, repeat, full=is_main)
        results[cards] = summary
        if is_main:
            main_lines = lines
            root = work / f"run-{cards}"
            start_rows = startup(
                ankigen_tool(work / f"vault-{cards}" / "target", root),
                ankdown_tool(args.ankdown, work / f"vault-{cards}" / "ankdown", root),
                args.startup_rounds,
            )
        with contextlib.suppress(OSError):  # free the disk before the next size
            shutil.rmtree(work / f"vault-{cards}")
            shutil.rmtree(work / f"run-{cards}")

    picture_lines: list[str] = []
    if args.pictures:
        from pictures import picture_section  # bench/pictures.py, beside this file

        picture_lines = picture_section(work, args.pictures, args.repeat)

    main = results[main_size]
    scaling = []
    for cards, s in results.items():
        scaling.append(
            (
                f"{cards:,}",
                f"{seconds(s['ankigen cold'])} ({cards / s['ankigen cold']:,.0f}/s)",
                f"{seconds(s['ankdown cold'])} ({cards / s['ankdown cold']:,.0f}/s)",
                ratio(s["ankigen cold"], s["ankdown cold"]),
                f"{s['ankigen cpu'] * 1e6 / cards:,.0f} µs / "
                f"{s['ankdown cpu'] * 1e6 / cards:,.0f} µs",
                f"{mib(s['ankigen peak'])} / {mib(s['ankdown peak'])} "
                f"({mib(s['ankigen rss'])} / {mib(s['ankdown rss'])})",
                f"{s['state'] / 1e6:.1f} MB / {s['packages'] / 1e6:.1f} MB "
                f"= {s['state'] / s['packages']:.2f}×",
            )
        )
    report = [
        "# Benchmark: ankigen and ankdown on the same vault",
        "",
        f"- date: {started_at:%Y-%m-%d %H:%M} UTC; "
        f"took {time.time() - started_at.timestamp():.0f} s",
        f"- machine: {machine()}",
        f"- load average before / after: {load_before} / {load()} "
        "(the machine may be shared: compare the ratios, taken pair by pair, more than the times)",
        f"- ankigen {commit()}; ankdown {ankdown_version} "
        "(`--highlight`, from PyPI in bench/.venv)",
        f"- workload: `gen_vault.py --flavours target,ankdown`, {CARDS_PER_NOTE} cards a note, "
        f"{FOLDERS} folders; ankigen `--offline --quiet` with an empty picture cache",
        f"- medians of {args.repeat} runs each, ankigen and ankdown alternating; every run's "
        "packages were opened and held the expected number of notes",
        "",
        f"## {main_size:,} cards",
        "",
        "ankdown has no incremental build: its column for the rebuilds is a full build.",
        "",
        *main_lines,
        "",
        f"State kept for rebuilds (`OUT/.ankigen`): {main['state'] / 1e6:.1f} MB; ankigen's "
        f"packages {main['packages'] / 1e6:.1f} MB ({main['state'] / main['packages']:.2f}×); "
        f"ankdown's package {main['ankdown package'] / 1e6:.1f} MB.",
        "",
        f"CPU time of a cold build against the bare pipeline (`bench/bare_pipeline.py`: mistune "
        f"and Pygments, genanki, one process, no sanitising, no identities, no cache), in the "
        f"same rounds: ankigen {main['ankigen cpu'] * 1e6 / main['cards']:,.0f} µs a card, "
        f"bare {main['bare cpu'] * 1e6 / main['cards']:,.0f} µs "
        f"({ratio(main['ankigen cpu'], main['bare cpu'])}; bare wall "
        f"{seconds(main['bare wall'])}).",
        "",
        "## Start-up",
        "",
        *table(("command", "median wall", "over `python -c pass`"), start_rows),
        "",
        "## Scaling (cold builds)",
        "",
        *table(
            (
                "cards",
                "ankigen",
                "ankdown",
                "wall ÷ ankdown",
                "cpu per card ankigen / ankdown",
                "peak memory ankigen / ankdown: PSS (RSS)",
                "state / packages",
            ),
            scaling,
        ),
        "",
        *picture_lines,
    ]
    text = "\n".join(report)
    print("\n" + text)
    if args.results:
        args.results.write_text(text, encoding="utf-8")
        print(f"written to {args.results}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ankdown",
        type=Path,
        default=REPO / "bench" / ".venv" / "bin" / "ankdown",
        help="the ankdown program (default: bench/.venv/bin/ankdown, made by `make bench`)",
    )
    parser.add_argument("--gen-vault", type=Path, help="the workload generator gen_vault.py")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1_000, 10_000, 100_000],
        help="card counts for the scaling line (default 1000,10000,100000; sizes above "
        "--cards run once each)",
    )
    parser.add_argument(
        "--cards", type=int, default=10_000, help="the size compared step by step (10000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per step and tool (3)")
    parser.add_argument(
        "--startup-rounds", type=int, default=15, help="runs of each start-up command (15)"
    )
    parser.add_argument(
        "--pictures",
        type=int,
        default=3000,
        help="pictures in the picture workload (bench/pictures.py; default 3000, 0: none)",
    )
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it")
    parser.add_argument(
        "--results",
        type=Path,
        default=REPO / "bench" / "RESULTS.md",
        help="where the report is written (default bench/RESULTS.md; '' for nowhere)",
    )
    args = parser.parse_args(argv)
    if args.results is not None and str(args.results) in ("", "."):
        args.results = None
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return benchmark(args.keep.resolve(), args)
    with tempfile.TemporaryDirectory(prefix="ankigen-bench-") as work:
        return benchmark(Path(work), args)


if __name__ == "__main__":
    sys.exit(main())
