"""The command line as a user runs it: exit codes, messages, summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO, write_vault

BAD_VAULT = {
    "B/b.md": "#Question no answer\n\n#Question fine\nAnswer: yes\n",
    "A/a.md": "#Question pic\nAnswer: ![[missing.png]]\n",
}


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def common(tmp_path: Path) -> list[str]:
    return ["-o", str(tmp_path / "dist"), "--cache-dir", str(tmp_path / "cache"), "--offline"]


def test_help_explains_every_option():
    result = run("--help")
    assert result.returncode == 0
    for option in (
        "--out",
        "--cache-dir",
        "--offline",
        "--strict",
        "--quiet",
        "--verbose",
        "--timeout",
        "--jobs",
        "--max-image-width",
        "--force",
        "--no-lock",
        "--exclude",
    ):
        assert option in result.stdout


def test_usage_errors_exit_2(tmp_path):
    assert run("--no-such-option").returncode == 2
    missing = run(tmp_path / "nowhere")
    assert missing.returncode == 2
    assert "vault folder not found" in missing.stderr
    assert run(tmp_path, "--jobs", "0").returncode == 2


def test_warnings_are_sorted_file_line_messages_and_exit_0(tmp_path):
    vault = write_vault(tmp_path / "v", BAD_VAULT)
    result = run(vault, *common(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("A/a.md:2: warning: ") and "missing.png" in lines[0]
    assert lines[1].startswith("B/b.md:1: warning: ") and "no answer" in lines[1]
    assert len(lines) == 2
    assert "2 packages" in result.stdout and "2 warnings" in result.stdout
    assert "2 question cards" in result.stdout
    assert sorted(p.name for p in (tmp_path / "dist").glob("*.apkg")) == ["A.apkg", "B.apkg"]


def test_strict_turns_warnings_into_failure_but_still_writes(tmp_path):
    vault = write_vault(tmp_path / "v", BAD_VAULT)
    result = run(vault, *common(tmp_path), "--strict")
    assert result.returncode == 1
    assert (tmp_path / "dist" / "B.apkg").is_file()


def test_quiet_prints_only_diagnostics(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/a.md": "#Q x\nAnswer: y\n"})
    result = run(vault, *common(tmp_path), "--quiet")
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""


def test_verbose_lists_packages_and_card_changes(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/a.md": "#Q x\nAnswer: y\n"})
    result = run(vault, *common(tmp_path), "--verbose")
    assert "wrote " in result.stdout and "A.apkg" in result.stdout
    assert "added: A/a.md:1" in result.stdout


def test_an_output_path_that_is_a_file_is_a_clear_error_not_a_traceback(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/a.md": "#Q x\nAnswer: y\n"})
    (tmp_path / "file").write_text("")
    result = run(vault, "-o", tmp_path / "file", "--offline", "--cache-dir", tmp_path / "c")
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    assert "file" in result.stderr and "error" in result.stderr


def test_console_script_and_build_word(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/a.md": "#Q x\nAnswer: y\n"})
    script = Path(sys.executable).with_name("ankigen")
    result = subprocess.run(
        [str(script), "build", str(vault), *common(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dist" / "A.apkg").is_file()


def test_progress_line_overwrites_itself_and_clears():
    import io

    from ankigen.cli import ProgressLine

    stream = io.StringIO()
    progress = ProgressLine(stream)
    progress("reading notes", 0, 400)
    progress("reading notes", 400, 400)
    progress("writing packages", 20, 20)
    progress.clear()
    text = stream.getvalue()
    assert text.count("\r") == 5
    assert "reading notes: 400/400" in text and "writing packages: 20/20" in text
    assert text.endswith("\r" + " " * len("writing packages: 20/20") + "\r")


def test_a_vault_without_cards_says_so(tmp_path):
    vault = write_vault(tmp_path / "v", {"notes/plain.md": "# Just notes\nNo questions here.\n"})
    result = run(vault, *common(tmp_path))
    assert result.returncode == 0
    assert result.stderr.startswith("ankigen: warning: no cards in ")
    assert "0 packages" in result.stdout
    assert list((tmp_path / "dist").glob("*.apkg")) == []


def test_reworded_cards_are_named_without_verbose(tmp_path):
    vault = write_vault(tmp_path / "v", {"A/a.md": "#Q What is EC2?\nAnswer: servers\n"})
    run(vault, *common(tmp_path))
    (vault / "A/a.md").write_text("#Q What does EC2 give you?\nAnswer: servers\n")
    result = run(vault, *common(tmp_path))
    assert "reworded: A/a.md:1 What does EC2 give you?" in result.stdout
    assert "1 reworded" in result.stdout


def test_verbose_names_a_package_removed_for_an_excluded_folder(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            "A/a.md": "#Q What is EC2?\nAnswer: servers\n",
            "B/b.md": "#Q What is S3?\nAnswer: storage\n",
        },
    )
    assert run(vault, *common(tmp_path)).returncode == 0
    assert (tmp_path / "dist" / "B.apkg").is_file()
    result = run(vault, *common(tmp_path), "-v", "--exclude", "B/*")
    assert result.returncode == 0
    removed = [line for line in result.stdout.splitlines() if line.startswith("removed ")]
    assert len(removed) == 1 and "B.apkg" in removed[0] and "excluded" in removed[0]
    assert not (tmp_path / "dist" / "B.apkg").exists()
