"""The normal install: the wheel built from this checkout, installed into a fresh venv outside
the repository, builds the example vault with the installed `ankigen` command."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import fresh_venv

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "-o", str(out), str(REPO)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (found,) = out.glob("ankigen-*.whl")
    return found


def test_wheel_holds_every_package_and_the_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(init.relative_to(REPO)) for init in (REPO / "ankigen").rglob("__init__.py")}
    assert packages <= names, packages - names
    for asset in (REPO / "assets").iterdir():
        if asset.suffix in {".html", ".css", ".js", ".json"}:
            assert f"ankigen/assets/{asset.name}" in names


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel installed; its dependencies come from this test
    environment's site-packages (added as a path, so no editable ankigen comes along)."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    site = fresh_venv(env_dir)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    python = env_dir / "bin" / "python"
    script = env_dir / "bin" / "ankigen"
    script.write_text(
        f"#!{python}\nimport sys\nfrom ankigen.cli import main\nsys.exit(main())\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def _run(script: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    return subprocess.run(
        [str(script), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_installed_command_builds_the_example_vault(installed: Path, tmp_path: Path) -> None:
    where = _run(
        installed.with_name("python"), "-c", "import ankigen; print(ankigen.__file__)", cwd=tmp_path
    )
    assert str(REPO) not in where.stdout, "the test must run the installed copy"
    result = _run(
        installed,
        "build",
        REPO / "examples" / "vault",
        "-o",
        tmp_path / "decks",
        "--offline",
        "--cache-dir",
        tmp_path / "cache",
        "--no-lock",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr
    assert sorted(tmp_path.joinpath("decks").rglob("*.apkg"))


def test_installed_command_without_a_vault_says_what_to_pass(
    installed: Path, tmp_path: Path
) -> None:
    result = _run(installed, "build", "-o", tmp_path / "decks", cwd=tmp_path)
    assert result.returncode == 2
    assert "no vault given" in result.stderr
    assert "Traceback" not in result.stderr
