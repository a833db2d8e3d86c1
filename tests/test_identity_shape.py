"""The identity package keeps its functions small (issue 17): at most 60 lines each (checked
here), cyclomatic complexity at most 20 and 40 statements (ruff, with the package's own
ankigen/identity/ruff.toml, in `make lint`; checked here to be in force)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "ankigen" / "identity"
MAX_LINES = 60
RUFF = Path(sys.executable).parent / "ruff"


def long_functions(source: str, name: str) -> list[str]:
    """ "name:line function: N lines" for each function of the source longer than MAX_LINES."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_LINES:
                found.append(f"{name}:{node.lineno} {node.name}: {lines} lines")
    return found


def _function(lines: int) -> str:
    """A function of exactly `lines` lines."""
    body = "".join(f"    x{k} = {k}\n" for k in range(lines - 2))
    return f"def grown():\n{body}    return 0\n"


def test_no_function_of_the_identity_package_is_over_60_lines() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert {p.stem for p in modules} >= {"identities", "identify", "matching", "lockfile"}
    found = [row for path in modules for row in long_functions(path.read_text(), path.name)]
    assert not found, found


def test_the_line_limit_finds_a_function_that_grew() -> None:
    assert long_functions(_function(MAX_LINES), "m.py") == []
    assert long_functions(_function(MAX_LINES + 1), "m.py") == ["m.py:1 grown: 61 lines"]
    nested = "class C:\n" + "".join(f"    {line}\n" for line in _function(70).splitlines())
    assert long_functions(nested, "m.py") == ["m.py:2 grown: 70 lines"]


def ruff_on(source: str, rules: str, package: Path = PACKAGE) -> subprocess.CompletedProcess[str]:
    """ruff on `source` as if it were a module of `package` (so its configuration applies)."""
    command = [str(RUFF), "check", "--no-cache", "--select", rules, "--output-format", "concise"]
    return subprocess.run(
        [*command, "--stdin-filename", str(package / "probe.py"), "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def branches(count: int) -> str:
    """A function of cyclomatic complexity count + 1 and few statements."""
    tests = "".join(f"    if x == {k}:\n        return {k}\n" for k in range(count))
    return f"def branches(x: int) -> int:\n{tests}    return -1\n"


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is installed by make install-test")
def test_ruff_refuses_a_function_of_the_package_past_complexity_20_or_40_statements() -> None:
    assert ruff_on(branches(19), "C901").returncode == 0  # complexity 20
    refused = ruff_on(branches(20), "C901")  # 21
    assert refused.returncode == 1 and "(21 > 20)" in refused.stdout, refused.stdout
    assert ruff_on(_function(42), "PLR0915").returncode == 0  # 40 statements as ruff counts them
    refused = ruff_on(_function(43), "PLR0915")
    assert refused.returncode == 1 and "(41 > 40)" in refused.stdout, refused.stdout
