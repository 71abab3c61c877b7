"""Builds the optimizer from the `optimizer` key: SGD by default, any torch.optim class, or a user class.

    optimizer = "adam" | {"class": "sgd", "momentum": 0.9, "nesterov": True}
              | {"class": "adamw", "weight_decay": 0.01, "param_groups": [...]}   (see param_groups.py)
              | {"class": "my_pkg.optim.Lion", ...} | {"class": MyOptimizer, ...} | MyOptimizer

Options are checked against the class's signature before training starts. `weight_decay` is decoupled
from the gradient (AdamW-style) wherever the class can do that: AdamW, Adafactor and Muon always are;
Adam, NAdam and RAdam get `decoupled_weight_decay=True` unless the config sets it; SGD, Adagrad,
RMSprop, ... only know L2 (the log says so). The learning rate is not an optimizer option: it is set
for every step from the learning-rate keys, times each group's `learning_rate_multiplier`.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

import torch

from seqtrain.errors import ConfigError
from seqtrain.registry import Registry
from seqtrain.train.optim.param_groups import MULTIPLIER, build_param_groups, describe_groups, pop_grouping

log = logging.getLogger("seqtrain")

_RENAMED_OPTIONS = {"epsilon": "eps"}  # RETURNN option names that differ from torch's
_ALWAYS_DECOUPLED = ("AdamW", "Adafactor", "Muon")
_NEEDS_CLOSURE = ("LBFGS",)


# Every torch.optim class by its lower-case name ("adamw"); a class elsewhere is given by its dotted path or the
# class itself, or registered here under a short name.
OPTIMIZERS: Registry[type[torch.optim.Optimizer]] = Registry(
    "optimizer class", hint="or a dotted path ('my_pkg.optim.Lion') or the class itself"
)
for _name, _cls in vars(torch.optim).items():
    if inspect.isclass(_cls) and issubclass(_cls, torch.optim.Optimizer) and _cls is not torch.optim.Optimizer:
        OPTIMIZERS.register(_name.lower(), _cls)


def _class_from_name(name: str) -> type[torch.optim.Optimizer]:
    if "." in name:  # a dotted path to any class, e.g. "torch_optimizer.Lamb"
        module_name, _, attr = name.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"optimizer: cannot import {name!r} ({type(e).__name__}: {e})") from e
        return _check_class(found)
    return _check_class(OPTIMIZERS.get(name.lower(), where="optimizer"))


def _check_class(found: Any) -> type[torch.optim.Optimizer]:
    if inspect.isclass(found) and issubclass(found, torch.optim.Optimizer):
        if found.__name__ in _NEEDS_CLOSURE:
            raise ConfigError(
                f"optimizer {found.__name__} needs a closure that re-evaluates the loss several times per update; "
                "seqtrain does one forward/backward per batch. Pick another optimizer."
            )
        return found
    raise ConfigError(
        f"optimizer: 'class' must be a name, a dotted path or a torch.optim.Optimizer subclass, got {found!r}"
    )


def resolve_optimizer_class(spec: Any) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """`None` -> SGD; "adam" / "AdamW" / "pkg.Class" / a class; or a dict with "class" and options."""
    if spec is None:
        return torch.optim.SGD, {}
    options: dict[str, Any] = {}
    cls_spec = spec
    if isinstance(spec, dict):
        options = dict(spec)
        cls_spec = options.pop("class", None)
        if cls_spec is None:
            raise ConfigError("optimizer dict needs a 'class', e.g. {'class': 'adam'}")
    cls = _class_from_name(cls_spec) if isinstance(cls_spec, str) else _check_class(cls_spec)
    return cls, {_RENAMED_OPTIONS.get(k, k): v for k, v in options.items()}


def _option_checker(cls: type[torch.optim.Optimizer]) -> Any:
    params = inspect.signature(cls.__init__).parameters
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

    def check(key: str) -> str:
        key = _RENAMED_OPTIONS.get(key, key)
        if key in ("lr", "learning_rate"):
            raise ConfigError(
                "set the learning rate with the learning_rate key (and learning_rate_multiplier in a param group), "
                "not as an optimizer option"
            )
        if key != MULTIPLIER and key not in params and not has_var_kw:
            allowed = sorted(n for n in params if n not in ("self", "params", "lr"))
            raise ConfigError(f"optimizer {cls.__name__} has no option {key!r}; allowed: {allowed}")
        return key

    return check


def _decoupling(cls: type, options: dict[str, Any], weight_decay: float) -> str:
    """Turns on decoupled weight decay where the class offers it; returns how weight decay acts, for the log."""
    if not weight_decay:
        return ""
    if cls.__name__ in _ALWAYS_DECOUPLED:
        return "decoupled"
    if "decoupled_weight_decay" in inspect.signature(cls.__init__).parameters:
        options.setdefault("decoupled_weight_decay", True)
        return "decoupled" if options["decoupled_weight_decay"] else "L2 (decoupled_weight_decay=False)"
    return f"L2 in the gradient ({cls.__name__} has no decoupled form; adamw has)"


def make_optimizer(
    spec: Any, model: torch.nn.Module, *, learning_rate: float, default_epsilon: float | None = None
) -> torch.optim.Optimizer:
    """The optimizer for the trainable parameters of `model`, with param groups by the config's rules.

    `default_epsilon` (RETURNN's `optimizer_epsilon`) is the eps of a class that has one when the spec sets none."""
    cls, options = resolve_optimizer_class(spec)
    if default_epsilon is not None and "eps" in inspect.signature(cls.__init__).parameters:
        options.setdefault("eps", default_epsilon)
    check = _option_checker(cls)
    grouping = pop_grouping(options, check)
    options = {check(k): v for k, v in options.items()}
    if MULTIPLIER in options:
        raise ConfigError(
            f"optimizer: {MULTIPLIER!r} belongs in a param_groups rule, e.g. "
            f"{{'params': 'encoder.*', {MULTIPLIER!r}: 0.1}}; the base rate is learning_rate"
        )
    weight_decay = float(options.get("weight_decay", 0.0) or 0.0)
    how = _decoupling(cls, options, weight_decay)
    groups = build_param_groups(model, grouping, weight_decay=weight_decay, optimizer_class=cls, options=options)
    if not any(g["params"] for g in groups):
        raise ConfigError("the model has no trainable parameters (requires_grad=True) for the optimizer")
    try:
        optimizer = cls([{k: v for k, v in g.items() if k != "names"} for g in groups], lr=learning_rate, **options)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"optimizer {cls.__name__}{options}: {e}") from e
    log.info(
        "optimizer %s(%s)%s",
        cls.__name__,
        ", ".join(f"{k}={v!r}" for k, v in options.items()),
        f", weight decay {how}" if how else "",
    )
    if len(groups) > 1:
        for line in describe_groups(groups, weight_decay=weight_decay):
            log.info("  %s", line)
    return optimizer


def set_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
    """Applies the LR of this step to every param group (times the group's `learning_rate_multiplier`)."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate * group.get(MULTIPLIER, 1.0)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Loads moments/step counts from a checkpoint; the group options stay as the current config sets them.

    torch would restore the saved group options too (betas, weight_decay, multipliers, ...); seqtrain's
    rule for a config that changed since the checkpoint is "the current config wins", for these as well.
    """
    configured = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, options in zip(optimizer.param_groups, configured):
        group.update(options)
