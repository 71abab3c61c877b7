"""Checks before timing anything: do seqtrain, the plain loop and RETURNN train on the same batches?

seqtrain's batch list comes from the same code path as in training (`make_dataset` + `plan_epoch` with
the benchmark config's values), the plain loop's from its re-implementation of RETURNN's batching, and
RETURNN's from RETURNN itself (`returnn_batches.py`, run in RETURNN's environment). RETURNN also
reports a checksum of the data it read, compared here with what seqtrain's `HDFDataset` reads: equal
means RETURNN loads seqtrain's HDF files as seqtrain does.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from bench.anchor import plain_torch
from bench.anchor.returnn_batches import MARKER
from seqtrain.data.batching import BatchSpec, padding_fraction
from seqtrain.data.epoch import plan_epoch
from seqtrain.data.factory import DatasetSetup, make_dataset

REPO = Path(__file__).resolve().parents[2]
SEQ_ORDERING = "laplace:.100"
RANDOM_SEED = 42  # seqtrain's and RETURNN's default


def seqtrain_setup(path: Path) -> DatasetSetup:
    return make_dataset({"class": "HDFDataset", "files": [str(path)], "seq_ordering": SEQ_ORDERING}, name="train")


def seqtrain_batches(setup: DatasetSetup) -> list[list[int]]:
    plan = plan_epoch(
        setup, 1, random_seed=RANDOM_SEED, batch_size=plain_torch.BATCH_SIZE, max_seqs=plain_torch.MAX_SEQS
    )
    return [list(b.seq_indices) for b in plan.batches]


def plain_batches(setup: DatasetSetup) -> list[list[int]]:
    lengths = setup.dataset.seq_lengths()
    return plain_torch.epoch_batches(lengths["data"], lengths["classes"])


def seqtrain_checksums(setup: DatasetSetup, batches: list[list[int]]) -> dict[str, str]:
    """Same digest as returnn_batches.py: per data key, dtype + shape + bytes of every sequence in batch order."""
    digests: dict[str, Any] = {}
    for batch in batches:
        for idx in batch:
            for key, value in sorted(setup.dataset.get_seq(idx).items()):
                array = np.ascontiguousarray(value)
                digest = digests.setdefault(key, hashlib.sha256())
                digest.update(f"{array.dtype}{array.shape}".encode())
                digest.update(array.tobytes())
    return {k: d.hexdigest() for k, d in sorted(digests.items())}


def returnn_result(returnn_python: str, path: Path, *, timeout: float = 300) -> dict[str, Any]:
    """RETURNN's batches (as seqtrain indices, taken from the "seq-N" tags) and data checksums."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [returnn_python, "-m", "bench.anchor.returnn_batches", str(path), "--seq-ordering", SEQ_ORDERING,
         "--batch-size", str(plain_torch.BATCH_SIZE), "--max-seqs", str(plain_torch.MAX_SEQS)],
        capture_output=True, text=True, env=env, timeout=timeout, check=False,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"RETURNN could not batch {path} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1][len(MARKER) :])
    result["batches"] = [[int(tag.rsplit("-", 1)[1]) for tag in b] for b in result["batches"]]
    return result


def check_batches(path: Path, returnn_python: str | None) -> dict[str, Any]:
    """Batch lists of the three implementations for one data file, compared; RETURNN's only when given."""
    setup = seqtrain_setup(path)
    ours = seqtrain_batches(setup)
    lengths = setup.dataset.seq_lengths()["data"]
    report: dict[str, Any] = {
        "num_batches": len(ours),
        "padding_fraction": round(padding_fraction(_specs(ours), lengths), 4),
        "seqtrain_equals_plain": ours == plain_batches(setup),
    }
    if returnn_python is not None:
        try:
            theirs = returnn_result(returnn_python, path)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            report["returnn_error"] = str(e)
            return report
        report["seqtrain_equals_returnn"] = ours == theirs["batches"]
        report["returnn_reads_same_data"] = seqtrain_checksums(setup, ours) == theirs["checksums"]
        if not report["seqtrain_equals_returnn"]:
            report["first_differing_batch"] = _first_difference(ours, theirs["batches"])
    return report


def _specs(batches: list[list[int]]) -> list[BatchSpec]:
    return [BatchSpec(tuple(b)) for b in batches]


def _first_difference(ours: list[list[int]], theirs: list[list[int]]) -> dict[str, Any]:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return {"index": i, "seqtrain": a, "returnn": b}
    return {"index": min(len(ours), len(theirs)), "seqtrain_batches": len(ours), "returnn_batches": len(theirs)}
