"""Fixture files: input Markdown beside the output it must give, and one runner for them all.

    tests/fixtures/render/NAME.md                 → NAME.html        (one card field's HTML)
    tests/fixtures/syntax/READER/NAME.md          → NAME.cards.json  (the cards and messages
                                                                      that reader gives)
    examples/vault                                → tests/fixtures/example-packages.sha256
                                                    (the packages `ankigen build` writes)

A syntax folder may hold `data.json`: the plugin settings its notes are read with (the
reader's plugin id → that plugin's data.json object), and `options.json`: other fields of
SyntaxSettings (`{"callout_cards": ["question"]}`).

Regenerate after a deliberate change, then review the diff it prints before committing:

    .venv/bin/python tests/fixture_cases.py --write      (or: make fixtures)
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclasses.dataclass(frozen=True)
class Case:
    source: Path
    expected: Path

    @property
    def name(self) -> str:
        return str(self.source.relative_to(FIXTURES))


def render_cases() -> list[Case]:
    return [Case(md, md.with_suffix(".html")) for md in sorted(FIXTURES.glob("render/*.md"))]


def syntax_cases() -> list[Case]:
    return [
        Case(md, md.with_name(md.stem + ".cards.json"))
        for md in sorted(FIXTURES.glob("syntax/*/*.md"))
    ]


def render_output(case: Case) -> str:
    from ankigen.render import render_markdown

    return render_markdown(case.source.read_text(encoding="utf-8")) + "\n"


def syntax_output(case: Case) -> str:
    from ankigen.shown import shows_nothing
    from ankigen.syntax import SyntaxSettings, read_note

    reader = case.source.parent.name
    settings_file = case.source.parent / "data.json"
    plugins = (
        json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.is_file() else {}
    )
    rel = f"{reader}/{case.source.name}"
    options_file = case.source.parent / "options.json"
    options = {}
    if options_file.is_file():
        options = {k: tuple(v) for k, v in json.loads(options_file.read_text("utf-8")).items()}
    settings = SyntaxSettings((reader,), plugins, **options)
    text = case.source.read_text(encoding="utf-8")
    note, found = read_note(rel, text, settings, shows_nothing)  # as the render stage reads
    diagnostics = [*settings.problems, *found]  # the build says the settings' warnings once
    cards = []
    for card in note.cards:
        record = dataclasses.asdict(card)
        cards.append({key: value for key, value in record.items() if value not in ((), "", 0)})
    result = {
        "cards": cards,
        "tags": list(note.tags),
        "diagnostics": [str(d) for d in diagnostics],
    }
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    # The readers mark clozes with private-use characters: shown escaped, still valid JSON.
    return "".join(f"\\u{ord(c):04x}" if "\ue000" <= c <= "\uf8ff" else c for c in text) + "\n"


EXAMPLE_VAULT = FIXTURES.parent.parent / "examples" / "vault"
EXAMPLE_HASHES = Case(EXAMPLE_VAULT, FIXTURES / "example-packages.sha256")
FIXED_MTIME = 1_767_225_600  # 2026-01-01: a copy's files all get it, as a clone's may not


def example_packages_output(work: Path) -> str:
    """sha256 of every package the real CLI builds from a copy of the example vault (offline,
    its lock as committed, every file's time and the clock fixed: no checkout time counts)."""
    import os
    import shutil
    import subprocess

    vault = work / "vault"
    shutil.copytree(EXAMPLE_VAULT, vault)
    for path in [vault, *vault.rglob("*")]:
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    out, cache = work / "out", work / "cache"
    command = [sys.executable, "-m", "ankigen", "build", str(vault), "-o", str(out)]
    # A card the lock does not know yet is dated "now": SOURCE_DATE_EPOCH fixes it.
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_MTIME)}
    subprocess.run(
        [*command, "--offline", "--cache-dir", str(cache), "-q"],
        check=True,
        capture_output=True,
        env=env,
        cwd=FIXTURES.parent.parent,
    )
    lines = []
    for package in sorted(out.glob("*.apkg")):
        digest = hashlib.sha256(package.read_bytes()).hexdigest()
        lines.append(f"{digest}  {package.name}\n")
    return "".join(lines)


def outputs() -> Iterator[tuple[Case, str]]:
    import tempfile

    for case in render_cases():
        yield case, render_output(case)
    for case in syntax_cases():
        yield case, syntax_output(case)
    with tempfile.TemporaryDirectory() as work:
        yield EXAMPLE_HASHES, example_packages_output(Path(work))


def main(argv: list[str]) -> int:
    """--write: rewrite every expected file that differs and print the diff; else only diff."""
    write = "--write" in argv
    changed = 0
    for case, actual in outputs():
        old = case.expected.read_text(encoding="utf-8") if case.expected.exists() else ""
        if old == actual:
            continue
        changed += 1
        sys.stdout.writelines(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                str(case.expected.relative_to(FIXTURES.parent)),
                "(now)",
            )
        )
        if write:
            case.expected.write_text(actual, encoding="utf-8")
    verb = "rewritten" if write else "differ (rerun with --write to accept)"
    print(f"{changed} fixture file(s) {verb}" if changed else "every fixture file is current")
    return 1 if changed and not write else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))
