"""What the layering promises at run time: a build with nothing to do imports no renderer,
picture library or package writer (those are imported only by the stages that need them)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("mistune", "pygments", "PIL", "genanki", "nh3", "requests")

PROBE = """
import json, sys
from ankigen.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def _build(vault: Path, out: Path) -> dict:
    command = [sys.executable, "-c", PROBE, "build", str(vault), "-o", str(out), "--offline", "-q"]
    result = subprocess.run(
        [*command, "--cache-dir", str(out.parent / "cache")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_build_with_nothing_to_do_imports_no_renderer_pictures_or_packager(
    tmp_path: Path,
) -> None:
    vault = tmp_path / "vault"
    shutil.copytree(REPO / "examples" / "vault", vault)
    first = _build(vault, tmp_path / "out")
    assert first["status"] == 0
    # The probe sees imports (the renderers may be imported by the worker processes only).
    assert {"PIL", "genanki"} <= {name.split(".")[0] for name in first["modules"]}
    again = _build(vault, tmp_path / "out")
    assert again["status"] == 0
    imported = {name.split(".")[0] for name in again["modules"]}
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
