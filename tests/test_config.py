"""ankigen.toml: options that belong to a vault, overridden by the command line; a wrong key or
type is an error naming the file and line. And the first-contact messages of the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ankiutil
import pytest
from conftest import REPO, ankigen_cli, write_vault
from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen.config import CONFIG_FILE, OPTIONS, ConfigError, key_line, load_config

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "200"))


run = ankigen_cli

NOTES = {
    "A/a.md": "#Question one\nAnswer: 1\n",
    "Drafts/d.md": "#Question draft\nAnswer: later\n",
    "Cards.md": "#Question at the root\nAnswer: yes\n",
}


def test_the_file_sets_the_vault_options(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            **NOTES,
            CONFIG_FILE: (
                "# my vault\n"
                'out = "../decks"\n'
                'exclude = ["Drafts/*"]\n'
                'deck_prefix = "Study"\n'
                'vault_name = "Brain"\n'
                "offline = true\n"
                "max_image_width = 800\n"
            ),
        },
    )
    result = run("build", vault, "--cache-dir", tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    decks = tmp_path / "decks"
    # The root package is named after the vault, whatever its folder is called.
    assert sorted(p.name for p in decks.glob("*.apkg")) == ["A.apkg", "Brain.apkg"]
    notes = ankiutil.notes(ankiutil.load(tmp_path, *sorted(decks.glob("*.apkg"))))
    assert sorted(d for n in notes for d in n.decks) == ["Study::A", "Study::Brain"]
    assert all("vault=Brain" in n.fields["Source"] for n in notes)


def test_the_command_line_overrides_the_file(tmp_path):
    vault = write_vault(
        tmp_path / "v", {**NOTES, CONFIG_FILE: 'exclude = ["Drafts/*"]\ndeck_prefix = "S"\n'}
    )
    out = tmp_path / "out"
    result = run(
        "build", vault, "-o", out, "--offline", "--cache-dir", tmp_path / "c",
        "--exclude", "A/*", "--deck-prefix", "T",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.apkg")) == ["Drafts.apkg", "v.apkg"]
    notes = ankiutil.notes(ankiutil.load(tmp_path, *sorted(out.glob("*.apkg"))))
    assert sorted(d for n in notes for d in n.decks) == ["T::Drafts", "T::v"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('exclude = ["x"]\n\nsurprise = 1\n', 3, "unknown key 'surprise'"),
        ('# a comment\nmax_image_width = "wide"\n', 2, "'max_image_width' must be"),
        ("offline = 1\n", 1, "'offline' must be true or false"),
        ('exclude = "Drafts/*"\n', 1, "'exclude' must be list of texts"),
        ("timeout = 0\n", 1, "'timeout' must be"),
        ("jobs = 1000\n", 1, "'jobs' must be"),
        ('out = "a"\nout = "b"\n', 2, "not valid TOML"),
        ("[plugins]\nx = 1\n", 1, "'plugins' must be tables"),
        ('syntax = ["seed", "nope"]\n', 1, "unknown syntax nope"),
        ('cache_max_size = "lots"\n', 1, "not a size"),
    ],
)
def test_a_wrong_key_or_type_is_an_error_with_file_and_line(tmp_path, text, line, words):
    vault = write_vault(tmp_path / "v", {**NOTES, CONFIG_FILE: text})
    for command in ("build", "check"):
        out = ["-o", tmp_path / "out"] if command == "build" else []
        result = run(command, vault, *out)
        assert result.returncode == 2, result.stderr
        (message,) = result.stderr.splitlines()  # one line, no traceback
        assert message.startswith(f"{CONFIG_FILE}:{line}: error: "), message
        assert words in message
    assert not (tmp_path / "out").exists()


def test_every_option_is_in_the_readme_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for option in OPTIONS:
        assert f"| `{option.key}` |" in readme, option.key
    assert '| `[plugins."<plugin id>"]` |' in readme


def test_plugin_settings_in_the_file_stand_for_data_json(tmp_path):
    vault = write_vault(
        tmp_path / "v",
        {
            "Plants.md": "#cards\n\nFern;;a plant without flowers\n",
            CONFIG_FILE: '[plugins."obsidian-spaced-repetition"]\n'
            'flashcardTags = ["#cards"]\nsingleLineCardSeparator = ";;"\n',
        },
    )
    result = run("check", vault, "--offline", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert '"cards": 1' in result.stdout


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=200))
def test_any_file_is_read_or_refused_with_a_line(text):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, CONFIG_FILE).write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            config = load_config(Path(folder))
        except ConfigError as error:
            assert error.diagnostic.path == CONFIG_FILE
            assert 0 <= error.diagnostic.line <= text.count("\n") + 2
        else:
            assert set(config.values) <= {option.key for option in OPTIONS}


def test_key_line_finds_top_level_keys_only():
    text = 'a = 1\n[plugins."x"]\nb = 2\n\nb2 = 3\n'
    assert key_line(text, "a") == 1
    assert key_line(text, "plugins") == 2
    assert key_line(text, "b") == 0


# ---------------------------------------------------------------- first contact


def test_help_lists_the_subcommands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("build", "check", "preview", "plan", "adopt", "cache"):
        assert f"    {command} " in result.stdout
    build = run("build", "--help")
    for option in ("--format", "--ignore", "--preview", "--deck-prefix", "--vault-name"):
        assert option in build.stdout
    assert "--preview" not in run("check", "--help").stdout
    old = subprocess.run(
        [sys.executable, str(REPO / "build_deck.py"), "--help"], capture_output=True, text=True
    )
    assert old.returncode == 0 and "build_deck.py" in old.stdout and "--format" in old.stdout


def test_a_file_given_as_the_vault(tmp_path):
    vault = write_vault(tmp_path / "v", NOTES)
    result = run("build", vault / "A" / "a.md", "-o", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "is a file; pass the vault's folder" in result.stderr
    assert f"its folder is {vault / 'A'}" in result.stderr


def test_an_output_folder_inside_the_vault(tmp_path):
    vault = write_vault(tmp_path / "v", NOTES)
    result = run("build", vault, "-o", vault / "decks")
    assert result.returncode == 2
    assert "is inside the vault" in result.stderr and result.stderr.count("\n") == 1
    assert not (vault / "decks").exists()
    # Unless the build does not read it: excluded, or a hidden folder.
    args = ("--offline", "--cache-dir", tmp_path / "c")
    assert run("build", vault, "-o", vault / "decks", "--exclude", "decks", *args).returncode == 0
    assert run("build", vault, "-o", vault / ".decks", *args).returncode == 0


def test_an_existing_file_as_out(tmp_path):
    vault = write_vault(tmp_path / "v", NOTES)
    (tmp_path / "out").write_text("")
    result = run("build", vault, "-o", tmp_path / "out")
    assert result.returncode == 2
    expected = f"-o {tmp_path / 'out'} is a file; pass a folder for the packages\n"
    assert result.stderr == f"ankigen build: error: {expected}"


def test_a_read_only_output_folder_is_one_line(tmp_path):
    vault = write_vault(tmp_path / "v", {**NOTES, "B/b.md": "#Question two\nAnswer: 2\n"})
    out = tmp_path / "out"
    out.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: /proc is what even root cannot write to
        out = Path("/proc/self")
    else:
        out.chmod(0o555)
    result = run("build", vault, "-o", out, "--offline", "--cache-dir", tmp_path / "c")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ankigen build: error: cannot write to the output folder {out}: ")
