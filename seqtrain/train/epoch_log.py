"""The log lines and TensorBoard scalars of an epoch: one line at the start, one summary at the end."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

from tqdm import tqdm

from seqtrain.data.epoch import EpochPlan
from seqtrain.data.loader import Batch
from seqtrain.log import format_scores
from seqtrain.train.epoch_stats import EpochStats
from seqtrain.train.tensorboard import ScalarLog

log = logging.getLogger("seqtrain")


def log_epoch_start(epoch: int, plan: EpochPlan, start_batch: int, lr: float) -> None:
    resumed = f", resuming at batch {start_batch}" if start_batch else ""
    log.info(
        "epoch %d: %d batches, %d seqs%s, lr %.4g%s",
        epoch,
        len(plan.batches),
        plan.num_seqs,
        plan.left_out_text(),
        lr,
        resumed,
    )


def describe_learning_rate(lr: float, step_range: tuple[float, float] | None) -> str:
    """The epoch's LR, and where a per-step schedule moved it: "0.0015 (steps 0.00012 -> 0.00075)"."""
    if step_range is None or all(abs(v - lr) <= 1e-12 * max(abs(lr), 1e-30) for v in step_range):
        return f"{lr:.4g}"
    return f"{lr:.4g} (steps {step_range[0]:.4g} -> {step_range[1]:.4g})"


def log_epoch_summary(
    epoch: int,
    num_epochs: int,
    lr: float,
    stats: EpochStats,
    evals: dict[str, EpochStats],
    scalar_log: ScalarLog,
) -> None:
    """ "epoch 3/10: train ctc 0.52 | dev ctc 0.61 wer 0.12 | lr 0.001 | 152.3 s, 293 steps, ...", and scalars."""
    parts = [f"train {format_scores(stats.scores)}"]
    parts += [f"{name} {format_scores(s.scores)}" for name, s in evals.items()]
    wait = 100.0 * stats.data_wait_seconds / stats.seconds if stats.seconds else 0.0
    speed = stats.frames / stats.seconds if stats.seconds else 0.0
    eval_seconds = sum(s.seconds for s in evals.values())
    log.info(
        "epoch %d/%d: %s | lr %s | %.1f s (+%.1f s eval), %d steps, %.0f frames/s, data wait %.1f%%%s",
        epoch,
        num_epochs,
        " | ".join(parts),
        describe_learning_rate(lr, stats.step_lr_range),
        stats.seconds,
        eval_seconds,
        stats.steps,
        speed,
        wait,
        "".join(f", {part}" for part in device_details(stats)),
    )
    scalar_log.scalars("train", stats.scores, epoch)
    for name, s in evals.items():
        scalar_log.scalars(name, s.scores, epoch)
    extra: dict[str, float] = {"skipped_updates": stats.skipped_updates}
    if stats.peak_memory_bytes is not None:
        extra["peak_memory_gib"] = stats.peak_memory_bytes / 2**30
    if stats.compiled_graphs is not None:
        extra["compiled_graphs"] = stats.compiled_graphs
    scalar_log.scalars("epoch", {"learning_rate": lr, "seconds": stats.seconds, **extra}, epoch)
    scalar_log.flush()


def device_details(stats: EpochStats) -> list[str]:
    """What the summary says about the device, only where there is something to say."""
    parts = []
    if stats.peak_memory_bytes is not None:
        parts.append(f"peak GPU memory {stats.peak_memory_bytes / 2**30:.2f} GiB")
    if stats.skipped_updates:
        parts.append(f"{stats.skipped_updates} updates skipped (inf/nan gradients, GradScaler)")
    if stats.compiled_graphs is not None:
        parts.append(f"torch.compile: {stats.compiled_graphs} graphs compiled")
    return parts


def progress_bar(batches: Iterator[Batch], total: int, initial: int, desc: str) -> Iterator[Batch]:
    """A tqdm bar only when a human watches (stderr is a terminal) and the log is not per step (nor quiet:
    log_verbosity <= 1, and ranks other than 0 of a multi-process run)."""
    if not sys.stderr.isatty() or log.isEnabledFor(logging.DEBUG) or not log.isEnabledFor(logging.INFO):
        return batches
    return iter(tqdm(batches, total=total, initial=initial, desc=desc, unit="batch", leave=False, dynamic_ncols=True))
