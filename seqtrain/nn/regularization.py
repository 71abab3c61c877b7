"""Regularizers as plain functions, used by the net-dict layers and usable in any `get_model` model.

All of them are train-only (callers pass `training`), draw their randomness from torch's default
generator (which the engine reseeds before every step from (random_seed, epoch, step, rank)), so runs
are reproducible and resuming is bitwise exact, and do nothing at zero strength.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from seqtrain.errors import ConfigError

_AXES = ("B", "T", "F")


def broadcast_axes(noise_shape: Mapping[str, int | None] | None) -> frozenset[str]:
    """RETURNN's `dropout_noise_shape` dict -> the axes the dropout mask is shared over.

    `{"*": None}` (default) draws a mask value per element; `{"*": None, "T": 1}` shares one mask over
    time (variational dropout); `"B"`, `"T"`, `"F"` name batch, time and the feature axes, `"*"` all others.
    """
    if noise_shape is None:
        return frozenset()
    if not isinstance(noise_shape, Mapping):
        raise ConfigError(f"dropout_noise_shape must be a dict like {{'*': None, 'T': 1}}, got {noise_shape!r}")
    default = noise_shape.get("*")
    axes = set()
    for axis in _AXES:
        value = noise_shape.get(axis, default)
        if value not in (None, 1):
            raise ConfigError(f"dropout_noise_shape[{axis!r}] must be None (own mask) or 1 (broadcast), got {value!r}")
        if value == 1:
            axes.add(axis)
    unknown = set(noise_shape) - {*_AXES, "*"}
    if unknown:
        raise ConfigError(f"dropout_noise_shape: unknown axes {sorted(unknown)}; use 'B', 'T', 'F' or '*'")
    return frozenset(axes)


def dropout(
    x: torch.Tensor, rate: float, *, training: bool, broadcast: frozenset[str] = frozenset(), time_axis: bool = True
) -> torch.Tensor:
    """Inverted dropout on x [B, T, ...] (or [B, ...] without time), with the mask shared over `broadcast` axes."""
    if not training or rate <= 0.0:
        return x
    if rate >= 1.0:
        raise ConfigError(f"dropout rate must be < 1, got {rate}")
    shape = list(x.shape)
    if "B" in broadcast:
        shape[0] = 1
    if time_axis and "T" in broadcast and x.dim() >= 2:
        shape[1] = 1
    if "F" in broadcast:
        first_feature = 2 if time_axis else 1
        for i in range(first_feature, x.dim()):
            shape[i] = 1
    # rand < keep-probability is about twice as fast as bernoulli_ on CPU, with the same distribution
    keep = torch.rand(shape, device=x.device) < (1.0 - rate)
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - rate)))


def stochastic_depth(branch: torch.Tensor, survival_prob: float, *, training: bool) -> torch.Tensor:
    """Drops a residual branch per sequence with probability 1 - p in training and rescales kept ones by 1/p.

    So the expected output equals the full-depth output used in evaluation (Huang et al. 2016, with the
    rescaling moved to training as in DropPath): `x + stochastic_depth(f(x), p)`.
    """
    if not training or survival_prob >= 1.0:
        return branch
    if survival_prob <= 0.0:
        raise ConfigError(f"survival_prob must be in (0, 1], got {survival_prob}")
    shape = [branch.shape[0]] + [1] * (branch.dim() - 1)
    keep = torch.empty(shape, dtype=branch.dtype, device=branch.device).bernoulli_(survival_prob)
    return branch * keep / survival_prob


def linear_decay_survival(index: int, num_blocks: int, final_survival_prob: float) -> float:
    """Survival probability of block `index` (1-based) of `num_blocks`, falling linearly from 1 to the final value.

    Huang et al.'s "linear decay" rule: shallow blocks (generic features) are almost always kept.
    """
    if not 1 <= index <= num_blocks:
        raise ValueError(f"block index {index} outside 1..{num_blocks}")
    return 1.0 - index / num_blocks * (1.0 - final_survival_prob)


class _FilterGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, threshold: float) -> torch.Tensor:
        ctx.threshold = threshold  # type: ignore[attr-defined]
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        peak = grad.pow(2).reshape(grad.shape[0], -1).amax(dim=1)
        keep = (peak < ctx.threshold).to(grad.dtype)  # type: ignore[attr-defined]
        return grad * keep.view(-1, *([1] * (grad.dim() - 1))), None


def filter_grad(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """Identity forward; backward drops the gradient of every sequence whose largest squared entry is >= threshold.

    RETURNN's `grad_filter` option of linear/softmax layers (on the values before the activation): one
    exploding sequence does not take the batch's update with it.
    """
    return _FilterGrad.apply(x, float(threshold))  # type: ignore[no-any-return]


def l2_penalty(module: nn.Module) -> torch.Tensor:
    """Sum of squares of all trainable parameters (RETURNN's `L2` constraint: loss += L2 * this)."""
    squares = [p.pow(2).sum() for p in module.parameters() if p.requires_grad]
    if not squares:
        return torch.zeros(())
    return torch.stack(squares).sum()


@contextmanager
def noisy_parameters(module: nn.Module, std: float, *, training: bool) -> Iterator[None]:
    """Within the block, every trainable float parameter of `module` reads as `param + N(0, std²)` noise.

    Variational parameter noise (Graves 2011; RETURNN's `param_variational_noise`): fresh noise each time
    the block is entered (once per step), gradients flow to the real parameters, nothing in eval. Works
    for any module, including torch's RNN classes, because the noisy tensor is set as a plain attribute
    and the parameter put back afterwards in its original place.
    """
    if not training or std <= 0.0:
        yield
        return
    replaced: list[tuple[nn.Module, str, nn.Parameter, list[str]]] = []
    try:
        for sub in module.modules():
            order = list(sub._parameters)
            for name in order:
                param = sub._parameters[name]
                if param is None or not param.requires_grad or not param.is_floating_point():
                    continue
                noisy = param + torch.randn_like(param) * std
                del sub._parameters[name]
                setattr(sub, name, noisy)
                replaced.append((sub, name, param, order))
        yield
    finally:
        for sub, name, param, order in reversed(replaced):
            delattr(sub, name)
            setattr(sub, name, param)  # through __setattr__, so RNN modules refresh their weight lists
            sub._parameters = {n: sub._parameters[n] for n in order if n in sub._parameters} | {
                n: p for n, p in sub._parameters.items() if n not in order
            }
