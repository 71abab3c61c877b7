"""The inner loops: train one epoch, evaluate one dataset. No files, no epochs bookkeeping here."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from seqtrain.data.loader import Batch
from seqtrain.errors import SeqtrainError
from seqtrain.log import format_scores
from seqtrain.rng import derive_seed, seed_all
from seqtrain.train.context import StepContext
from seqtrain.train.model_builder import ModelBuilder
from seqtrain.train.optim import set_learning_rate
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.step import ClipOptions, clip_and_update, forward_backward
from seqtrain.train.tensorboard import ScalarLog

log = logging.getLogger("seqtrain")


@dataclass
class EpochStats:
    scores: dict[str, float]
    steps: int = 0
    frames: int = 0
    seconds: float = 0.0
    data_wait_seconds: float = 0.0


@dataclass
class TrainEpochInput:
    """What one training epoch needs besides model and data."""

    epoch: int
    start_batch: int
    num_batches: int
    global_step: int
    random_seed: int
    rank: int = 0
    learning_rate_at: Callable[[int], float] = lambda step: 1.0
    clip_at: Callable[[int], ClipOptions] = lambda step: ClipOptions()
    after_step: Callable[[int, int, ScoreAccumulator], None] = lambda batch_idx, global_step, acc: None
    stop_on_nonfinite: bool = True
    accumulator: ScoreAccumulator = field(default_factory=ScoreAccumulator)
    scalar_log: ScalarLog | None = None


def _progress(batches: Iterator[Batch], *, total: int, initial: int, desc: str) -> Iterator[Batch]:
    """A tqdm bar only when a human watches (stderr is a terminal) and the log is not per step."""
    if not sys.stderr.isatty() or log.isEnabledFor(logging.DEBUG):
        return batches
    return iter(tqdm(batches, total=total, initial=initial, desc=desc, unit="batch", leave=False, dynamic_ncols=True))


def train_epoch(
    *,
    model: torch.nn.Module,
    builder: ModelBuilder,
    optimizer: torch.optim.Optimizer,
    batches: Iterator[Batch],
    device: torch.device,
    inp: TrainEpochInput,
) -> tuple[EpochStats, int]:
    """Trains on `batches` (already started at `inp.start_batch`); returns stats and the new global step."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    acc = inp.accumulator
    stats = EpochStats(scores={})
    global_step = inp.global_step
    start = time.perf_counter()
    wait_start = start
    bar = _progress(batches, total=inp.num_batches, initial=inp.start_batch, desc=f"epoch {inp.epoch}")
    for batch_idx, batch in enumerate(bar, start=inp.start_batch):
        stats.data_wait_seconds += time.perf_counter() - wait_start
        seed_all(derive_seed(inp.random_seed, "train-step", inp.epoch, batch_idx, inp.rank))
        batch = batch.to(device)
        lr = inp.learning_rate_at(global_step)
        set_learning_rate(optimizer, lr)
        ctx = StepContext(train=True, epoch=inp.epoch, step=global_step)
        forward_backward(model=model, builder=builder, batch=batch, ctx=ctx)
        grad_norm = clip_and_update(params=params, optimizer=optimizer, clip=inp.clip_at(global_step))
        step_scores = acc.add(ctx.losses)
        if inp.stop_on_nonfinite and not all(math.isfinite(v) for v in step_scores.values()):
            raise SeqtrainError(
                f"epoch {inp.epoch}, step {global_step}: non-finite train score {format_scores(step_scores)} "
                f"(batch seqs {batch.seq_tags[:5]}...). Lower the learning rate or set gradient_clip; "
                "stop_on_nonfinite_train_score=False ignores this."
            )
        global_step += 1
        stats.steps += 1
        stats.frames += batch.num_frames(next(iter(batch.lengths)))
        log.debug(
            "epoch %d step %d: %s lr %.3g grad_norm %.3g", inp.epoch, global_step, format_scores(step_scores), lr,
            grad_norm,
        )
        if inp.scalar_log is not None:
            inp.scalar_log.scalars("train_step", {**step_scores, "lr": lr, "grad_norm": grad_norm}, global_step)
        inp.after_step(batch_idx + 1, global_step, acc)
        wait_start = time.perf_counter()
    stats.seconds = time.perf_counter() - start
    stats.scores = acc.scores()
    return stats, global_step


@torch.no_grad()
def evaluate(
    *,
    model: torch.nn.Module,
    builder: ModelBuilder,
    batches: Iterator[Batch],
    device: torch.device,
    epoch: int,
    random_seed: int,
    rank: int = 0,
) -> EpochStats:
    """Computes every marked loss (eval-only ones included) without gradients."""
    model.eval()
    acc = ScoreAccumulator()
    stats = EpochStats(scores={})
    start = time.perf_counter()
    for batch_idx, batch in enumerate(batches):
        seed_all(derive_seed(random_seed, "eval-step", epoch, batch_idx, rank))
        batch = batch.to(device)
        ctx = StepContext(train=False, epoch=epoch, step=batch_idx)
        builder.train_step(model=model, batch=batch, ctx=ctx)
        acc.add(ctx.losses)
        stats.steps += 1
        stats.frames += batch.num_frames(next(iter(batch.lengths)))
    stats.seconds = time.perf_counter() - start
    stats.scores = acc.scores()
    return stats
