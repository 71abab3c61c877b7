"""Combining several layers: combine (add, mul, ...), residual (with stochastic depth), concat, eval.

Sources must have the same sequence lengths (checked every step; a mismatch names the layers) and the
same feature shape (checked when the network is built).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from seqtrain.errors import ConfigError
from seqtrain.nn.eval_expr import compile_expression
from seqtrain.nn.layer import Layer, activation_fn
from seqtrain.nn.regularization import stochastic_depth
from seqtrain.nn.seq import Seq, SeqInfo

_KINDS: dict[str, Callable[[list[torch.Tensor]], torch.Tensor]] = {
    "add": lambda xs: torch.stack(xs).sum(0) if len(xs) > 2 else xs[0] + xs[1] if len(xs) == 2 else xs[0],
    "sub": lambda xs: xs[0] - xs[1],
    "mul": lambda xs: torch.stack(xs).prod(0) if len(xs) > 2 else xs[0] * xs[1] if len(xs) == 2 else xs[0],
    "truediv": lambda xs: xs[0] / xs[1],
    "average": lambda xs: torch.stack(xs).mean(0),
    "maximum": lambda xs: torch.stack(xs).amax(0),
    "minimum": lambda xs: torch.stack(xs).amin(0),
    "squared_difference": lambda xs: (xs[0] - xs[1]).square(),
    "logaddexp": lambda xs: torch.stack(xs).logsumexp(0),
    "pow": lambda xs: xs[0] ** xs[1],
}
_TWO_SOURCES = ("sub", "truediv", "squared_difference", "pow")


def _same_features(sources: list[SeqInfo], where: str) -> SeqInfo:
    first = sources[0]
    for other in sources[1:]:
        if other.feature_shape != first.feature_shape or other.sparse != first.sparse:
            raise ConfigError(f"{where}: sources differ: {first.describe()} vs {other.describe()}")
    return first


class CombineLayer(Layer):
    """RETURNN's combine: `kind` (add, sub, mul, truediv, average, maximum, minimum, squared_difference, logaddexp,
    pow) of all sources, then RETURNN's optional bias (`with_bias`, a parameter `bias`, init 0) and `activation`."""

    layer_class = "combine"
    concat_sources = False

    def __init__(
        self, sources: list[SeqInfo], *, kind: str, activation: str | None = None, with_bias: bool = False
    ) -> None:
        super().__init__(sources)
        if kind not in _KINDS:
            raise ConfigError(f"combine: unknown kind {kind!r}; known: {sorted(_KINDS)}")
        if kind in _TWO_SOURCES and len(sources) != 2:
            raise ConfigError(f"combine: kind {kind!r} needs exactly 2 sources, got {len(sources)}")
        self.kind = kind
        self.out_info = _same_features(sources, "combine")
        if with_bias and self.out_info.sparse:
            raise ConfigError("combine: with_bias needs dense sources")
        self.bias = nn.Parameter(torch.zeros(self.out_info.dim)) if with_bias else None
        self.activation = activation
        self._activation = activation_fn(activation, self.layer_class)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = _KINDS[self.kind]([s.tensor for s in sources])
        if self.bias is not None:
            x = x + self.bias
        return sources[0].replace(self._activation(x) if self.activation is not None else x)


class ResidualLayer(Layer):
    """`from: [skip, branch]` -> skip + branch_scale * branch, the branch dropped by stochastic depth.

    `survival_prob` (schedulable, default 1 = off): in training each sequence keeps the branch with this
    probability, rescaled by 1 / survival_prob, so the expectation is the full-depth output used in
    evaluation. See `seqtrain.nn.regularization.linear_decay_survival` for the usual per-depth values.
    """

    layer_class = "residual"
    concat_sources = False
    schedulable: ClassVar[Mapping[str, Any]] = {"survival_prob": 1.0}

    def __init__(self, sources: list[SeqInfo], *, branch_scale: float = 1.0) -> None:
        super().__init__(sources)
        if len(sources) != 2:
            raise ConfigError(f"residual: 'from' must be [skip, branch], got {len(sources)} sources")
        self.branch_scale = branch_scale
        self.out_info = _same_features(sources, "residual")

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        skip, branch = sources
        dropped = stochastic_depth(branch.tensor, float(options["survival_prob"]), training=self.training)
        return skip.replace(skip.tensor + self.branch_scale * dropped)


class ConcatLayer(Layer):
    """Concatenation of all sources on the feature axis (the same as copy with several sources)."""

    layer_class = "concat"

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        return sources[0]


class EvalLayer(Layer):
    """`{"class": "eval", "from": [...], "eval": fn}`: fn(*source_tensors) -> tensor [B, T, n_out].

    `eval` may also be RETURNN's string form, "source(0) * source(1)" (nn/eval_expr.py: parsed, not exec'd).
    Lengths are those of the first source; `n_out` defaults to its feature dim.
    """

    layer_class = "eval"
    concat_sources = False
    allow_sparse_sources = True

    def __init__(
        self, sources: list[SeqInfo], *, eval: Callable[..., torch.Tensor] | str, n_out: int | None = None
    ) -> None:
        super().__init__(sources)
        if isinstance(eval, str):
            eval = compile_expression(eval)
        if not callable(eval):
            raise ConfigError(f"eval: 'eval' must be a function of the source tensors, got {eval!r}")
        _reject_returnn_function(eval)
        self.fn = eval
        self.out_info = SeqInfo.dense(n_out) if n_out is not None else sources[0]

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        return sources[0].replace(self.fn(*[s.tensor for s in sources]))


def _reject_returnn_function(fn: Callable[..., Any]) -> None:
    """RETURNN calls an eval function as fn(source=..., self=..., **kwargs) and it computes in TensorFlow; seqtrain
    calls fn(*source_tensors) in torch. A function written for RETURNN is an error now, not a TypeError later."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature: torch functions, called with the tensors
        return
    returnn_names = sorted({"source", "self", "network"} & set(params))
    if returnn_names:
        name = getattr(fn, "__qualname__", repr(fn))
        raise ConfigError(
            f"eval: {name} takes RETURNN's arguments {returnn_names} (a RETURNN eval function, computing in "
            "TensorFlow); seqtrain calls eval functions with the source tensors, fn(*tensors) -> tensor, in torch: "
            "rewrite it so, or use RETURNN's string form 'source(0) * source(1)'"
        )


LAYERS: list[type[Layer]] = [CombineLayer, ResidualLayer, ConcatLayer, EvalLayer]
