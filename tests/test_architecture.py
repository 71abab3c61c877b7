"""The package's layers and its freedom from import cycles, as declared in pyproject.toml (import-linter).

Runs `lint-imports` itself, so CI fails on an upward import or a cycle; a second check catches what
import-linter cannot see as a violation: a seqtrain import of another package hidden inside a function.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "seqtrain"


def test_import_linter_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.fail("lint-imports is missing: install the dev extras (pip install -e .[dev])")
    done = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_import_of_another_package_inside_a_function() -> None:
    """Imports inside functions hide dependencies (and used to dodge cycles); within one package they may
    break a genuine recursion (a MetaDataset's sub-datasets), across packages they are not allowed."""
    hidden = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        tree = ast.parse(path.read_text(), filename=str(path))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                imported = node.module if isinstance(node, ast.ImportFrom) else None
                if imported and imported.startswith("seqtrain") and _package_of(imported) != _package_of(module):
                    hidden.append(f"{path.relative_to(REPO)}:{node.lineno} imports {imported}")
    assert not hidden, "\n".join(hidden)


def test_the_training_loop_reads_in_one_sitting() -> None:
    """engine.py (setup, epochs) and loop.py (steps) together stay under 400 lines: what makes them longer
    belongs in the modules they call."""
    lines = sum(len((PACKAGE / "train" / name).read_text().splitlines()) for name in ("engine.py", "loop.py"))
    assert lines <= 400, f"engine.py + loop.py have {lines} lines"
