"""Normalization: layer_norm (per frame), norm (per sequence or per frame) and batch_norm (valid frames only).

Batch statistics are computed from the frames inside each sequence's length, so how much padding a
batch has does not change the normalization. `momentum` has torch's meaning (running = (1 - m) *
running + m * batch); evaluation uses the running statistics. Parameters `weight` (scale, init 1) and
`bias` (shift, init 0) are not touched by the init options; buffers `running_mean`, `running_var`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer
from seqtrain.nn.seq import Seq, SeqInfo


class MaskedBatchNorm(nn.Module):
    """Batch norm over [B, T, ..., D] that only counts frames where `mask` [B, T] is True."""

    is_norm = True

    def __init__(
        self, dim: int, *, momentum: float = 0.1, epsilon: float = 1e-5, use_shift: bool = True, use_std: bool = True
    ) -> None:
        super().__init__()
        self.momentum = momentum
        self.epsilon = epsilon
        self.weight = nn.Parameter(torch.ones(dim)) if use_std else None
        self.bias = nn.Parameter(torch.zeros(dim)) if use_shift else None
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if self.training:
            frames = (x[mask] if mask is not None else x).reshape(-1, x.shape[-1]).float()
            count = frames.shape[0]
            if count == 0:
                mean, var = self.running_mean, self.running_var
            else:
                mean = frames.mean(dim=0)
                var = frames.var(dim=0, unbiased=False)
                with torch.no_grad():
                    unbiased = var * (count / max(count - 1, 1))
                    self.running_mean.lerp_(mean.detach(), self.momentum)
                    self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean.to(x.dtype)) * torch.rsqrt(var.to(x.dtype) + self.epsilon)
        if self.weight is not None:
            y = y * self.weight
        return y + self.bias if self.bias is not None else y


class BatchNormLayer(Layer):
    layer_class = "batch_norm"

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        momentum: float = 0.1,
        epsilon: float = 1e-5,
        use_shift: bool = True,
        use_std: bool = True,
    ) -> None:
        super().__init__(sources)
        if sources[0].sparse:
            raise ConfigError("batch_norm: needs dense input")
        self.norm = MaskedBatchNorm(
            sources[0].dim, momentum=momentum, epsilon=epsilon, use_shift=use_shift, use_std=use_std
        )

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        return x.replace(self.norm(x.tensor, x.mask() if x.lengths is not None else None))


class LayerNormLayer(Layer):
    """Normalizes each frame over its last feature axis."""

    layer_class = "layer_norm"
    is_norm = True

    def __init__(self, sources: list[SeqInfo], *, epsilon: float = 1e-6) -> None:
        super().__init__(sources)
        if sources[0].sparse:
            raise ConfigError("layer_norm: needs dense input")
        self.epsilon = epsilon
        self.weight = nn.Parameter(torch.ones(sources[0].dim))
        self.bias = nn.Parameter(torch.zeros(sources[0].dim))

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        return x.replace(F.layer_norm(x.tensor, (x.tensor.shape[-1],), self.weight, self.bias, self.epsilon))


class NormLayer(Layer):
    """RETURNN's `norm`: normalize to zero mean and unit variance over `axes` "T" (per sequence over its valid
    frames, i.e. utterance-level mean/variance normalization) or "F" (per frame); then learned scale and bias."""

    layer_class = "norm"
    is_norm = True

    def __init__(
        self, sources: list[SeqInfo], *, axes: str = "T", epsilon: float = 1e-6, scale: bool = True, bias: bool = True
    ) -> None:
        super().__init__(sources)
        if axes not in ("T", "F"):
            raise ConfigError(f"norm: axes must be 'T' or 'F', got {axes!r}")
        if sources[0].sparse:
            raise ConfigError("norm: needs dense input")
        self.axes = axes
        self.epsilon = epsilon
        self.weight = nn.Parameter(torch.ones(sources[0].dim)) if scale else None
        self.bias = nn.Parameter(torch.zeros(sources[0].dim)) if bias else None

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        values = x.tensor.float()
        if self.axes == "F":
            y = F.layer_norm(values, (values.shape[-1],), eps=self.epsilon)
        else:
            mask = x.frame_mask().to(values.dtype)
            count = mask.sum(dim=1, keepdim=True).clamp(min=1.0)
            mean = (values * mask).sum(dim=1, keepdim=True) / count
            var = ((values - mean) * mask).pow(2).sum(dim=1, keepdim=True) / count
            y = (values - mean) * torch.rsqrt(var + self.epsilon)
        y = y.to(x.tensor.dtype)
        if self.weight is not None:
            y = y * self.weight
        return x.replace(y + self.bias if self.bias is not None else y)


LAYERS: list[type[Layer]] = [BatchNormLayer, LayerNormLayer, NormLayer]
