"""Running training in tests: in-process via the CLI entry point, or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from seqtrain.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


def start_subprocess(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "seqtrain", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def model_params(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, weights_only=True)["model"]


def assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"parameter {name} differs"
