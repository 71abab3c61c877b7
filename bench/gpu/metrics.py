"""The arithmetic of the GPU benchmark: pure functions over plain numbers and strings, testable without training.

Both implementations report the end time of every training step (seconds since their process started); the
frames of each step come from the epoch's batch list, which is the same for both (checked before timing).
From these one function computes frames/s for both, so the two are measured the same way.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TARGET_SEQTRAIN_OVER_PLAIN = 0.98  # frames/s, in every precision (the issue)
TARGET_AMP_OVER_FLOAT32 = 1.5  # frames/s of an AMP setting over float32, on the conformer
TARGET_SCALING_PER_DEVICE = 0.9  # N processes >= 0.9 * N times one (the issue: 2 GPUs >= 1.8x one)

_SUMMARY = re.compile(
    r"epoch (?P<epoch>\d+)/(?P<num_epochs>\d+): (?P<scores>.*) \| lr (?P<lr>.*?) \| "
    r"(?P<seconds>[\d.]+) s \(\+(?P<eval_seconds>[\d.]+) s eval\), (?P<steps>\d+) steps, "
    r"(?P<frames_per_s>[\d.]+) frames/s, data wait (?P<data_wait>[\d.]+)%"
)
_PEAK_GPU = re.compile(r"peak GPU memory (?P<gib>[\d.]+) GiB")
_SKIPPED = re.compile(r"(?P<n>\d+) updates skipped")
_COMPILED = re.compile(r"torch\.compile: (?P<n>\d+) graphs compiled")


@dataclass(frozen=True)
class EpochSummary:
    """seqtrain's own account of an epoch (its summary log line), kept to cross-check our measurement."""

    epoch: int
    steps: int
    seconds: float
    frames_per_s: float
    data_wait_percent: float
    train_scores: dict[str, float]
    peak_gpu_mem_gib: float | None  # the parts after "data wait" are there only when they say something
    skipped_updates: int
    compiled_graphs: int | None


def parse_epoch_summary(line: str) -> EpochSummary | None:
    """Reads "epoch 1/1: train ce 1.23 | lr 0.001 | 152.3 s (+0.0 s eval), 55 steps, 10500 frames/s, data wait
    0.7%[, peak GPU memory 1.23 GiB][, 3 updates skipped (...)][, torch.compile: 12 graphs compiled]"; None for
    any other line."""
    match = _SUMMARY.search(line)
    if match is None:
        return None
    details = line[match.end() :]
    peak, skipped, compiled = _PEAK_GPU.search(details), _SKIPPED.search(details), _COMPILED.search(details)
    return EpochSummary(
        epoch=int(match["epoch"]),
        steps=int(match["steps"]),
        seconds=float(match["seconds"]),
        frames_per_s=float(match["frames_per_s"]),
        data_wait_percent=float(match["data_wait"]),
        train_scores=_train_scores(match["scores"]),
        peak_gpu_mem_gib=float(peak["gib"]) if peak else None,
        skipped_updates=int(skipped["n"]) if skipped else 0,
        compiled_graphs=int(compiled["n"]) if compiled else None,
    )


def _train_scores(scores: str) -> dict[str, float]:
    """ "train ce 1.23 err 0.5 | dev ce 1.4" -> {"ce": 1.23, "err": 0.5}: the names and values after "train"."""
    first = scores.split(" | ")[0].split()
    if not first or first[0] != "train":
        return {}
    pairs = first[1:]
    out = {}
    for name, value in zip(pairs[0::2], pairs[1::2]):
        try:
            out[name] = float(value)
        except ValueError:
            continue  # not a number (a future format): leave it out rather than fail the benchmark
    return out


def step_frames(batch_frames: Sequence[int], nproc: int = 1) -> list[int]:
    """Frames of each step: with N processes and a per-device batch size, step s trains batches sN .. sN+N-1
    (seqtrain.data.sharding), so a step's frames are those of N consecutive batches of the list."""
    if nproc < 1:
        raise ValueError(f"nproc must be >= 1, got {nproc}")
    return [sum(batch_frames[i : i + nproc]) for i in range(0, len(batch_frames), nproc)]


def frames_per_second(step_end_s: Sequence[float], frames: Sequence[int], warmup_steps: int) -> float:
    """Frames of the steps after the warm-up over the time from the end of the last warm-up step to the end of
    the last step: compilation, cuDNN/allocator warm-up and the first data fetches are left out."""
    if len(step_end_s) != len(frames):
        raise ValueError(f"{len(step_end_s)} step times but {len(frames)} step frame counts")
    if warmup_steps < 1 or len(step_end_s) <= warmup_steps:
        raise ValueError(f"need more steps ({len(step_end_s)}) than warm-up steps ({warmup_steps}) >= 1")
    seconds = step_end_s[-1] - step_end_s[warmup_steps - 1]
    if seconds <= 0:
        raise ValueError(f"step end times do not increase: {step_end_s[warmup_steps - 1]} -> {step_end_s[-1]}")
    return sum(frames[warmup_steps:]) / seconds


def ratio(a: float | None, b: float | None, digits: int = 4) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def targets(line: dict[str, Any]) -> dict[str, Any]:
    """Which of the issue's targets a result line can be held against, and whether it meets them. The targets
    are stated for a GPU; on a CPU they are reported all the same, with `on_gpu` false."""
    out: dict[str, Any] = {"on_gpu": line["device"] == "cuda"}
    if line.get("ratio_seqtrain_vs_plain") is not None:
        out["seqtrain_vs_plain"] = _target(line["ratio_seqtrain_vs_plain"], TARGET_SEQTRAIN_OVER_PLAIN)
    speedup = line.get("speedup_vs_float32") or {}
    if line["model"] == "conformer" and speedup.get("seqtrain") is not None:
        out["amp_vs_float32"] = _target(speedup["seqtrain"], TARGET_AMP_OVER_FLOAT32)
    if line.get("scaling_vs_1proc") is not None:
        out["scaling"] = _target(line["scaling_vs_1proc"], TARGET_SCALING_PER_DEVICE * line["nproc"])
    return out


def _target(value: float, target: float) -> dict[str, Any]:
    return {"value": value, "target": round(target, 4), "met": value >= target}
