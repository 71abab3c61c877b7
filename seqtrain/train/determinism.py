"""`deterministic_train`: the switches that make PyTorch's kernels reproducible, for the length of a run.

seqtrain's own randomness is reproducible without this key: every generator is seeded from
(random_seed, purpose, epoch, step, rank), data order from (random_seed, epoch), dataset randomness per
batch. On CPU that already gives bitwise equal runs (same torch build and thread count). What remains
are kernels that are non-deterministic by design, mostly on GPUs: atomics in scatter/index_add, CTC
and embedding backward, cuDNN's algorithm search, cuBLAS workspaces. This key turns on PyTorch's
deterministic implementations of those (slower) and says where none exists.

What is deterministic on a GPU with the key set (same GPU model, driver, CUDA/cuDNN/torch versions,
number of GPUs): matmuls, convolutions, RNNs, and every op that has a deterministic kernel. What is not:
ops without one (torch names them: a warning with True, an error with "strict"; notably
`ctc_loss` backward on CUDA), and NCCL all-reduce across different numbers of GPUs or topologies.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

log = logging.getLogger("seqtrain")

CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs for reproducible results (CUDA >= 10.2)


@contextmanager
def deterministic_algorithms(mode: bool | str) -> Iterator[None]:
    """Applies `deterministic_train` (False / True / "strict") and restores the previous settings afterwards,
    so a run inside a longer-lived process (tests, notebooks) leaves the process as it found it."""
    if not mode:
        yield
        return
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    if saved[4] is None:
        # cuBLAS reads this when its first handle is created; set it before anything touches CUDA.
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            log.warning(
                "WARNING: deterministic_train: CUDA was initialized before training started (in the config?); "
                "set CUBLAS_WORKSPACE_CONFIG=%s in the environment for reproducible cuBLAS results",
                CUBLAS_WORKSPACE,
            )
    strict = mode == "strict"
    torch.use_deterministic_algorithms(True, warn_only=not strict)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        enabled, warn_only, cudnn_deterministic, cudnn_benchmark, cublas = saved
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_deterministic
        torch.backends.cudnn.benchmark = cudnn_benchmark
        if cublas is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def determinism_summary() -> str | None:
    """For the run's setup log line: what is switched on right now (None: nothing)."""
    if not torch.are_deterministic_algorithms_enabled():
        return None
    missing = "warning" if torch.is_deterministic_algorithms_warn_only_enabled() else "error"
    return f"deterministic kernels (an op without one: {missing}), cuDNN benchmark off"
