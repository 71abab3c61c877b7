"""Builds the optimizer from the `optimizer` key: SGD by default, any torch.optim class, or a user class."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable
from typing import Any

import torch

from seqtrain.errors import ConfigError

# RETURNN option names that differ from torch's.
_RENAMED_OPTIONS = {"epsilon": "eps"}


def _optimizer_classes() -> dict[str, type[torch.optim.Optimizer]]:
    return {
        name.lower(): cls
        for name, cls in vars(torch.optim).items()
        if inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer
    }


def resolve_optimizer_class(spec: Any) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """`None` -> SGD; "adam" / "AdamW" / a class; or a dict with "class" and options."""
    if spec is None:
        return torch.optim.SGD, {}
    options: dict[str, Any] = {}
    cls_spec = spec
    if isinstance(spec, dict):
        options = dict(spec)
        cls_spec = options.pop("class", None)
        if cls_spec is None:
            raise ConfigError("optimizer dict needs a 'class', e.g. {'class': 'adam'}")
    if isinstance(cls_spec, str):
        classes = _optimizer_classes()
        cls = classes.get(cls_spec.lower())
        if cls is None:
            close = difflib.get_close_matches(cls_spec.lower(), list(classes), n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else f"; known: {sorted(classes)}"
            raise ConfigError(f"optimizer: unknown class {cls_spec!r}{hint}")
    elif inspect.isclass(cls_spec) and issubclass(cls_spec, torch.optim.Optimizer):
        cls = cls_spec
    else:
        raise ConfigError(f"optimizer: 'class' must be a name or a torch.optim.Optimizer subclass, got {cls_spec!r}")
    options = {_RENAMED_OPTIONS.get(k, k): v for k, v in options.items()}
    params = inspect.signature(cls.__init__).parameters
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in options:
        if key not in params and not has_var_kw:
            allowed = sorted(n for n in params if n not in ("self", "params", "lr"))
            raise ConfigError(f"optimizer {cls.__name__} has no option {key!r}; allowed: {allowed}")
        if key == "lr":
            raise ConfigError("set the learning rate with the learning_rate key, not in optimizer options")
    return cls, options


def make_optimizer(spec: Any, params: Iterable[torch.nn.Parameter], *, learning_rate: float) -> torch.optim.Optimizer:
    cls, options = resolve_optimizer_class(spec)
    try:
        return cls(list(params), lr=learning_rate, **options)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"optimizer {cls.__name__}{options}: {e}") from e


def set_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
    """Applies the LR of this step to every param group (times the group's own multiplier, if any)."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate * group.get("lr_multiplier", 1.0)
