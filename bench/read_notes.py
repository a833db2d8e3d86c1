"""Time reading (syntax.read_note) over a generated vault and count the scans per note.

Usage: python bench/read_notes.py VAULT [--limit N]

Counts calls of obsidian.scan, obsidian.frontmatter and obsidian.lines made while reading
(every reader enabled, Spaced Repetition's and Flashcards' default settings), and the CPU
seconds read_note takes over every note of the vault.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ankigen import obsidian
from ankigen.syntax import load_syntax_settings, read_note

EXTRA: tuple = ()
if "shows_nothing" in inspect.signature(read_note).parameters:  # handed in by the render stage
    from ankigen.shown import shows_nothing

    EXTRA = (shows_nothing,)

COUNTED = ("scan", "frontmatter", "lines")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("vault", type=Path)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    notes = sorted(args.vault.rglob("*.md"))
    if args.limit:
        notes = notes[: args.limit]
    texts = [(p.relative_to(args.vault).as_posix(), p.read_text("utf-8")) for p in notes]
    settings, _ = load_syntax_settings(args.vault)
    counts: Counter[str] = Counter()
    originals = {name: getattr(obsidian, name) for name in COUNTED}

    def counting(name: str):  # type: ignore[no-untyped-def]
        original = originals[name]

        def call(*a, **k):  # type: ignore[no-untyped-def]
            counts[name] += 1
            return original(*a, **k)

        return call

    for name in COUNTED:
        setattr(obsidian, name, counting(name))
    for rel, text in texts[:200]:
        read_note(rel, text, settings, *EXTRA)
    per_note = {name: counts[name] / min(len(texts), 200) for name in COUNTED}
    for name, original in originals.items():
        setattr(obsidian, name, original)
    start = time.process_time()
    cards = 0
    for rel, text in texts:
        cards += len(read_note(rel, text, settings, *EXTRA)[0].cards)
    seconds = time.process_time() - start
    print(f"notes {len(texts)} cards {cards} read_note CPU {seconds:.2f} s")
    print("per note: " + ", ".join(f"{name} {value:.2f}" for name, value in per_note.items()))


if __name__ == "__main__":
    main()
