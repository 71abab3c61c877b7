"""One optimization step: forward + losses (user code), backward, clipping, update.

Split in two so gradient accumulation and distributed reduction can sit between them.
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


def clip_and_update(
    *, params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer, clip: ClipOptions
) -> float:
    """Clips, steps the optimizer, clears gradients; returns the global gradient norm before clipping."""
    grads = [p for p in params if p.grad is not None]
    if clip.gradient_clip > 0:
        torch.nn.utils.clip_grad_value_(grads, clip.gradient_clip)
    max_norm = clip.gradient_clip_global_norm if clip.gradient_clip_global_norm > 0 else math.inf
    grad_norm = float(torch.nn.utils.clip_grad_norm_(grads, max_norm)) if grads else 0.0
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return grad_norm
