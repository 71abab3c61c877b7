"""Self-attention, positional encoding and the (pre-norm) Transformer block.

Attention never looks at padded frames: keys beyond each sequence's length are masked. Positions are
either added as sinusoids (`positional_encoding` layer) or rotary (`pos_enc: "rotary"`, applied to
queries and keys, so attention depends on relative positions). Parameters: `qkv.weight`
[3 * total_key_dim, D] (queries, keys, values), `qkv.bias`, `out.weight` [n_out, total_key_dim],
`out.bias`. Defaults: glorot_uniform weights, zero biases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer, activation_fn, require_dense_1d
from seqtrain.nn.regularization import dropout, stochastic_depth
from seqtrain.nn.seq import Seq, SeqInfo


def rotary_tables(length: int, head_dim: int, device: torch.device, base: float = 10000.0) -> torch.Tensor:
    """[2, T, head_dim / 2]: cos and sin of the rotary angles (Su et al. 2021)."""
    half = head_dim // 2
    freqs = base ** (-torch.arange(half, device=device, dtype=torch.float32) / half)
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * freqs[None, :]
    return torch.stack([angles.cos(), angles.sin()])


def rotary(x: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of x [B, H, T, Dh], half-split layout; `tables` from `rotary_tables`."""
    half = x.shape[-1] // 2
    cos, sin = tables[0].to(x.dtype), tables[1].to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """[T, dim] sin/cos encodings of "Attention is all you need"."""
    positions = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freqs = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    enc = torch.zeros(length, dim, device=device)
    enc[:, 0::2] = torch.sin(positions * freqs)
    enc[:, 1::2] = torch.cos(positions * freqs[: dim // 2])
    return enc


class MultiHeadSelfAttention(nn.Module):
    def __init__(
        self,
        in_dim: int,
        *,
        num_heads: int,
        key_dim: int,
        out_dim: int,
        pos_enc: str | None = None,
        causal: bool = False,
    ) -> None:
        super().__init__()
        if key_dim % num_heads:
            raise ConfigError(f"self-attention: total_key_dim {key_dim} is not divisible by num_heads {num_heads}")
        if pos_enc not in (None, "rotary"):
            raise ConfigError(f"self-attention: pos_enc must be None or 'rotary', got {pos_enc!r}")
        if pos_enc == "rotary" and (key_dim // num_heads) % 2:
            raise ConfigError("self-attention: rotary positions need an even dimension per head")
        self.num_heads = num_heads
        self.pos_enc = pos_enc
        self.causal = causal
        self.qkv = nn.Linear(in_dim, 3 * key_dim)
        self.out = nn.Linear(key_dim, out_dim)
        self._tables: torch.Tensor | None = None  # rotary cos/sin, recomputed only for longer batches

    def _rotary_tables(self, length: int, head_dim: int, device: torch.device) -> torch.Tensor:
        if self._tables is None or self._tables.shape[1] < length or self._tables.device != device:
            self._tables = rotary_tables(length, head_dim, device)
        return self._tables[:, :length]

    def forward(self, x: torch.Tensor, mask: torch.Tensor, *, attention_dropout: float) -> torch.Tensor:
        """x [B, T, D], mask [B, T] (True = valid frame) -> [B, T, out_dim]."""
        batch, time, _ = x.shape
        q, k, v = self.qkv(x).view(batch, time, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)  # 3 x [B, H, T, Dh]
        if self.pos_enc == "rotary":
            tables = self._rotary_tables(time, q.shape[-1], x.device)
            q, k = rotary(q, tables), rotary(k, tables)
        allowed = mask[:, None, None, :].clone()
        allowed[..., 0] = True  # an empty sequence still attends somewhere (its output is padding anyway)
        if self.causal:
            allowed = allowed & torch.ones(time, time, dtype=torch.bool, device=x.device).tril()
        drop = attention_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=drop)
        return self.out(y.transpose(1, 2).reshape(batch, time, -1))


class SelfAttentionLayer(Layer):
    """Multi-head self-attention. `total_key_dim` and `n_out` default to the input dim."""

    layer_class = "self_attention"
    schedulable: ClassVar[Mapping[str, Any]] = {"attention_dropout": 0.0}

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        num_heads: int,
        total_key_dim: int | None = None,
        n_out: int | None = None,
        pos_enc: str | None = None,
        attention_left_only: bool = False,
    ) -> None:
        super().__init__(sources)
        dim = require_dense_1d(sources[0], self.layer_class)
        self.att = MultiHeadSelfAttention(
            dim,
            num_heads=num_heads,
            key_dim=total_key_dim or dim,
            out_dim=n_out or dim,
            pos_enc=pos_enc,
            causal=attention_left_only,
        )
        self.out_info = SeqInfo.dense(n_out or dim)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        return x.replace(self.att(x.tensor, x.mask(), attention_dropout=float(options["attention_dropout"])))


class PositionalEncodingLayer(Layer):
    """Adds sinusoidal position encodings (no parameters)."""

    layer_class = "positional_encoding"

    def __init__(self, sources: list[SeqInfo]) -> None:
        super().__init__(sources)
        require_dense_1d(sources[0], self.layer_class)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        enc = sinusoidal_positions(x.max_len, x.tensor.shape[-1], x.tensor.device).to(x.tensor.dtype)
        return x.replace(x.tensor + enc)


class FeedForward(nn.Module):
    """norm -> linear1 -> activation -> dropout -> linear2 (the residual dropout is applied by the caller)."""

    def __init__(self, dim: int, ff_dim: int, activation: str) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ff_dim)
        self.linear2 = nn.Linear(ff_dim, dim)
        self._activation = activation_fn(activation, "feed-forward")

    def forward(self, x: torch.Tensor, rate: float) -> torch.Tensor:
        hidden = dropout(self._activation(self.linear1(self.norm(x))), rate, training=self.training)
        return self.linear2(hidden)


class TransformerBlockLayer(Layer):
    """Pre-norm block: x + SA(LN(x)), then + FF(LN(.)); residual dropout and stochastic depth per branch."""

    layer_class = "transformer_block"
    schedulable: ClassVar[Mapping[str, Any]] = {"residual_dropout": 0.1, "attention_dropout": 0.1, "survival_prob": 1.0}

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        num_heads: int,
        ff_dim: int | None = None,
        activation: str = "relu",
        pos_enc: str | None = None,
        attention_left_only: bool = False,
    ) -> None:
        super().__init__(sources)
        dim = require_dense_1d(sources[0], self.layer_class)
        self.att_norm = nn.LayerNorm(dim)
        self.att = MultiHeadSelfAttention(
            dim, num_heads=num_heads, key_dim=dim, out_dim=dim, pos_enc=pos_enc, causal=attention_left_only
        )
        self.ff = FeedForward(dim, ff_dim or 4 * dim, activation)
        self.out_info = SeqInfo.dense(dim)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        rate, keep = float(options["residual_dropout"]), float(options["survival_prob"])
        h = x.tensor
        att = self.att(self.att_norm(h), x.mask(), attention_dropout=float(options["attention_dropout"]))
        h = h + stochastic_depth(dropout(att, rate, training=self.training), keep, training=self.training)
        ff = self.ff(h, rate)
        h = h + stochastic_depth(dropout(ff, rate, training=self.training), keep, training=self.training)
        return x.replace(h)


LAYERS: list[type[Layer]] = [SelfAttentionLayer, PositionalEncodingLayer, TransformerBlockLayer]
