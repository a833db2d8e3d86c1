"""The README's sample outputs and files are real: each is run (or read) again and compared."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

from ankigen.config import CONFIG_FILE, load_config

README = (REPO / "README.md").read_text(encoding="utf-8")
TIME = re.compile(r" in \d+\.\d\d s$", re.MULTILINE)


def sample(name: str) -> str:
    """The fenced block right after `<!-- sample: NAME -->`."""
    marker = f"<!-- sample: {name} -->\n"
    assert marker in README, name
    block = README.split(marker, 1)[1]
    assert block.startswith("```")
    return block.split("\n", 1)[1].split("\n```", 1)[0] + "\n"


def run_in_copy(tmp_path: Path, *args: str) -> str:
    """`ankigen ARGS` in a folder holding a copy of the example vault (its lock is written)."""
    shutil.copytree(REPO / "examples" / "vault", tmp_path / "examples" / "vault")
    result = subprocess.run(
        [sys.executable, "-m", "ankigen", *args, "--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return TIME.sub(" in T s", result.stderr + result.stdout)


def test_the_build_sample_is_a_real_run(tmp_path):
    got = run_in_copy(tmp_path, "build", "examples/vault", "-o", "dist", "--offline")
    assert got == TIME.sub(" in T s", sample("build examples/vault -o dist --offline"))


def test_the_check_sample_is_a_real_run(tmp_path):
    got = run_in_copy(tmp_path, "check", "examples/vault", "--offline")
    assert got == TIME.sub(" in T s", sample("check examples/vault --offline"))


def test_the_sample_configuration_is_valid(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(sample("ankigen.toml"), encoding="utf-8")
    config = load_config(tmp_path)
    assert config.values["deck_prefix"] == "Study"
    assert "obsidian-spaced-repetition" in config.plugins


def test_the_sample_workflow_uses_the_action_as_it_is(tmp_path):
    text = sample("workflow")
    assert len(text.splitlines()) <= 12
    workflow = yaml.safe_load(text)
    steps = workflow["jobs"]["decks"]["steps"]
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    ours = next(step for step in steps if "ankigen@" in step["uses"])
    assert set(ours["with"]) <= set(action["inputs"])
    assert all(re.search(r"@[0-9a-f]{40}$", s["uses"]) for s in steps if s is not ours)
