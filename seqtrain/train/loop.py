"""One training epoch, top to bottom, and one training step.

    for each batch of the epoch (from `start_batch` when resuming):
        settings of this step (learning rate, clipping, noise, accumulation)   -> StepSchedule.at(step)
        forward + losses + backward                                            -> TrainStep (user code)
        every `accum_grad_multiple_step` batches: combine ranks, noise, clip, update
        scores, log
        after an update: mid-epoch checkpoint when due; stop cleanly on SIGTERM/SIGINT

The engine (engine.py) prepares the epoch (model, batch list, learning rate) and finishes it (epoch checkpoint,
evaluation, scores); nothing here knows about files beyond asking `MidEpochSaves`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from seqtrain.data.epoch import EpochPlan
from seqtrain.data.loader import Batch
from seqtrain.errors import SeqtrainError
from seqtrain.log import format_scores
from seqtrain.model.context import StepContext
from seqtrain.model.precision import LossScaler
from seqtrain.rng import derive_seed, seed_all
from seqtrain.train.epoch_log import progress_bar
from seqtrain.train.epoch_stats import EpochStats
from seqtrain.train.mid_epoch import MidEpochSaves
from seqtrain.train.optim.optimizers import set_learning_rate
from seqtrain.train.run_checkpoints import Progress
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.step import (
    GradientNoise,
    ParallelStep,
    TrainStep,
    clip_and_update,
    forward_backward,
    out_of_memory_names,
)
from seqtrain.train.step_schedule import StepSchedule, StepSettings
from seqtrain.train.tensorboard import ScalarLog

log = logging.getLogger("seqtrain")


@dataclass
class EpochRun:
    """One training epoch and what its steps work with."""

    epoch: int
    plan: EpochPlan  # this rank's batches
    start_batch: int
    global_step: int
    schedule: StepSchedule
    step: TrainStep
    optimizer: torch.optim.Optimizer
    accumulator: ScoreAccumulator
    random_seed: int
    rank: int = 0
    parallel: ParallelStep | None = None  # None: a single process
    scaler: LossScaler | None = None  # float16/bfloat16 loss scaling (torch_amp)
    stop_on_nonfinite: bool = True


def train_epoch(run: EpochRun, batches: Iterator[Batch], saves: MidEpochSaves, scalar_log: ScalarLog) -> EpochStats:
    """Trains on `batches` (already started at `run.start_batch`); `run.global_step` advances with each batch."""
    model, device, num_batches = run.step.model, run.step.device, len(run.plan.batches)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    stats = EpochStats(scores={})
    if run.scaler is not None:
        run.scaler.skipped_updates = 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    saves.start_epoch(run.global_step)
    start = wait_start = time.perf_counter()
    pending = 0  # batches whose gradients are summed but not applied yet
    for batch_idx, batch in enumerate(
        progress_bar(batches, num_batches, run.start_batch, f"epoch {run.epoch}"), start=run.start_batch
    ):
        stats.data_wait_seconds += time.perf_counter() - wait_start
        seed_all(derive_seed(run.random_seed, "train-step", run.epoch, batch_idx, run.rank))
        batch = batch.to(device)
        settings = run.schedule.at(run.global_step)
        pending += 1
        update = pending >= settings.accum_grad_multiple_step or batch_idx + 1 >= num_batches
        ctx, grad_norm = train_step(run, batch, batch_idx, settings, params, update=update)
        pending = 0 if update else pending

        step_scores = run.accumulator.add(ctx.losses)
        if run.stop_on_nonfinite and not all(math.isfinite(v) for v in step_scores.values()):
            raise SeqtrainError(
                f"epoch {run.epoch}, step {run.global_step}: non-finite train score {format_scores(step_scores)} "
                f"(batch seqs {batch.seq_tags[:5]}...). Lower the learning rate or set gradient_clip; "
                "stop_on_nonfinite_train_score=False ignores this."
            )
        run.global_step += 1
        lr = settings.learning_rate
        stats.step_lr_range = (stats.step_lr_range[0] if stats.step_lr_range else lr, lr)
        stats.steps += 1
        stats.frames += batch.num_frames(next(iter(batch.lengths)))
        where = f"grad_norm {grad_norm:.3g}" if update else f"accumulating ({pending} batches)"
        log.debug("epoch %d step %d: %s lr %.3g %s", run.epoch, run.global_step, format_scores(step_scores), lr, where)
        norm = {"grad_norm": grad_norm} if update else {}
        scalar_log.scalars("train_step", {**step_scores, "lr": lr, **norm}, run.global_step)

        if update:  # the only points where a checkpoint holds no half-summed gradients
            progress = Progress(run.epoch, False, batch_idx + 1, run.global_step)
            stop_signal, checkpoint_due = saves.due(progress, run.plan)
            if checkpoint_due:
                saves.save(progress, run.plan, run.accumulator)
            if stop_signal is not None:
                raise saves.interrupted(stop_signal, progress)
        wait_start = time.perf_counter()
    stats.seconds = time.perf_counter() - start
    stats.scores = run.accumulator.scores()
    stats.skipped_updates = run.scaler.skipped_updates if run.scaler is not None else 0
    if device.type == "cuda":
        stats.peak_memory_bytes = torch.cuda.max_memory_allocated(device)
    return stats


def train_step(
    run: EpochRun,
    batch: Batch,
    batch_idx: int,
    settings: StepSettings,
    params: list[torch.nn.Parameter],
    *,
    update: bool,
) -> tuple[StepContext, float]:
    """Forward + backward of one batch and, when it ends an update, the update; returns the step's context (its
    marked losses) and the gradient norm (nan without an update)."""
    set_learning_rate(run.optimizer, settings.learning_rate)
    noise_rank = run.rank if run.parallel is None else run.parallel.update_seed_rank  # replicas must update alike
    noise_seed = derive_seed(run.random_seed, "gradient-noise", run.epoch, batch_idx, noise_rank)
    noise = GradientNoise(settings.gradient_noise, noise_seed) if settings.gradient_noise > 0 else None
    grad_norm = math.nan
    with out_of_memory_names(batch, f"epoch {run.epoch}, step {run.global_step}"):
        if run.parallel is None:
            ctx = StepContext(train=True, epoch=run.epoch, step=run.global_step)
            forward_backward(run.step, batch, ctx, scaler=run.scaler)
        else:
            ctx = run.parallel.step_context(epoch=run.epoch, step=run.global_step, step_in_epoch=batch_idx)
            with run.parallel.backward_sync(sync=update, step_in_epoch=batch_idx):
                forward_backward(run.parallel.step, batch, ctx, scaler=run.scaler)
        # With several ranks: combine their gradients first; False means this rank skips the update.
        if update and (run.parallel is None or run.parallel.before_update(params, step_in_epoch=batch_idx)):
            clip, scaler = settings.clip, run.scaler
            grad_norm = clip_and_update(params=params, optimizer=run.optimizer, clip=clip, noise=noise, scaler=scaler)
        if update and run.parallel is not None:
            run.parallel.after_update(step_in_epoch=batch_idx)  # every rank: it may hold a collective
    return ctx, grad_norm
