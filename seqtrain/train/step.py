"""One optimization step: forward + losses (user code), backward, noise, clipping, update.

Split in two so gradient accumulation and distributed reduction can sit between them: with
`accum_grad_multiple_step = k`, `forward_backward` runs for k batches (their gradients add up, like one
batch k times as large, since losses are summed) and `clip_and_update` once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from seqtrain.data.loader import Batch
from seqtrain.errors import SeqtrainError
from seqtrain.train.context import StepContext
from seqtrain.train.model_builder import ModelBuilder


@dataclass(frozen=True)
class ClipOptions:
    gradient_clip: float = 0.0  # by value
    gradient_clip_global_norm: float = 0.0


@dataclass(frozen=True)
class GradientNoise:
    """`gradient_noise` of one update: its std and the seed of its generator (derived from epoch/batch/rank)."""

    std: float
    seed: int


def forward_backward(
    *, model: torch.nn.Module, builder: ModelBuilder, batch: Batch, ctx: StepContext, loss_scale: float = 1.0
) -> torch.Tensor | None:
    """Runs the user's train_step and backpropagates the objective; returns the (unscaled) objective."""
    builder.train_step(model=model, batch=batch, ctx=ctx)
    if not ctx.losses:
        raise SeqtrainError("train_step marked no loss; call ctx.mark_as_loss(name, loss) in it")
    total = ctx.total_loss()
    if total is not None:
        (total * loss_scale if loss_scale != 1.0 else total).backward()
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
) -> float:
    """Noise, clipping (by value, then global norm), optimizer step, clear gradients (RETURNN's order).

    Returns the global L2 norm of the gradients as they came out of backward (before noise and clipping),
    which is what one wants to watch for explosions.
    """
    with_grad = [p for p in params if p.grad is not None]
    grads = [p.grad for p in with_grad if p.grad is not None]
    grad_norm = 0.0
    if grads:
        measure_first = noise is not None or clip.gradient_clip > 0 or clip.gradient_clip_global_norm <= 0
        grad_norm = float(torch.nn.utils.get_total_norm(grads)) if measure_first else math.nan
        if noise is not None and noise.std > 0:
            add_gradient_noise_(grads, noise)
        if clip.gradient_clip > 0:
            torch.nn.utils.clip_grad_value_(with_grad, clip.gradient_clip)
        if clip.gradient_clip_global_norm > 0:
            total = torch.nn.utils.clip_grad_norm_(with_grad, clip.gradient_clip_global_norm)
            if not measure_first:  # nothing touched the gradients before: this is their original norm
                grad_norm = float(total)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return grad_norm
