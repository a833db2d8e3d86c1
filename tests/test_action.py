"""action.yml, the composite action for a user's vault: its run steps executed here as GitHub
runs them (bash -eo pipefail, inputs through env), in a fresh venv that pip installs ankigen
into from this checkout; the upload steps' paths are checked to hold what they upload."""

from __future__ import annotations

import glob
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, fresh_venv, write_vault

ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*([a-z_.]+)\s*\}\}")


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv without ankigen; the dependencies (and pip) come from this test environment."""
    env_dir = tmp_path_factory.mktemp("action") / "env"
    fresh_venv(env_dir)
    return env_dir / "bin"


def run_action(bin_dir: Path, workspace: Path, inputs: dict[str, str]) -> dict[str, object]:
    """Every run step in order, as a composite action runs them; stops at the first failure."""
    values = {f"inputs.{k}": v for k, v in inputs.items()}
    values["github.action_path"] = str(REPO)
    outputs_file = workspace / "github-output.txt"
    outputs_file.write_text("")
    steps: dict[str, subprocess.CompletedProcess[str]] = {}
    uploads = []
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GITHUB_ACTIONS")}
    for number, step in enumerate(ACTION["runs"]["steps"]):
        name = step.get("id", str(number))
        if "uses" in step:
            if step["uses"].startswith("actions/upload-artifact@"):
                uploads.append(_substitute(step["with"]["path"], values, outputs_file))
            continue
        env = {k: _substitute(str(v), values, outputs_file) for k, v in step.get("env", {}).items()}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            capture_output=True,
            text=True,
            cwd=workspace,
            timeout=600,
            env={
                **base,
                **env,
                "PATH": f"{bin_dir}:{base['PATH']}",
                "GITHUB_ACTIONS": "true",
                "GITHUB_OUTPUT": str(outputs_file),
                "PIP_NO_INDEX": "1",  # everything it needs is there: nothing is downloaded
                "PIP_NO_BUILD_ISOLATION": "0",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            },
        )
        steps[name] = result
        if result.returncode:
            break
    return {"steps": steps, "uploads": uploads}


def _substitute(text: str, values: dict[str, str], outputs_file: Path) -> str:
    outputs = dict(
        line.split("=", 1) for line in outputs_file.read_text().splitlines() if "=" in line
    )
    for key, value in outputs.items():
        values[f"steps.build.outputs.{key}"] = value
    return EXPRESSION.sub(lambda m: values[m.group(1)], text)


def test_the_action_checks_builds_and_uploads(fresh_python, tmp_path):
    workspace = tmp_path / "repo"
    write_vault(
        workspace / "notes",
        {
            "A/a.md": "#Question what?\nAnswer: this ![[gone.png]]\n",
            "B/b.md": "#Question fine\nAnswer: yes\n",
        },
    )
    done = run_action(
        fresh_python, workspace, {"vault": "notes", "output": "out", "strict": "false"}
    )
    steps = done["steps"]
    assert [name for name in steps] == ["install", "check", "build"]
    assert all(step.returncode == 0 for step in steps.values()), {
        name: step.stderr[-2000:] for name, step in steps.items()
    }
    where = subprocess.run(
        [str(fresh_python / "python"), "-c", "import ankigen; print(ankigen.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert str(fresh_python.parent) in where  # the check and build ran the copy pip installed
    # Annotations on the files as the repository names them.
    assert "::warning file=notes/A/a.md,line=2,title=AG401::picture gone.png" in (
        steps["check"].stdout
    )
    packages, preview = done["uploads"]
    assert sorted(Path(p).name for p in glob.glob(str(workspace / packages))) == [
        "A.apkg",
        "B.apkg",
    ]
    assert (workspace / preview / "index.html").is_file()


def test_strict_fails_the_check_step(fresh_python, tmp_path):
    workspace = tmp_path / "repo"
    write_vault(workspace / "v", {"A/a.md": "#Question no answer\n"})
    done = run_action(fresh_python, workspace, {"vault": "v", "output": "out", "strict": "true"})
    steps = done["steps"]
    assert list(steps) == ["install", "check"]  # the job stops there
    assert steps["check"].returncode == 1
    assert "::warning file=v/A/a.md,line=1,title=AG205::" in steps["check"].stdout
