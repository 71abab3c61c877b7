"""Embedding: class indices [B, T] -> vectors [B, T, n_out].

Parameter `weight` [num_classes, n_out], as in `torch.nn.Embedding`. Default init: glorot_uniform.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer
from seqtrain.nn.seq import Seq, SeqInfo


class EmbeddingLayer(Layer):
    """`scale_by_sqrt_dim`: multiply by sqrt(n_out), as Transformers do before adding positional encodings."""

    layer_class = "embedding"
    allow_sparse_sources = True

    def __init__(self, sources: list[SeqInfo], *, n_out: int, scale_by_sqrt_dim: bool = False) -> None:
        super().__init__(sources)
        info = sources[0]
        if not info.sparse:
            raise ConfigError(f"embedding: needs sparse input (class indices), got {info.describe()}")
        self.weight = nn.Parameter(torch.empty(info.dim, n_out))
        self.scale = math.sqrt(n_out) if scale_by_sqrt_dim else 1.0
        self.out_info = SeqInfo.dense(n_out, time_axis=info.time_axis)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        y = F.embedding(x.tensor.long(), self.weight)
        return x.replace(y * self.scale if self.scale != 1.0 else y)


LAYERS: list[type[Layer]] = [EmbeddingLayer]
