"""What one pass over a dataset reports: scores, steps, frames, time, and what the device did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EpochStats:
    scores: dict[str, float]
    steps: int = 0
    frames: int = 0
    seconds: float = 0.0
    data_wait_seconds: float = 0.0
    step_lr_range: tuple[float, float] | None = None  # (first, last) learning rate of the epoch's steps
    skipped_updates: int = 0  # updates the GradScaler skipped (inf/nan gradients in float16)
    peak_memory_bytes: int | None = None  # peak memory allocated on a CUDA device during the epoch
    compiled_graphs: int | None = None  # graphs torch.compile produced during the epoch (torch_compile only)
