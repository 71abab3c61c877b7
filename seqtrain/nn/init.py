"""Parameter initialization from RETURNN-style strings: `forward_weights_init`, `recurrent_weights_init`, `bias_init`.

Accepted: a number (constant), or a name with optional keyword arguments, e.g. "glorot_uniform",
"variance_scaling_initializer(scale=0.78, mode='fan_in', distribution='uniform')",
"random_normal(stddev=0.01)", "orthogonal(gain=1.0)". Names follow TensorFlow/RETURNN (with or without
the `_initializer` suffix) and mean what they mean there, with fans computed the TF way (a torch weight
[out, in, *kernel] has fan_in = in * kernel, fan_out = out * kernel), so RETURNN configs keep their
initialization. The string is parsed, never evaluated. Random draws use torch's default generator, which
the engine seeds from (random_seed, "init", epoch) before building the model.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from seqtrain.errors import ConfigError

Initializer = Callable[[torch.Tensor], None]

# TF's truncated normal (cut at 2 stddev) has this stddev relative to the untruncated one.
_TRUNCATED_STDDEV_FACTOR = 0.87962566103423978


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a torch-layout parameter: [out, in, *kernel]; a vector counts its size for both."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _truncated_normal(t: torch.Tensor, mean: float, stddev: float) -> None:
    nn.init.trunc_normal_(t, mean=mean, std=stddev, a=mean - 2 * stddev, b=mean + 2 * stddev)


def variance_scaling(
    scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal", seed: int | None = None
) -> Initializer:
    """TF's VarianceScaling: variance = scale / fan, as uniform, truncated normal or plain normal."""
    del seed  # TF's per-op seed; our draws come from the engine-seeded generator
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ConfigError(f"variance_scaling: mode must be fan_in, fan_out or fan_avg, got {mode!r}")
    if distribution == "normal":  # TF1 meaning of "normal": truncated
        distribution = "truncated_normal"
    if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
        raise ConfigError(
            "variance_scaling: distribution must be uniform, truncated_normal or untruncated_normal, "
            f"got {distribution!r}"
        )

    def init(t: torch.Tensor) -> None:
        fan_in, fan_out = fans(tuple(t.shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        variance = scale / max(1.0, fan)
        with torch.no_grad():
            if distribution == "uniform":
                limit = math.sqrt(3.0 * variance)
                t.uniform_(-limit, limit)
            elif distribution == "truncated_normal":
                _truncated_normal(t, 0.0, math.sqrt(variance) / _TRUNCATED_STDDEV_FACTOR)
            else:
                t.normal_(0.0, math.sqrt(variance))

    return init


def random_normal(mean: float = 0.0, stddev: float = 1.0, seed: int | None = None) -> Initializer:
    return lambda t: torch.nn.init.normal_(t, mean, stddev)


def truncated_normal(mean: float = 0.0, stddev: float = 1.0, seed: int | None = None) -> Initializer:
    return lambda t: _truncated_normal(t, mean, stddev)


def random_uniform(minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> Initializer:
    return lambda t: torch.nn.init.uniform_(t, minval, maxval)


def orthogonal(gain: float = 1.0, seed: int | None = None) -> Initializer:
    def init(t: torch.Tensor) -> None:
        if t.dim() < 2:
            raise ConfigError(f"orthogonal init needs a matrix, got a parameter of shape {tuple(t.shape)}")
        torch.nn.init.orthogonal_(t, gain=gain)

    return init


def constant(value: float = 0.0) -> Initializer:
    return lambda t: torch.nn.init.constant_(t, value)


def _named(scale: float, mode: str, distribution: str) -> Callable[..., Initializer]:
    return lambda seed=None: variance_scaling(scale, mode, distribution)


INITIALIZERS: dict[str, Callable[..., Initializer]] = {
    "variance_scaling": variance_scaling,
    "glorot_uniform": _named(1.0, "fan_avg", "uniform"),
    "glorot_normal": _named(1.0, "fan_avg", "truncated_normal"),
    "xavier_uniform": _named(1.0, "fan_avg", "uniform"),
    "xavier_normal": _named(1.0, "fan_avg", "truncated_normal"),
    "he_uniform": _named(2.0, "fan_in", "uniform"),
    "he_normal": _named(2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": _named(1.0, "fan_in", "uniform"),
    "lecun_normal": _named(1.0, "fan_in", "truncated_normal"),
    "random_normal": random_normal,
    "truncated_normal": truncated_normal,
    "random_uniform": random_uniform,
    "orthogonal": orthogonal,
    "constant": constant,
    "zeros": lambda: constant(0.0),
    "ones": lambda: constant(1.0),
}


def _literal(node: ast.expr, text: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ConfigError(f"initializer {text!r}: arguments must be literals (numbers, strings)") from None


def parse_initializer(spec: str | float | Initializer, *, where: str = "init") -> Initializer:
    """A number, an initializer string, or a function `f(tensor)` that fills the tensor in place."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return constant(float(spec))
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"{where}: expected a number, a string like 'glorot_uniform' or a function, got {spec!r}")
    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigError(f"{where}: cannot parse initializer {spec!r}") from None
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if isinstance(node, ast.Call):
        args = [_literal(a, spec) for a in node.args]
        kwargs = {k.arg: _literal(k.value, spec) for k in node.keywords if k.arg is not None}
        node = node.func
    if isinstance(node, ast.Attribute):  # "tf.glorot_uniform_initializer" and the like
        node = ast.Name(id=node.attr)
    if not isinstance(node, ast.Name):
        raise ConfigError(f"{where}: cannot parse initializer {spec!r}")
    name = node.id.removesuffix("_initializer")
    if name not in INITIALIZERS:
        raise ConfigError(f"{where}: unknown initializer {node.id!r}; known: {sorted(INITIALIZERS)}")
    try:
        return INITIALIZERS[name](*args, **kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: initializer {spec!r}: {e}") from None


def param_role(name: str, owner: nn.Module) -> str:
    """Which init option applies: "bias", "recurrent" (hidden-to-hidden), "forward", or "keep" (norm scales etc.)."""
    leaf = name.rsplit(".", 1)[-1]
    if isinstance(owner, (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)) or getattr(
        owner, "is_norm", False
    ):
        return "keep"
    if leaf.startswith("bias"):
        return "bias"
    if leaf.startswith("weight_hh"):
        return "recurrent"
    if leaf.startswith("weight"):
        return "forward"
    return "keep"


def initialize(
    module: nn.Module,
    *,
    forward: Initializer,
    recurrent: Initializer,
    bias: Initializer,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """Initializes every parameter of `module` by its role, in registration order; returns name -> role."""
    by_role = {"forward": forward, "recurrent": recurrent, "bias": bias}
    roles = {}
    owners = {name: sub for name, sub in module.named_modules()}
    for name, param in module.named_parameters():
        owner = owners[name.rsplit(".", 1)[0]] if "." in name else module
        role = (overrides or {}).get(name) or param_role(name, owner)
        roles[name] = role
        if role != "keep":
            by_role[role](param.data)
    return roles
