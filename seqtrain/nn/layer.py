"""The base class of net-dict layers (built-in and user-defined) and the activation functions they share.

A layer is an `nn.Module` built from its input descriptions (`SeqInfo`) and its class-specific options,
so all parameters exist right after construction (no lazy shapes: checkpoints, preloading and
initialization see the full model). What every layer supports (`from`, `dropout`, losses, `L2`,
`param_variational_noise`, init options, `trainable`) is done by the network around the layer, so a
layer only implements its own computation.

A user layer:

    class Scale(seqtrain.nn.layer.Layer):
        layer_class = "scale"
        schedulable = {"factor": 1.0}            # may be scheduled per epoch/step in the net dict

        def __init__(self, sources, *, bias: bool = False):
            super().__init__(sources)
            self.out_info = sources[0]

        def forward(self, sources, options):
            x = sources[0]
            return x.replace(x.tensor * options["factor"])

    network_layer_classes = {"scale": Scale}     # config key; or {"class": Scale, ...} in the net dict
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.errors import ConfigError
from seqtrain.nn.eval_expr import compile_expression
from seqtrain.nn.seq import Seq, SeqInfo

KEEP_PRE_ACTIVATION = "#keep_pre_activation"
"""Set (True) in a layer's `options` when the network needs its output before the activation (RETURNN's `darc1`);
a layer with an activation then also returns those values as `Seq.pre_activation`."""


class Layer(nn.Module):
    """One layer of a net dict: `forward(sources, options) -> Seq`.

    `concat_sources`: several `from` layers are concatenated on the feature axis (RETURNN's default) and
    the layer gets one source; layers that combine sources themselves (combine, residual) set it False.
    `schedulable`: options (with their defaults) that may change during training without changing the
    parameters; they are resolved for every step and passed in `options`, never to the constructor.
    `same_length_sources`: several sources must have equal sequence lengths (False for layers that read
    sequences of different lengths, e.g. a transducer reading frames and labels).
    """

    layer_class: ClassVar[str] = ""
    concat_sources: ClassVar[bool] = True
    allow_sparse_sources: ClassVar[bool] = False
    schedulable: ClassVar[Mapping[str, Any]] = {}
    same_length_sources: ClassVar[bool] = True

    def __init__(self, sources: list[SeqInfo]) -> None:
        super().__init__()
        self.out_info: SeqInfo = sources[0] if sources else SeqInfo.dense(1)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def param_roles(self) -> dict[str, str]:
        """Overrides of `seqtrain.nn.init.param_role` for this layer's parameters ("forward", "recurrent",
        "bias", "keep"), e.g. for a custom layer with unusual parameter names."""
        return {}


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
    "swish": F.silu,
    "silu": F.silu,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),  # TensorFlow's (RETURNN's) slope; torch's default is 0.01
    "relu6": F.relu6,
    "log_sigmoid": F.logsigmoid,
    "softsign": F.softsign,
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "safe_log": lambda x: torch.log(x.clamp(min=1e-20)),
    "sqrt": torch.sqrt,
    "square": torch.square,
    "sin": torch.sin,
    "cos": torch.cos,
    "negative": torch.neg,
    "neg": torch.neg,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    "identity": lambda x: x,
    "linear": lambda x: x,
    "none": lambda x: x,  # RETURNN's name for no activation
}
"""Activation names, as RETURNN takes them from tf.nn / tf.math (same functions, same constants)."""


def activation_fn(name: str | None, where: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation named in a layer dict; None means identity.

    Besides a name, RETURNN's two expression forms work: names combined with numbers ("2 * sigmoid",
    "3 + 2 * sigmoid": each name applied to the input) and an expression in `x` ("tf.nn.relu(x) * 2"); both are
    interpreted by nn/eval_expr.py, never exec'd."""
    if name is None:
        return ACTIVATIONS["identity"]
    if isinstance(name, str) and name in ACTIVATIONS:
        return ACTIVATIONS[name]
    if isinstance(name, str) and any(c in name for c in "+-*/("):
        names = {"x": lambda inputs: inputs[0]} | {a: _applied(f) for a, f in ACTIVATIONS.items()}
        compiled = compile_expression(name, names=names, functions=ACTIVATIONS, what=f"{where}: activation")
        return lambda x: compiled(x)
    raise ConfigError(f"{where}: unknown activation {name!r}; known: {sorted(ACTIVATIONS)} or an expression of them")


def _applied(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[tuple[torch.Tensor, ...]], torch.Tensor]:
    return lambda inputs: fn(inputs[0])


def require_dense_1d(info: SeqInfo, where: str) -> int:
    """The feature dim of a [B, T, D] input; a clear error for sparse or multi-axis features."""
    if info.sparse:
        raise ConfigError(f"{where}: needs dense input, got {info.describe()} (use an 'embedding' or 'linear' first)")
    if len(info.feature_shape) != 1:
        raise ConfigError(
            f"{where}: needs [B, T, D] input, got {info.describe()}; flatten it with {{'class': 'merge_dims'}}"
        )
    return info.dim
