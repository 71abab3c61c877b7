"""Pooling over time ([B, T, D]) or over time x feature ([B, T, F, C]), with time subsampling.

Max pooling ignores padded frames (they count as -inf); average pooling divides by the number of valid
frames in each window, so neither sees padding. Output lengths as for convolutions: "same" gives
ceil(len / stride), "valid" floor((len - pool_size) / stride) + 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer
from seqtrain.nn.layers.conv import out_size, same_padding
from seqtrain.nn.seq import Seq, SeqInfo


class PoolLayer(Layer):
    """`{"class": "pool", "mode": "max", "pool_size": (2,)}` over time, or `(2, 2)` over time and features.

    `strides` defaults to `pool_size`.
    """

    layer_class = "pool"

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        mode: str = "max",
        pool_size: int | tuple[int, ...] = 2,
        strides: int | tuple[int, ...] | None = None,
        padding: str = "same",
    ) -> None:
        super().__init__(sources)
        info = sources[0]
        if mode not in ("max", "avg"):
            raise ConfigError(f"pool: mode must be 'max' or 'avg', got {mode!r}")
        if padding not in ("same", "valid"):
            raise ConfigError(f"pool: padding must be 'same' or 'valid', got {padding!r}")
        self.size = (pool_size,) if isinstance(pool_size, int) else tuple(pool_size)
        self.strides = self.size if strides is None else ((strides,) if isinstance(strides, int) else tuple(strides))
        if len(self.size) not in (1, 2) or len(self.strides) != len(self.size):
            raise ConfigError(f"pool: pool_size/strides need 1 (time) or 2 (time, feature) entries, got {pool_size!r}")
        if info.sparse or (len(self.size) == 2 and len(info.feature_shape) not in (1, 2)):
            raise ConfigError(f"pool: cannot pool {info.describe()} with pool_size {self.size}")
        self.mode = mode
        self.padding = padding
        if len(self.size) == 2:
            freq = out_size(info.feature_shape[0], self.size[1], self.strides[1], 1, padding)
            self.out_info = SeqInfo.dense(freq, *info.feature_shape[1:])
        else:
            self.out_info = info

    def _pad(self, size: int, axis: int) -> tuple[int, int]:
        if self.padding == "valid":
            return 0, 0
        return same_padding(size, self.size[axis], self.strides[axis], 1)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        assert x.lengths is not None
        mask = x.mask()
        two_d = len(self.size) == 2
        if two_d:  # [B, T, F] or [B, T, F, C] -> [B, C, T, F]
            values = x.tensor[:, None] if x.tensor.dim() == 3 else x.tensor.permute(0, 3, 1, 2)
            weights = mask[:, None, :, None].to(values.dtype)  # [B, 1, T, 1]
            pad = (*self._pad(values.shape[-1], 1), *self._pad(x.max_len, 0))
        else:  # [B, T, D] -> [B, D, T]
            values = x.tensor.transpose(1, 2)
            weights = mask[:, None, :].to(values.dtype)  # [B, 1, T]
            pad = self._pad(x.max_len, 0)
        if self.mode == "max":
            fill = torch.finfo(values.dtype).min
            values = F.pad(values.masked_fill(weights == 0, fill), pad, value=fill)
            pool = F.max_pool2d if two_d else F.max_pool1d
            y = pool(values, self.size, self.strides)
        else:
            pool = F.avg_pool2d if two_d else F.avg_pool1d
            summed = pool(F.pad(values * weights, pad), self.size, self.strides)
            counts = pool(F.pad(weights.expand_as(values), pad), self.size, self.strides)
            y = summed / counts.clamp(min=1e-6)
        if two_d:
            y = y.permute(0, 2, 3, 1)
            y = y[..., 0] if x.tensor.dim() == 3 else y
        else:
            y = y.transpose(1, 2)
        lengths = out_size(x.lengths.long(), self.size[0], self.strides[0], 1, self.padding)
        return Seq(y, lengths)


LAYERS: list[type[Layer]] = [PoolLayer]
