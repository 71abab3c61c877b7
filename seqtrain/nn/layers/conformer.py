"""The Conformer block (Gulati et al. 2020): half-step FF, self-attention, convolution module, half-step FF, LN.

Each of the four modules is a residual branch with its own dropout and stochastic depth (per sequence,
rescaled in training, full depth in evaluation). The convolution module zeroes padded frames before its
depthwise convolution and uses batch norm over valid frames only (or layer norm), so padding never
leaks. Positions: rotary by default (relative, no extra parameters). Parameter names, e.g. for layer
"enc1": enc1.ff1.norm.weight, enc1.ff1.linear1.weight, enc1.att_norm.weight, enc1.att.qkv.weight,
enc1.conv.pointwise1.weight, enc1.conv.depthwise.weight, enc1.conv.norm.running_mean, enc1.ff2.*,
enc1.final_norm.weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer, require_dense_1d
from seqtrain.nn.layers.attention import FeedForward, MultiHeadSelfAttention
from seqtrain.nn.layers.norm import MaskedBatchNorm
from seqtrain.nn.regularization import dropout, stochastic_depth
from seqtrain.nn.seq import Seq, SeqInfo


class ConvModule(nn.Module):
    """LN -> pointwise (2d) -> GLU -> depthwise conv (masked input) -> BN/LN -> swish -> pointwise."""

    def __init__(self, dim: int, kernel_size: int, norm: str) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ConfigError(f"conformer_block: conv_kernel_size must be odd, got {kernel_size}")
        if norm not in ("batch_norm", "layer_norm"):
            raise ConfigError(f"conformer_block: conv_norm must be 'batch_norm' or 'layer_norm', got {norm!r}")
        self.layer_norm = nn.LayerNorm(dim)
        self.pointwise1 = nn.Linear(dim, 2 * dim)
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm: nn.Module = MaskedBatchNorm(dim) if norm == "batch_norm" else nn.LayerNorm(dim)
        self.pointwise2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = F.glu(self.pointwise1(self.layer_norm(x)), dim=-1)
        h = h * mask[..., None].to(h.dtype)
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)
        h = self.norm(h, mask) if isinstance(self.norm, MaskedBatchNorm) else self.norm(h)
        return self.pointwise2(F.silu(h))


class ConformerBlockLayer(Layer):
    """`{"class": "conformer_block", "num_heads": 4}`; dims follow the input; `ff_dim` defaults to 4 * dim."""

    layer_class = "conformer_block"
    schedulable: ClassVar[Mapping[str, Any]] = {"residual_dropout": 0.1, "attention_dropout": 0.1, "survival_prob": 1.0}

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        num_heads: int,
        ff_dim: int | None = None,
        conv_kernel_size: int = 31,
        conv_norm: str = "batch_norm",
        pos_enc: str | None = "rotary",
        ff_activation: str = "swish",
    ) -> None:
        super().__init__(sources)
        dim = require_dense_1d(sources[0], self.layer_class)
        self.ff1 = FeedForward(dim, ff_dim or 4 * dim, ff_activation)
        self.att_norm = nn.LayerNorm(dim)
        self.att = MultiHeadSelfAttention(dim, num_heads=num_heads, key_dim=dim, out_dim=dim, pos_enc=pos_enc)
        self.conv = ConvModule(dim, conv_kernel_size, conv_norm)
        self.ff2 = FeedForward(dim, ff_dim or 4 * dim, ff_activation)
        self.final_norm = nn.LayerNorm(dim)
        self.out_info = SeqInfo.dense(dim)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        mask = x.mask()
        rate, keep = float(options["residual_dropout"]), float(options["survival_prob"])
        train = self.training

        def branch(value: torch.Tensor) -> torch.Tensor:
            return stochastic_depth(dropout(value, rate, training=train), keep, training=train)

        h = x.tensor
        h = h + 0.5 * branch(self.ff1(h, rate))
        h = h + branch(self.att(self.att_norm(h), mask, attention_dropout=float(options["attention_dropout"])))
        h = h + branch(self.conv(h, mask))
        h = h + 0.5 * branch(self.ff2(h, rate))
        return x.replace(self.final_norm(h))


LAYERS: list[type[Layer]] = [ConformerBlockLayer]
