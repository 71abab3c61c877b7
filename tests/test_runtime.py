from __future__ import annotations

import subprocess
import sys

from tests.train.helpers import REPO


def test_keep_freed_memory_cuts_page_faults_of_repeated_allocations() -> None:
    """Same allocate/free pattern as a training step, with and without the setting, in fresh processes."""
    script = """
import resource, sys, numpy as np
from seqtrain.runtime import keep_freed_memory
if sys.argv[1] == "1":
    assert keep_freed_memory()
for step in range(30):
    if step == 1:  # after the first step has grown the heap
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffers = [np.ones(n * 131072) for n in (8, 24, 3, 16, 40)]  # 1, 3, 0.4, 2, 5 MiB, like activations
    del buffers
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    faults = {}
    for flag in ("0", "1"):
        out = subprocess.run(
            [sys.executable, "-c", script, flag],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(REPO)},
        ).stdout
        faults[flag] = int(out)
    # default: each step faults in most of its ~2900 pages again; tuned: pages are reused
    assert faults["0"] > 29 * 2000
    assert faults["1"] < faults["0"] / 3
