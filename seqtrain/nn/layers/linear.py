"""Feed-forward layers: linear (with activation), softmax output, activation only, copy.

`linear` on a sparse input (class indices) is a lookup of the weight's columns (an embedding), as in
RETURNN. Parameter names: `weight` [n_out, in] and `bias` [n_out], as in `torch.nn.Linear`, so plain
PyTorch weights load directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import KEEP_PRE_ACTIVATION, Layer, activation_fn, require_dense_1d
from seqtrain.nn.regularization import filter_grad
from seqtrain.nn.seq import Seq, SeqInfo


class LinearLayer(Layer):
    """y = activation(x W^T + b). Defaults: forward_weights_init glorot_uniform, bias_init 0.

    `grad_filter` (RETURNN's): in backward, the gradient at x W^T + b of a sequence whose largest squared entry
    reaches this threshold is dropped (regularization.filter_grad).
    """

    layer_class = "linear"
    allow_sparse_sources = True

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        n_out: int,
        activation: str | None = None,
        with_bias: bool = True,
        grad_filter: float | None = None,
    ) -> None:
        super().__init__(sources)
        info = sources[0]
        self.sparse_input = info.sparse
        in_dim = info.dim if info.sparse else require_dense_1d(info, self.layer_class)
        self.weight = nn.Parameter(torch.empty(n_out, in_dim))
        self.bias = nn.Parameter(torch.zeros(n_out)) if with_bias else None
        self.activation = activation
        self._activation = activation_fn(activation, self.layer_class)
        if grad_filter is not None and (not isinstance(grad_filter, (int, float)) or grad_filter <= 0):
            raise ConfigError(f"{self.layer_class}: grad_filter must be a number > 0, got {grad_filter!r}")
        self.grad_filter = grad_filter
        self.out_info = SeqInfo.dense(n_out, time_axis=info.time_axis)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        if self.sparse_input:
            y = self.weight.t()[x.long()]
            return y + self.bias if self.bias is not None else y
        return F.linear(x, self.weight, self.bias)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        pre = self.project(x.tensor)
        if self.grad_filter:
            pre = filter_grad(pre, self.grad_filter)
        out = x.replace(self._activation(pre))
        if options.get(KEEP_PRE_ACTIVATION):
            out.pre_activation = pre
        return out


class SoftmaxLayer(LinearLayer):
    """Output layer: linear + log-softmax. Outputs log-probabilities (what ce/ctc losses and recog use)."""

    layer_class = "softmax"

    def __init__(
        self, sources: list[SeqInfo], *, n_out: int, with_bias: bool = True, grad_filter: float | None = None
    ) -> None:
        super().__init__(sources, n_out=n_out, activation="log_softmax", with_bias=with_bias, grad_filter=grad_filter)


class ActivationLayer(Layer):
    """Only an activation function ("relu", "tanh", "swish", ...); no parameters."""

    layer_class = "activation"

    def __init__(self, sources: list[SeqInfo], *, activation: str) -> None:
        super().__init__(sources)
        self.activation = activation
        self._activation = activation_fn(activation, self.layer_class)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        return sources[0].replace(self._activation(sources[0].tensor))


class CopyLayer(Layer):
    """Identity; with several sources their concatenation on the feature axis (RETURNN's copy)."""

    layer_class = "copy"
    allow_sparse_sources = True

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        return sources[0]


LAYERS: list[type[Layer]] = [LinearLayer, SoftmaxLayer, ActivationLayer, CopyLayer]
