"""The command line under hostile options, names and signals: usage errors exit 2, every printed
line has its control characters escaped, interrupts stop at once with one line and exit 130,
and no worker process outlives ankigen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, write_vault
from hostile import GOOD_NOTE, WALL_CLOCK, cli, import_all, questions

import ankigen.render_stage
from ankigen import cli as ankigen_cli


@pytest.mark.parametrize(
    "option",
    [
        ("--timeout", "nan"),
        ("--timeout", "inf"),
        ("--timeout", "-inf"),
        ("--timeout", "1e309"),
        ("--timeout", "0"),
        ("--timeout", "86400"),
        ("--jobs", "100000000"),
        ("--jobs", "0"),
        ("--jobs", "1.5"),
        ("--max-image-width", "10000000000"),
        ("--max-image-width", "-1"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(tmp_path, option):
    vault = write_vault(tmp_path / "v", {"A/a.md": GOOD_NOTE})
    result = cli(vault, tmp_path / "out", *option)
    assert result.returncode == 2, result.stderr
    assert option[0] in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "out").glob("*.apkg"))


def test_options_in_range_build(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/a.md": GOOD_NOTE})
    args = ("--timeout", "0.5", "--jobs", "64", "--max-image-width", "65535")
    result = cli(vault, tmp_path / "out", *args)
    assert result.returncode == 0, result.stderr


def test_names_with_terminal_escapes_and_newlines_are_printed_escaped(tmp_path):
    evil = "A/evil\x1b[31m\nred\u202eexe.md"
    vault = write_vault(
        tmp_path / "v", {evil: "#Question No answer here\n", "A/good.md": GOOD_NOTE}
    )
    result = cli(vault, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\u202e" not in stream
    (line,) = [line for line in result.stderr.splitlines() if "evil" in line]
    assert line.startswith("A/evil\\x1b[31m\\nred\\u202eexe.md:1: warning:")
    assert questions(import_all(tmp_path, tmp_path / "out")) == ["What stays?"]


def test_printable_escapes_only_what_a_terminal_would_act_on():
    assert ankigen_cli.printable("café ✓ 日本") == "café ✓ 日本"
    assert ankigen_cli.printable("a\tb\x00c\x9bd\u2028") == "a\\tb\\x00c\\x9bd\\u2028"


def test_a_caught_internal_error_keeps_its_traceback_for_verbose(tmp_path, monkeypatch, capsys):
    vault = write_vault(tmp_path / "v", {"A/a.md": GOOD_NOTE, "B/b.md": GOOD_NOTE})
    real_read = ankigen.render_stage.read_note

    def broken(rel: str, text: str, syntax, *rest):
        if rel == "A/a.md":
            raise ZeroDivisionError("planted bug")
        return real_read(rel, text, syntax, *rest)

    monkeypatch.setattr(ankigen.render_stage, "read_note", broken)
    common = [str(vault), "-o", str(tmp_path / "out"), "--offline", "--no-lock"]
    assert ankigen_cli.run(common, prog="ankigen") == 1
    quiet = capsys.readouterr().err
    assert "A/a.md:1: error: note skipped, ankigen failed on it: ZeroDivisionError" in quiet
    assert "rerun with --verbose" in quiet and "Traceback" not in quiet
    assert ankigen_cli.run([*common, "--verbose", "--force"], prog="ankigen") == 1
    verbose = capsys.readouterr().err
    assert "Traceback (most recent call last)" in verbose and "in broken" in verbose
    assert (tmp_path / "out" / "B.apkg").is_file()


def test_build_deck_without_dependencies_names_the_command(tmp_path):
    # A Python without ankigen's dependencies: the system one, with site-packages left out.
    result = subprocess.run(
        [sys.executable, "-S", "-s", str(REPO / "build_deck.py"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=WALL_CLOCK,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "make deck" in result.stderr and ".venv/bin/ankigen" in result.stderr


# ---------------------------------------------------------------- signals


def _slow_vault(root: Path, folders: int = 4, notes: int = 30, cards: int = 40) -> Path:
    """Enough highlighted code that rendering takes seconds, in a process pool."""
    code = "\n".join(
        f"def f{i}(x):\n    return [y * {i} for y in range(x)]  # comment" for i in range(12)
    )
    card = "#Question Card {n}.{c} with `code`?\nAnswer: text {c}\n```python\n" + code + "\n```\n"
    for folder in range(folders):
        for n in range(notes):
            path = root / f"F{folder}" / f"n{n}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(card.format(n=n, c=c) for c in range(cards)))
    return root


def _children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_with_workers(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    vault = _slow_vault(tmp_path / "v")
    command = [sys.executable, str(REPO / "build_deck.py"), str(vault), "-o"]
    command += [str(tmp_path / "out"), "--offline", "--cache-dir", str(tmp_path / "cache")]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,  # its own process group, as a shell job has
    )
    deadline = time.monotonic() + WALL_CLOCK
    while len(workers := _children(process.pid)) < 2:
        if process.poll() is not None:
            pytest.fail(f"the build ended before its workers started: {process.stderr.read()}")
        assert time.monotonic() < deadline, "no worker processes started"
        time.sleep(0.05)
    return process, workers


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + 30
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupt_stops_the_build_with_one_line_and_exit_130(tmp_path, how):
    process, workers = _start_with_workers(tmp_path)
    if how == "ctrl-c":  # the terminal sends SIGINT to the whole foreground group
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=WALL_CLOCK)
    finally:
        process.kill()
    assert process.returncode == 130, (workers, err)
    assert err == "ankigen: interrupted\n"
    assert _wait_gone(workers) == []
    assert not list((tmp_path / "out").glob(".ankigen-tmp-*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_do_not_outlive_a_killed_build(tmp_path):
    process, workers = _start_with_workers(tmp_path)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=WALL_CLOCK)
    assert _wait_gone(workers) == []


def test_build_deck_looks_for_every_dependency_pyproject_names():
    """build_deck.py's list of modules to look for follows pyproject's dependencies (the
    optional, platform-bound zlib-ng aside: images.py falls back to zlib)."""
    import re
    import tomllib

    modules = {"pillow": "PIL", "pyyaml": "yaml"}
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {
        modules.get(name.lower(), name.lower())
        for name in (re.match(r"[A-Za-z0-9_.-]+", spec).group(0) for spec in declared)  # type: ignore[union-attr]
        if name != "zlib-ng"
    }
    source = (REPO / "build_deck.py").read_text()
    looked_for = set(re.findall(r'"(\w+)"', source[source.index("needed = ") :].split("try:")[0]))
    assert looked_for == wanted
