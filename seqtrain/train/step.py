"""One optimization step: forward + losses (user code), backward, noise, clipping, update.

Split in two so gradient accumulation and distributed reduction can sit between them: with
`accum_grad_multiple_step = k`, `forward_backward` runs for k batches (their gradients add up, like one
batch k times as large, since losses are summed) and `clip_and_update` once.
"""

from __future__ import annotations

import contextlib
import math
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from seqtrain.data.loader import Batch
from seqtrain.errors import ConfigError, SeqtrainError
from seqtrain.model.builder import ModelBuilder
from seqtrain.model.context import StepContext
from seqtrain.model.precision import LossScaler, Precision


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


class TrainStep(torch.nn.Module):
    """The user's `train_step` as a module whose forward returns the training objective.

    DistributedDataParallel needs the whole computation to pass through one module's forward (that is
    where it prepares the gradient reduction), and the user's step is more than `model(x)`: losses,
    several model calls. Wrapping the step lets DDP wrap it as it is; autocast sits here too, around the
    forward and the losses, never around backward.
    """

    def __init__(self, model: torch.nn.Module, builder: ModelBuilder, precision: Precision, device: torch.device):
        super().__init__()
        self.model = model
        self.builder = builder
        self.precision = precision
        self.device = device

    def forward(self, batch: Batch, ctx: StepContext) -> torch.Tensor | None:
        """The objective (None if no loss gets a gradient, or this rank has no data in this step)."""
        if not batch.num_seqs:  # a rank without data still calls this: DDP keeps its ranks in step here
            return None
        try:
            with self.precision.autocast(self.device):
                self.builder.train_step(model=self.model, batch=batch, ctx=ctx)
        except RuntimeError as e:
            if self.device.type == "cpu" and self.precision.dtype == torch.float16 and _raised_in_torch(e):
                raise ConfigError(
                    f"train_step failed under torch_amp float16 on the CPU: {str(e).splitlines()[0]}. CPU autocast "
                    "has float16 kernels for a few ops only (not LSTMs); use torch_amp='bfloat16' on the CPU, float16 "
                    "on a GPU"
                ) from e
            raise
        if not ctx.losses:
            raise SeqtrainError("train_step marked no loss; call ctx.mark_as_loss(name, loss) in it")
        return ctx.total_loss()


@dataclass(frozen=True)
class ClipOptions:
    gradient_clip: float = 0.0  # by value
    gradient_clip_global_norm: float = 0.0
    gradient_clip_norm: float = 0.0  # per tensor
    nan_inf_filter: bool = False  # non-finite gradient entries -> 0


@dataclass(frozen=True)
class GradientNoise:
    """`gradient_noise` of one update: its std and the seed of its generator (derived from epoch/batch/rank)."""

    std: float
    seed: int


def _raised_in_torch(error: BaseException) -> bool:
    """A kernel's error (raised in torch's own code), not one of the user's step."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and f"{os.sep}torch{os.sep}" in frames[-1].filename


def forward_backward(
    step: Callable[[Batch, StepContext], torch.Tensor | None],
    batch: Batch,
    ctx: StepContext,
    *,
    scaler: LossScaler | None = None,
) -> torch.Tensor | None:
    """Runs the step (a TrainStep, or DDP around one) and backpropagates the (scaled) objective; returns the
    unscaled objective."""
    total = step(batch, ctx)
    if total is not None:
        (scaler.scale(total) if scaler is not None else total).backward()
    return total


def add_gradient_noise_(grads: list[torch.Tensor], noise: GradientNoise) -> None:
    """RETURNN's `gradient_noise`: truncated normal (cut at 2 std) from a generator seeded for this update."""
    generators: dict[torch.device, torch.Generator] = {}
    for grad in grads:
        if grad.device not in generators:
            generators[grad.device] = torch.Generator(device=grad.device).manual_seed(noise.seed)
        sample = torch.empty_like(grad)
        torch.nn.init.trunc_normal_(
            sample, std=noise.std, a=-2 * noise.std, b=2 * noise.std, generator=generators[grad.device]
        )
        grad.add_(sample)


def clip_and_update(
    *,
    params: list[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    clip: ClipOptions,
    noise: GradientNoise | None = None,
    scaler: LossScaler | None = None,
) -> float:
    """Non-finite filter, noise, clipping (by value, per-tensor norm, global norm), optimizer step, clear gradients
    (RETURNN's order).

    Returns the global L2 norm of the gradients as they came out of backward (before noise and clipping,
    after unscaling), which is what one wants to watch for explosions. With a GradScaler the update is
    skipped when a gradient is inf/nan (the scaler counts it); nothing else changes.
    """
    with_grad = [p for p in params if p.grad is not None]
    grads = [p.grad for p in with_grad if p.grad is not None]
    grad_norm = 0.0
    if grads and scaler is not None:
        scaler.unscale_(optimizer)
    if grads:
        touched_first = clip.gradient_clip > 0 or clip.gradient_clip_norm > 0 or clip.nan_inf_filter
        measure_first = noise is not None or touched_first or clip.gradient_clip_global_norm <= 0
        grad_norm = float(torch.nn.utils.get_total_norm(grads)) if measure_first else math.nan
        if clip.nan_inf_filter:
            for grad in grads:
                torch.nan_to_num_(grad, nan=0.0, posinf=0.0, neginf=0.0)
        if noise is not None and noise.std > 0:
            add_gradient_noise_(grads, noise)
        if clip.gradient_clip > 0:
            torch.nn.utils.clip_grad_value_(with_grad, clip.gradient_clip)
        if clip.gradient_clip_norm > 0:
            for grad in grads:
                torch.nn.utils.clip_grad_norm_([grad], clip.gradient_clip_norm)
        if clip.gradient_clip_global_norm > 0:
            total = torch.nn.utils.clip_grad_norm_(with_grad, clip.gradient_clip_global_norm)
            if not measure_first:  # nothing touched the gradients before: this is their original norm
                grad_norm = float(total)
    if scaler is not None and grads:
        scaler.step(optimizer)
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return grad_norm


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
