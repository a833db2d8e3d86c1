"""Time ankigen on a synthetic vault: full build, no-change rebuild, one-note edit.

    .venv/bin/python bench/run.py [--cards 10000] [--repeat 1] [--no-baseline] [--keep DIR]
    make bench ARGS="--cards 20000"

Each build is `python build_deck.py VAULT -o OUT --offline --cache-dir CACHE --quiet`, run as a
subprocess and timed from outside (wall time, Python start-up included). The vault, output and
cache live in a temporary directory that is removed afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_vault import SyntheticVault, make_vault

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 3.0  # the project's goal for a full 10k-card build on 2 cores


@dataclass
class Timing:
    label: str
    seconds: float
    rate: str = ""  # cards/s, µs/field or packages rewritten, already formatted
    failed: str = ""  # stderr tail when the command failed


def build_command(vault: Path, out: Path, cache: Path) -> list[str]:
    return [
        sys.executable,
        str(REPO / "build_deck.py"),
        str(vault),
        "-o",
        str(out),
        "--offline",
        "--cache-dir",
        str(cache),
        "--quiet",
    ]


def run_build(
    label: str,
    command: list[str],
    repeat: int,
    before_each: Callable[[], None] = lambda: None,
    out: Path | None = None,
) -> Timing:
    """The best wall time of `repeat` runs; `before_each` prepares every run (untimed).

    With `out`, the rate column says how many packages the last run rewrote.
    """
    best = float("inf")
    rewritten = 0
    for _ in range(repeat):
        before_each()
        stamps_before = package_stamps(out) if out else {}
        started = time.perf_counter()
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-12:])
            return Timing(label, elapsed, failed=f"exit {result.returncode}\n{tail}")
        if result.stderr.strip():
            print(
                f"  ({label}: {len(result.stderr.splitlines())} lines on stderr, first: "
                f"{result.stderr.splitlines()[0]})"
            )
        if out:
            stamps_after = package_stamps(out)
            rewritten = sum(
                stamps_before.get(name) != stamp for name, stamp in stamps_after.items()
            )
        best = min(best, elapsed)
    return Timing(label, best, f"packages rewritten: {rewritten}" if out else "")


def package_stamps(out: Path) -> dict[str, tuple[int, int]]:
    """Each package's (mtime, size): what changes when the build rewrites it."""
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.glob("*.apkg")}


def edit_one_note(vault: SyntheticVault) -> Callable[[], None]:
    """A change to one answer: insert a line under the first `Answer:` of a middle note."""
    note = vault.notes[len(vault.notes) // 2]
    edits = 0

    def edit() -> None:
        nonlocal edits
        edits += 1
        lines = note.read_text(encoding="utf-8").splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith("Answer:"))
        lines.insert(first + 1, f"Edited for the benchmark, pass {edits}.")
        note.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return edit


def fresh(*folders: Path) -> Callable[[], None]:
    """Remove the output and cache folders so the build starts cold."""

    def clear() -> None:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    return clear


def mistune_baseline(fields: list[str], repeat: int) -> Timing:
    """Render every card field with one mistune instance: the floor of the render stage."""
    import mistune

    markdown = mistune.create_markdown(
        escape=False, plugins=["table", "strikethrough", "mark", "math", "task_lists", "url"]
    )
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for text in fields:
            markdown(text)
        best = min(best, time.perf_counter() - started)
    per_field = best / len(fields) * 1e6
    return Timing(f"mistune only, {len(fields):,} fields", best, f"{per_field:.0f} µs/field")


def package_summary(out: Path) -> str:
    """How many packages and notes the build wrote, read back from the .apkg files."""
    packages = sorted(out.glob("*.apkg"))
    notes = 0
    for package in packages:
        with zipfile.ZipFile(package) as archive, tempfile.TemporaryDirectory() as scratch:
            name = "collection.anki21" if "collection.anki21" in archive.namelist() else None
            database = archive.extract(name or "collection.anki2", scratch)
            with sqlite3.connect(database) as connection:
                notes += connection.execute("select count(*) from notes").fetchone()[0]
    size = sum(package.stat().st_size for package in packages) / 1e6
    return f"{len(packages)} packages, {notes:,} notes, {size:.1f} MB"


def print_table(rows: list[Timing]) -> None:
    width = max(len(row.label) for row in rows) + 2
    print(f"{'step':<{width}}{'wall s':>8}  rate")
    for row in rows:
        if row.failed:
            print(f"{row.label:<{width}}{'FAILED':>8}  {row.failed.splitlines()[0]}")
            print("    " + "\n    ".join(row.failed.splitlines()[1:]))
        else:
            print(f"{row.label:<{width}}{row.seconds:>8.2f}  {row.rate}")


def benchmark(work: Path, args: argparse.Namespace) -> int:
    vault_dir, out, cache = work / "vault", work / "out", work / "cache"
    started = time.perf_counter()
    vault = make_vault(vault_dir, args.cards, args.seed)
    generated = time.perf_counter() - started
    size = sum(p.stat().st_size for p in vault_dir.rglob("*") if p.is_file()) / 1e6
    print(
        f"vault: {vault.cards:,} cards ({vault.questions:,} questions, {vault.usecases:,} use "
        f"cases), {len(vault.notes)} notes, {vault.folders} folders, {size:.1f} MB, "
        f"generated in {generated:.2f} s"
    )
    print("build: python build_deck.py VAULT -o OUT --offline --cache-dir CACHE --quiet\n")

    rows: list[Timing] = []
    if not (REPO / "build_deck.py").exists():
        print(f"{REPO / 'build_deck.py'} not found: only the baseline runs\n")
        rows.append(mistune_baseline(vault.fields, args.repeat))
        print_table(rows)
        return 2
    command = build_command(vault_dir, out, cache)
    rows.append(
        run_build(
            "start-up (--help)",
            [sys.executable, str(REPO / "build_deck.py"), "--help"],
            args.repeat,
        )
    )
    full = run_build("full build (cold cache)", command, args.repeat, fresh(out, cache))
    full.rate = f"{vault.cards / full.seconds:,.0f} cards/s"
    rows.append(full)
    if not full.failed:
        rows.append(run_build("no-change rebuild", command, args.repeat, out=out))
        edit = edit_one_note(vault)
        rows.append(run_build("rebuild after editing 1 note", command, args.repeat, edit, out))
    if not args.no_baseline:
        rows.append(mistune_baseline(vault.fields, args.repeat))
    print_table(rows)

    if any(row.failed for row in rows):
        return 1
    print(f"\nwritten: {package_summary(out)}")
    if vault.cards == 10_000:  # below that, start-up dominates and the target says little
        verdict = "within" if full.seconds <= TARGET_SECONDS else "OVER"
        print(f"full build {full.seconds:.2f} s: {verdict} the {TARGET_SECONDS:.0f} s target")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000, help="cards in the vault (10000)")
    parser.add_argument("--seed", type=int, default=1, help="vault generator seed (1)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per step; best is shown")
    parser.add_argument("--no-baseline", action="store_true", help="skip the mistune baseline")
    parser.add_argument(
        "--keep", type=Path, help="work in DIR (empty) and keep vault, output and cache"
    )
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return benchmark(args.keep, args)
    with tempfile.TemporaryDirectory(prefix="ankigen-bench-") as work:
        return benchmark(Path(work), args)


if __name__ == "__main__":
    sys.exit(main())
