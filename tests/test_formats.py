"""Diagnostics where people look: codes, --format text|json|github, --ignore, `check`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO, write_vault
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.diagnostics import (
    CODES,
    SCHEMA_FILE,
    Formatter,
    code_of,
    fallback_code,
    github_line,
    known_code,
    plural,
)
from ankigen.package import ASSETS
from ankigen.records import Diagnostic

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "200"))
SCHEMA = json.loads((ASSETS / SCHEMA_FILE).read_text(encoding="utf-8"))

VAULT = {
    "A/a.md": "#Question pic\nAnswer: ![[missing.png]]\n",
    "B/b.md": "#Question no answer\n\n#Question fine\nAnswer: yes\n",
    "C/c, odd: name%.md": "#Question ok\nAnswer: ![[gone, again.png]]\n",
}


@contextlib.contextmanager
def made_up_messages() -> Iterator[None]:
    """Messages made up by a test are no diagnostics of ankigen: not logged as uncoded."""
    saved = os.environ.pop("ANKIGEN_UNCODED_LOG", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["ANKIGEN_UNCODED_LOG"] = saved


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path = REPO):
    environ = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    return subprocess.run(
        [sys.executable, "-m", "ankigen", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**environ, **(env or {})},
    )


def common(tmp_path: Path) -> list[str | Path]:
    return ["--cache-dir", tmp_path / "cache", "--offline"]


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return write_vault(tmp_path / "v", VAULT)


# ---------------------------------------------------------------- codes


def test_codes_are_short_unique_and_every_rule_is_reachable():
    codes = [rule.code for rule in CODES]
    assert len(codes) == len(set(codes))
    assert all(len(code) == 5 and code.startswith("AG") and code[2:].isdigit() for code in codes)
    for rule in CODES:  # no rule is hidden behind an earlier, broader one
        example = Diagnostic(f"x{rule.path_suffix or '.md'}", 1, "warning", f"<{rule.pattern}>")
        with made_up_messages():
            assert code_of(example) == rule.code, rule


def test_every_code_is_listed_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for rule in CODES:
        assert f"| `{rule.code}` |" in readme, rule.code


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.text(st.characters(blacklist_characters="'\":(/\\"), max_size=80),
    st.text(max_size=30),
    st.integers(0, 10**6),
)
def test_a_message_without_a_rule_gets_a_stable_code_of_its_family(message, name, number):
    """What follows the family (after a colon: names, numbers) never changes the code."""
    code = fallback_code(f"{message}: {name} {number}")
    assert code == fallback_code(f"{message}: another {number + 1}")
    assert code == fallback_code(f"{message} 'quoted/path' {number}: x")
    assert known_code(code) and len(code) == 7


def test_fallback_codes_ignore_numbers_and_quoted_names():
    first = fallback_code("entries of 'A/a.md' are strange at 12")
    assert first == fallback_code("entries of 'B/other.md' are strange at 3")
    assert first != fallback_code("something else entirely")


# ---------------------------------------------------------------- json


def test_json_validates_against_the_schema_in_the_repository(vault, tmp_path):
    result = run("build", vault, "-o", tmp_path / "out", "--format", "json", *common(tmp_path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    codes = {(d["file"], d["code"]) for d in document["diagnostics"]}
    assert ("A/a.md", "AG401") in codes
    assert ("B/b.md", "AG205") in codes
    assert document["summary"]["warnings"] == 3 and document["summary"]["failed"] is False
    assert result.stderr == ""  # nothing but the object: a program reads it


def test_json_of_check_and_strict_failure(vault, tmp_path):
    result = run("check", vault, "--format", "json", "--strict", *common(tmp_path))
    assert result.returncode == 1
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["summary"]["failed"] is True and document["summary"]["command"] == "check"


def test_the_schema_refuses_what_it_should():
    good = {"diagnostics": [], "summary": {"errors": 0, "warnings": 0, "notes": 0, "failed": False}}
    jsonschema.validate(good, SCHEMA)
    bad = {**good, "diagnostics": [{"file": "a", "line": 1, "severity": "warning"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


# ---------------------------------------------------------------- github


def test_github_format_is_chosen_inside_github_actions(vault, tmp_path):
    result = run("check", vault, *common(tmp_path), env={"GITHUB_ACTIONS": "true"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Paths are the repository's (here: the current folder): the vault is "v/".
    assert "::warning file=v/B/b.md,line=1,title=AG205::question has no answer; no card made" in (
        lines
    )
    odd = next(line for line in lines if "odd" in line)
    assert odd.startswith("::warning file=v/C/c%2C odd%3A name%25.md,line=2,title=AG401::")
    assert "gone, again.png" in odd  # the message keeps its commas and colons


def test_github_escapes_the_message_and_properties():
    item = Diagnostic("a,b:c%.md", 3, "error", "50% done\r\nnext: line, here")
    with made_up_messages():
        line = github_line(item)
    assert line == (
        "::error file=a%2Cb%3Ac%25.md,line=3,title=AGX"
        + fallback_code(item.message)[3:]
        + "::50%25 done%0D%0Anext: line, here"
    )
    build_message = Diagnostic("", 0, "warning", "no cards in /v: none")
    assert github_line(build_message) == "::warning title=AG705::ankigen: no cards in /v: none"
    note = Diagnostic("x.md", 0, "note", "picture x: using the copy cached on 2024-01-01")
    assert github_line(note).startswith("::notice file=x.md,title=AG402::")


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=40), st.text(max_size=60))
def test_a_workflow_command_is_one_line_that_reads_back(path, message):
    with made_up_messages():
        line = github_line(Diagnostic(path or "x", 1, "warning", message or "m"))
    assert "\n" not in line and "\r" not in line
    head, _, data = line.partition("::")[2].partition("::")

    def unescape(s):
        return (
            s.replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%25", "%")
        )

    assert unescape(data) == (message or "m")
    file_property = head.split(" ", 1)[1].split(",")[0]
    assert unescape(file_property.removeprefix("file=")) == (path or "x")


# ---------------------------------------------------------------- text and --ignore


def test_text_lines_end_with_the_code(vault, tmp_path):
    result = run("build", vault, "-o", tmp_path / "out", *common(tmp_path))
    assert "B/b.md:1: warning: question has no answer; no card made [AG205]" in result.stderr


def test_ignore_silences_a_code_on_the_command_line_and_in_a_note(vault, tmp_path):
    result = run("check", vault, "--ignore", "AG401", "--strict", *common(tmp_path))
    assert "AG401" not in result.stderr and "AG205" in result.stderr
    assert result.returncode == 1
    (vault / "B" / "b.md").write_text(
        "---\nankigen-ignore: [AG205]\n---\n#Question no answer\n\n#Question fine\nAnswer: yes\n"
    )
    result = run("check", vault, "--ignore", "ag401", "--strict", *common(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    # A note's key silences its own diagnostics only.
    (vault / "D").mkdir()
    (vault / "D" / "d.md").write_text("#Question empty\n")
    result = run("check", vault, "--ignore", "AG401", *common(tmp_path))
    assert "D/d.md:1: warning" in result.stderr and "B/b.md" not in result.stderr


def test_formatter_is_reusable_by_other_commands(capsys):
    formatter = Formatter("json", sys.stdout, sys.stderr)
    formatter.emit([Diagnostic("a.md", 2, "warning", "question is empty; no card made")])
    formatter.finish({"command": "plan", "failed": False})
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    assert document["diagnostics"][0]["code"] == "AG204"


# ---------------------------------------------------------------- check


def test_check_reports_what_build_reports_and_writes_nothing(vault, tmp_path):
    before = sorted(p.relative_to(vault) for p in vault.rglob("*"))
    checked = run("check", vault, *common(tmp_path), cwd=tmp_path)
    assert checked.returncode == 0
    assert sorted(p.relative_to(vault) for p in vault.rglob("*")) == before  # no lock either
    assert not (tmp_path / "dist").exists()
    assert "nothing written" in checked.stdout
    built = run("build", vault, "-o", tmp_path / "out", *common(tmp_path))
    diagnostics = [line for line in checked.stderr.splitlines() if ": warning: " in line]
    assert diagnostics == [line for line in built.stderr.splitlines() if ": warning: " in line]
    assert len(diagnostics) == 3
    assert run("check", vault, "--strict", *common(tmp_path)).returncode == 1


def test_plural_forms():
    assert plural(1, "card") == "1 card"
    assert plural(0, "card") == "0 cards"
    assert plural(2, "warning") == "2 warnings"
