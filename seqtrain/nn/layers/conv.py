"""Convolutions over time (conv1d) and over time x feature (conv2d), with time subsampling by strides.

Padded frames are zeroed before convolving, so they never leak into valid frames, and output lengths
follow each sequence's own length: "same" padding gives ceil(len / stride) frames, "valid" gives
floor((len - effective_kernel) / stride) + 1. "same" pads (k-1)//2 frames in front, always, so a
sequence's output does not depend on what else is in its batch.

conv1d: [B, T, D] -> [B, T', n_out]; parameters `weight` [n_out, D / groups, k], `bias` [n_out].
conv2d: [B, T, F] (one input channel) or [B, T, F, C] -> [B, T', F', n_out] channels last;
`weight` [n_out, C / groups, k_time, k_freq]. Follow it by {"class": "merge_dims"} to get [B, T', F' * n_out].
Defaults: forward_weights_init glorot_uniform (fans include the kernel), bias_init 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer, activation_fn, require_dense_1d
from seqtrain.nn.seq import Seq, SeqInfo


def _pair(value: int | tuple[int, ...] | list[int], n: int, name: str) -> tuple[int, ...]:
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if len(values) != n or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ConfigError(f"conv: {name} must be {n} positive int(s), got {value!r}")
    return values


def out_size(size: int | torch.Tensor, kernel: int, stride: int, dilation: int, padding: str) -> Any:
    """Output length for an input of `size` frames (int or tensor of lengths)."""
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return (size + stride - 1) // stride
    if isinstance(size, torch.Tensor):
        return ((size - effective) // stride + 1).clamp(min=0)
    return max(0, (size - effective) // stride + 1)


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """(front, back) zero padding for "same" with a fixed front of (effective kernel - 1) // 2."""
    effective = (kernel - 1) * dilation + 1
    front = (effective - 1) // 2
    needed = (out_size(size, kernel, stride, dilation, "same") - 1) * stride + effective
    return front, max(0, needed - size - front)


class _Conv(Layer):
    ndim = 1

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        n_out: int,
        filter_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        dilation_rate: int | tuple[int, ...] = 1,
        padding: str = "same",
        groups: int = 1,
        activation: str | None = None,
        with_bias: bool = True,
    ) -> None:
        super().__init__(sources)
        if padding not in ("same", "valid"):
            raise ConfigError(f"{self.layer_class}: padding must be 'same' or 'valid', got {padding!r}")
        self.kernel = _pair(filter_size, self.ndim, "filter_size")
        self.strides = _pair(strides, self.ndim, "strides")
        self.dilation = _pair(dilation_rate, self.ndim, "dilation_rate")
        self.padding = padding
        self.groups = groups
        self._activation = activation_fn(activation, self.layer_class)
        in_channels = self._in_channels(sources[0])
        if in_channels % groups or n_out % groups:
            raise ConfigError(
                f"{self.layer_class}: groups={groups} must divide input ({in_channels}) and n_out ({n_out})"
            )
        self.weight = nn.Parameter(torch.empty(n_out, in_channels // groups, *self.kernel))
        self.bias = nn.Parameter(torch.zeros(n_out)) if with_bias else None
        self.out_info = self._out_info(sources[0], n_out)

    def _in_channels(self, info: SeqInfo) -> int:
        raise NotImplementedError

    def _out_info(self, info: SeqInfo, n_out: int) -> SeqInfo:
        raise NotImplementedError

    def out_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return out_size(lengths.long(), self.kernel[0], self.strides[0], self.dilation[0], self.padding)

    def _time_padding(self, size: int) -> tuple[int, int]:
        if self.padding == "valid":
            return 0, 0
        return same_padding(size, self.kernel[0], self.strides[0], self.dilation[0])


class Conv1dLayer(_Conv):
    layer_class = "conv1d"

    def _out_info(self, info: SeqInfo, n_out: int) -> SeqInfo:
        return SeqInfo.dense(n_out)

    def _in_channels(self, info: SeqInfo) -> int:
        return require_dense_1d(info, self.layer_class)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0].zero_padding()
        assert x.lengths is not None
        inp = F.pad(x.tensor.transpose(1, 2), self._time_padding(x.max_len))  # [B, D, T]
        y = F.conv1d(inp, self.weight, self.bias, stride=self.strides, dilation=self.dilation, groups=self.groups)
        return Seq(self._activation(y.transpose(1, 2)), self.out_lengths(x.lengths))


class Conv2dLayer(_Conv):
    layer_class = "conv2d"
    ndim = 2

    def _out_info(self, info: SeqInfo, n_out: int) -> SeqInfo:
        freq = out_size(info.feature_shape[0], self.kernel[1], self.strides[1], self.dilation[1], self.padding)
        if freq < 1:
            raise ConfigError(f"{self.layer_class}: {info.feature_shape[0]} features are too few for this kernel")
        return SeqInfo.dense(freq, n_out)

    def _in_channels(self, info: SeqInfo) -> int:
        if info.sparse or len(info.feature_shape) not in (1, 2):
            raise ConfigError(f"conv2d: needs [B, T, F] or [B, T, F, C] input, got {info.describe()}")
        return info.feature_shape[1] if len(info.feature_shape) == 2 else 1

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0].zero_padding()
        assert x.lengths is not None
        inp = x.tensor[:, None] if x.tensor.dim() == 3 else x.tensor.permute(0, 3, 1, 2)  # [B, C, T, F]
        freq_pad = (0, 0)
        if self.padding == "same":
            freq_pad = same_padding(inp.shape[-1], self.kernel[1], self.strides[1], self.dilation[1])
        inp = F.pad(inp, (*freq_pad, *self._time_padding(x.max_len)))
        y = F.conv2d(inp, self.weight, self.bias, stride=self.strides, dilation=self.dilation, groups=self.groups)
        return Seq(self._activation(y.permute(0, 2, 3, 1)), self.out_lengths(x.lengths))


LAYERS: list[type[Layer]] = [Conv1dLayer, Conv2dLayer]
