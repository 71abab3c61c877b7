"""Seeds derived from (random_seed, purpose, epoch, step, rank, ...).

Every random generator in seqtrain is seeded from such a tuple instead of running on from wherever
it happened to be, so a step's randomness depends only on where it is in training. That is what makes
"train 3 epochs" and "train 1, stop, resume, train 2" bitwise equal, and workers independent of timing.
"""

from __future__ import annotations

import random
import zlib

import numpy as np
import torch


def derive_seed(random_seed: int, purpose: str, *parts: int) -> int:
    """A 63-bit seed from the run's seed, a purpose string and integers (epoch, step, rank, worker ...)."""
    entropy = [random_seed & 0xFFFFFFFF, zlib.crc32(purpose.encode()), *(int(p) & 0xFFFFFFFF for p in parts)]
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & 0x7FFFFFFFFFFFFFFF


def seed_all(seed: int) -> None:
    """Seeds torch (CPU and CUDA), numpy's and Python's global generators, for code we do not control."""
    torch.manual_seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    random.seed(seed)


def rng_state() -> dict[str, object]:
    """The global generators' state, saved in checkpoints for completeness."""
    state: dict[str, object] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].copy()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state
