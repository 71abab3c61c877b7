"""Which optimizer options each parameter gets: weight decay exclusions and rules by parameter name.

Default: with `weight_decay` set, biases (any parameter with "bias" in its name), normalization layers
(torch's and any module class named ...Norm) and embeddings get none (decaying a
LayerNorm scale towards 0 or an embedding towards 0 hurts and is rarely meant; RETURNN and minGPT do the
same). Anything else is asked for explicitly in the optimizer dict:

    optimizer = {
        "class": "adamw", "weight_decay": 0.01,
        "param_groups": [                                    # first matching rule wins (fnmatch on names)
            {"params": "encoder.*", "learning_rate_multiplier": 0.1},
            {"params": ["*.bias", "out.*"], "weight_decay": 0.01},     # decay these biases after all
        ],
        "weight_decay_modules_blacklist": ["torch.nn.LayerNorm"],     # RETURNN: replaces the default list
        "weight_decay_custom_include_check": f,   # RETURNN: f(*, module, full_param_name, param) -> bool | None
        "param_groups_custom": g,                 # RETURNN: g(*, model, optimizer_class, optimizer_opts) -> groups
    }

Parameters that end up with the same options share one torch param group.
"""

from __future__ import annotations

import fnmatch
import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from seqtrain.errors import ConfigError
from seqtrain.model.builder import call_with_accepted

log = logging.getLogger("seqtrain")

MULTIPLIER = "learning_rate_multiplier"  # RETURNN's name; the group's rate is the step's rate times this
DEFAULT_NO_DECAY_MODULES: tuple[type[torch.nn.Module], ...] = (
    torch.nn.LayerNorm,
    torch.nn.GroupNorm,
    torch.nn.RMSNorm,
    torch.nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
    torch.nn.LocalResponseNorm,
    torch.nn.Embedding,
    torch.nn.EmbeddingBag,
)


@dataclass(frozen=True)
class GroupRule:
    patterns: tuple[str, ...]
    options: dict[str, Any]


@dataclass
class Grouping:
    """The grouping options of the optimizer dict (removed from it before the class sees it)."""

    rules: list[GroupRule] = field(default_factory=list)
    no_decay_modules: tuple[type, ...] = DEFAULT_NO_DECAY_MODULES
    include_check: Callable[..., Any] | None = None
    custom: Callable[..., Any] | None = None


def _module_type(spec: Any) -> type:
    if isinstance(spec, type) and issubclass(spec, torch.nn.Module):
        return spec
    if isinstance(spec, str) and "." in spec:
        module_name, _, name = spec.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            found = None
        if isinstance(found, type) and issubclass(found, torch.nn.Module):
            return found
    raise ConfigError(f"optimizer weight_decay_modules_blacklist: {spec!r} is not a torch.nn.Module class or path")


def pop_grouping(options: dict[str, Any], check_option: Callable[[str], str]) -> Grouping:
    """Takes the grouping keys out of the optimizer options; `check_option` validates/renames group options."""
    grouping = Grouping()
    rules = options.pop("param_groups", None) or []
    if not isinstance(rules, list):
        raise ConfigError("optimizer 'param_groups' must be a list of {'params': pattern(s), option: value, ...}")
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or "params" not in rule:
            raise ConfigError(f"optimizer param_groups[{i}] must be a dict with 'params' (a name pattern or a list)")
        patterns = rule["params"]
        patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        if not patterns or not all(isinstance(p, str) for p in patterns):
            raise ConfigError(f"optimizer param_groups[{i}]['params'] must be name patterns like 'encoder.*'")
        group_options = {check_option(k): v for k, v in rule.items() if k != "params"}
        grouping.rules.append(GroupRule(patterns, group_options))
    blacklist = options.pop("weight_decay_modules_blacklist", None)
    if blacklist is not None:
        grouping.no_decay_modules = tuple(_module_type(m) for m in blacklist)
    grouping.include_check = options.pop("weight_decay_custom_include_check", None)
    grouping.custom = options.pop("param_groups_custom", None)
    if grouping.custom is not None and grouping.rules:
        raise ConfigError("optimizer: give either 'param_groups' rules or 'param_groups_custom', not both")
    for name in ("include_check", "custom"):
        value = getattr(grouping, name)
        if value is not None and not callable(value):
            raise ConfigError(f"optimizer: {name} must be a function, got {value!r}")
    return grouping


def _owners(model: torch.nn.Module) -> dict[int, tuple[str, str, torch.nn.Module]]:
    """id(param) -> (full name, local name, owning module), first owner wins for shared parameters."""
    owners: dict[int, tuple[str, str, torch.nn.Module]] = {}
    for module_name, module in model.named_modules():
        for local, param in module.named_parameters(recurse=False):
            full = f"{module_name}.{local}" if module_name else local
            owners.setdefault(id(param), (full, local, module))
    return owners


def _is_no_decay(grouping: Grouping, full: str, local: str, module: torch.nn.Module, param: Any) -> bool:
    if grouping.include_check is not None:
        include = call_with_accepted(
            grouping.include_check, module=module, rf_module=module, full_param_name=full, param=param
        )
        if include is not None:
            if not isinstance(include, bool):
                raise ConfigError(f"weight_decay_custom_include_check returned {include!r} for {full}; need bool|None")
            return not include
    is_norm = isinstance(module, grouping.no_decay_modules) or type(module).__name__.endswith("Norm")
    return "bias" in local or is_norm  # "bias" anywhere: LSTM's bias_ih_l0 too


def build_param_groups(
    model: torch.nn.Module, grouping: Grouping, *, weight_decay: float, optimizer_class: type, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """Param groups for the optimizer: rules by name, then the weight-decay exclusions."""
    if grouping.custom is not None:
        groups = call_with_accepted(
            grouping.custom, model=model, rf_model=model, optimizer_class=optimizer_class, optimizer_opts=options
        )
        if not isinstance(groups, Sequence) or not all(isinstance(g, dict) and "params" in g for g in groups):
            raise ConfigError("param_groups_custom must return a list of dicts with 'params'")
        return [dict(g, params=list(g["params"])) for g in groups]
    owners = _owners(model)
    used_rules: set[int] = set()
    by_options: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for param in model.parameters():
        if not param.requires_grad or id(param) not in owners:
            continue
        full, local, module = owners[id(param)]
        group_options: dict[str, Any] = {}
        for i, rule in enumerate(grouping.rules):
            if any(fnmatch.fnmatchcase(full, p) for p in rule.patterns):
                group_options, _ = dict(rule.options), used_rules.add(i)
                break
        if weight_decay and "weight_decay" not in group_options and _is_no_decay(grouping, full, local, module, param):
            group_options["weight_decay"] = 0.0
        key = tuple(sorted((k, repr(v)) for k, v in group_options.items()))
        group = by_options.setdefault(key, {**group_options, "params": [], "names": []})
        group["params"].append(param)
        group["names"].append(full)
    for i, rule in enumerate(grouping.rules):
        if i not in used_rules:
            names = ", ".join(sorted(info[0] for info in owners.values())[:12])
            log.warning(
                "WARNING: optimizer param_groups[%d] %s matches no parameter of this model (it has: %s, ...)",
                i,
                list(rule.patterns),
                names,
            )
    return list(by_options.values())


def describe_groups(groups: list[dict[str, Any]], *, weight_decay: float) -> list[str]:
    """One line per group for the log: its options and what is in it."""
    lines = []
    for i, group in enumerate(groups):
        params = group["params"]
        numel = sum(p.numel() for p in params)
        extra = {k: v for k, v in group.items() if k not in ("params", "names", "lr")}
        if weight_decay and "weight_decay" not in extra:
            extra["weight_decay"] = weight_decay
        names = group.get("names") or []
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        options = ", ".join(f"{k}={v}" for k, v in sorted(extra.items())) or "defaults"
        lines.append(f"param group {i}: {options}: {len(params)} tensors, {numel:,} values ({shown})")
    return lines
