"""The inner loops: train one epoch, evaluate one dataset. No files, no epochs bookkeeping here."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from tqdm import tqdm

from seqtrain.data.loader import Batch
from seqtrain.errors import ConfigError, SeqtrainError
from seqtrain.log import format_scores
from seqtrain.model.builder import ModelBuilder
from seqtrain.model.context import StepContext
from seqtrain.model.precision import LossScaler, Precision
from seqtrain.rng import derive_seed, seed_all
from seqtrain.train.optim.optimizers import set_learning_rate
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.step import ClipOptions, GradientNoise, TrainStep, clip_and_update, forward_backward
from seqtrain.train.tensorboard import ScalarLog

log = logging.getLogger("seqtrain")


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


class ParallelStep(Protocol):
    """How the ranks of a multi-process run combine their steps (`seqtrain.train.distributed.data_parallel`)."""

    update_seed_rank: int  # rank in the seed of update-time randomness: 0 when all replicas must update alike
    step: Callable[[Batch, StepContext], torch.Tensor | None]  # the train step, e.g. inside DDP

    def step_context(self, *, epoch: int, step: int, step_in_epoch: int) -> StepContext: ...

    def backward_sync(self, *, sync: bool, step_in_epoch: int) -> contextlib.AbstractContextManager[Any]:
        """Where forward and backward of a batch run; `sync`: the batch ends an update."""
        ...

    def before_update(self, params: list[torch.nn.Parameter], *, step_in_epoch: int) -> bool:
        """Combines the ranks' gradients; False: this rank skips the update."""
        ...

    def after_update(self, *, step_in_epoch: int) -> None: ...


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
    gradient_noise_at: Callable[[int], float] = lambda step: 0.0
    accum_grad_at: Callable[[int], int] = lambda step: 1  # batches per update, read at each batch
    # Called after each update (not after batches inside an accumulation window): the only points where a
    # checkpoint holds no half-summed gradients, so resuming from any of them is exact.
    after_step: Callable[[int, int, ScoreAccumulator], None] = lambda batch_idx, global_step, acc: None
    stop_on_nonfinite: bool = True
    accumulator: ScoreAccumulator = field(default_factory=ScoreAccumulator)
    scalar_log: ScalarLog | None = None
    parallel: ParallelStep | None = None  # None: a single process
    scaler: LossScaler | None = None  # float16/bfloat16 loss scaling (torch_amp)


def _progress(batches: Iterator[Batch], *, total: int, initial: int, desc: str) -> Iterator[Batch]:
    """A tqdm bar only when a human watches (stderr is a terminal) and the log is not per step (nor quiet:
    log_verbosity <= 1, and ranks other than 0 of a multi-process run)."""
    if not sys.stderr.isatty() or log.isEnabledFor(logging.DEBUG) or not log.isEnabledFor(logging.INFO):
        return batches
    return iter(tqdm(batches, total=total, initial=initial, desc=desc, unit="batch", leave=False, dynamic_ncols=True))


def train_epoch(
    *,
    step: TrainStep,
    optimizer: torch.optim.Optimizer,
    batches: Iterator[Batch],
    inp: TrainEpochInput,
) -> tuple[EpochStats, int]:
    """Trains on `batches` (already started at `inp.start_batch`); returns stats and the new global step."""
    model, device = step.model, step.device
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    acc = inp.accumulator
    stats = EpochStats(scores={})
    if inp.scaler is not None:
        inp.scaler.skipped_updates = 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    global_step = inp.global_step
    start = time.perf_counter()
    wait_start = start
    bar = _progress(batches, total=inp.num_batches, initial=inp.start_batch, desc=f"epoch {inp.epoch}")
    pending = 0  # batches whose gradients are summed but not applied yet
    for batch_idx, batch in enumerate(bar, start=inp.start_batch):
        stats.data_wait_seconds += time.perf_counter() - wait_start
        seed_all(derive_seed(inp.random_seed, "train-step", inp.epoch, batch_idx, inp.rank))
        batch = batch.to(device)
        lr = inp.learning_rate_at(global_step)
        set_learning_rate(optimizer, lr)
        pending += 1
        update = pending >= _accum_grad_steps(inp, global_step) or batch_idx + 1 >= inp.num_batches
        with out_of_memory_names(batch, f"epoch {inp.epoch}, step {global_step}"):
            if inp.parallel is None:
                ctx = StepContext(train=True, epoch=inp.epoch, step=global_step)
                forward_backward(step, batch, ctx, scaler=inp.scaler)
            else:
                ctx = inp.parallel.step_context(epoch=inp.epoch, step=global_step, step_in_epoch=batch_idx)
                with inp.parallel.backward_sync(sync=update, step_in_epoch=batch_idx):
                    forward_backward(inp.parallel.step, batch, ctx, scaler=inp.scaler)
            grad_norm = _update(params, optimizer, inp, batch_idx, global_step) if update else math.nan
        pending = 0 if update else pending
        step_scores = acc.add(ctx.losses)
        if inp.stop_on_nonfinite and not all(math.isfinite(v) for v in step_scores.values()):
            raise SeqtrainError(
                f"epoch {inp.epoch}, step {global_step}: non-finite train score {format_scores(step_scores)} "
                f"(batch seqs {batch.seq_tags[:5]}...). Lower the learning rate or set gradient_clip; "
                "stop_on_nonfinite_train_score=False ignores this."
            )
        global_step += 1
        stats.step_lr_range = (stats.step_lr_range[0] if stats.step_lr_range else lr, lr)
        stats.steps += 1
        stats.frames += batch.num_frames(next(iter(batch.lengths)))
        where = f"grad_norm {grad_norm:.3g}" if update else f"accumulating ({pending} batches)"
        log.debug("epoch %d step %d: %s lr %.3g %s", inp.epoch, global_step, format_scores(step_scores), lr, where)
        if inp.scalar_log is not None:
            norm = {"grad_norm": grad_norm} if update else {}
            inp.scalar_log.scalars("train_step", {**step_scores, "lr": lr, **norm}, global_step)
        if update:
            inp.after_step(batch_idx + 1, global_step, acc)
        wait_start = time.perf_counter()
    stats.seconds = time.perf_counter() - start
    stats.scores = acc.scores()
    stats.skipped_updates = inp.scaler.skipped_updates if inp.scaler is not None else 0
    if device.type == "cuda":
        stats.peak_memory_bytes = torch.cuda.max_memory_allocated(device)
    return stats, global_step


@contextlib.contextmanager
def out_of_memory_names(batch: Batch, where: str) -> Iterator[None]:
    """A (CUDA) out-of-memory error becomes one that names the batch and what to change."""
    try:
        yield
    except torch.OutOfMemoryError as e:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in batch.data.items())
        raise SeqtrainError(
            f"{where}: out of memory in the batch of {batch.num_seqs} seqs, padded {shapes} "
            f"(seqs {', '.join(batch.seq_tags[:5])}{', ...' if batch.num_seqs > 5 else ''}). Lower batch_size "
            f"(padded frames per batch) or max_seqs, or drop long sequences with max_seq_length. "
            f"({str(e).splitlines()[0]})"
        ) from e


def _accum_grad_steps(inp: TrainEpochInput, global_step: int) -> int:
    steps = inp.accum_grad_at(global_step)
    if steps < 1:
        raise ConfigError(
            f"accum_grad_multiple_step is {steps} at epoch {inp.epoch}, step {global_step}; it must be >= 1"
        )
    return steps


def _update(
    params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer, inp: TrainEpochInput, batch_idx: int, step: int
) -> float:
    """Noise, clipping and the optimizer step with this step's settings; returns the gradient norm."""
    std = inp.gradient_noise_at(step)
    if std < 0:
        raise ConfigError(f"gradient_noise is {std} at epoch {inp.epoch}, step {step}; it is a std, >= 0")
    rank = inp.rank if inp.parallel is None else inp.parallel.update_seed_rank
    seed = derive_seed(inp.random_seed, "gradient-noise", inp.epoch, batch_idx, rank)
    noise = GradientNoise(std, seed) if std > 0 else None
    clip, scaler = inp.clip_at(step), inp.scaler
    if inp.parallel is None:
        return clip_and_update(params=params, optimizer=optimizer, clip=clip, noise=noise, scaler=scaler)
    grad_norm = math.nan
    if inp.parallel.before_update(params, step_in_epoch=batch_idx):
        grad_norm = clip_and_update(params=params, optimizer=optimizer, clip=clip, noise=noise, scaler=scaler)
    inp.parallel.after_update(step_in_epoch=batch_idx)  # every rank: it may hold a collective
    return grad_norm


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
    accumulator: ScoreAccumulator | None = None,
    precision: Precision | None = None,
) -> EpochStats:
    """Computes every marked loss (eval-only ones included) without gradients; sums into `accumulator`
    when given (a multi-process run reduces it across ranks)."""
    model.eval()
    acc = accumulator if accumulator is not None else ScoreAccumulator()
    stats = EpochStats(scores={})
    start = time.perf_counter()
    for batch_idx, batch in enumerate(batches):
        seed_all(derive_seed(random_seed, "eval-step", epoch, batch_idx, rank))
        batch = batch.to(device)
        ctx = StepContext(train=False, epoch=epoch, step=batch_idx)
        autocast = precision.autocast(device, train=False) if precision is not None else contextlib.nullcontext()
        with out_of_memory_names(batch, f"evaluation, epoch {epoch}"), autocast:
            builder.train_step(model=model, batch=batch, ctx=ctx)
        acc.add(ctx.losses)
        stats.steps += 1
        stats.frames += batch.num_frames(next(iter(batch.lengths)))
    stats.seconds = time.perf_counter() - start
    stats.scores = acc.scores()
    return stats
