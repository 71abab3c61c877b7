"""Values that change over training: constant, `{epoch: value}`, or `f(*, epoch, step)`.

One resolver serves every schedulable key, so "dropout 0 until epoch 3", "gradient clipping only
at the start" and "batch size growth" are the same mechanism. Progress (epoch, global step) is
always passed in explicitly; nothing here keeps state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seqtrain.config.registry import ConfigKey
from seqtrain.config.types import matches_type, type_name
from seqtrain.errors import ConfigError


def is_epoch_dict(value: Any) -> bool:
    """`{epoch: value}` with int epochs; a dict with str keys is a plain value (e.g. per data key)."""
    return (
        isinstance(value, dict) and bool(value) and all(isinstance(k, int) and not isinstance(k, bool) for k in value)
    )


def is_schedule(key: ConfigKey, value: Any) -> bool:
    """True if `value` is a schedule form of a schedulable key (not a plain value of its type)."""
    if not key.schedulable or matches_type(value, key.type):
        return False
    return is_epoch_dict(value) or callable(value)


def check_value(key: ConfigKey, value: Any) -> None:
    """Raises a ConfigError naming the key, the value and the expected type (or the key's rule) if it does not fit."""
    if matches_type(value, key.type):
        _check_rule(key, value, "")
        return
    if key.schedulable and is_epoch_dict(value):
        for epoch, v in value.items():
            if epoch < 1:
                raise ConfigError(f"config key {key.name!r}: schedule epoch {epoch} must be >= 1 (epochs count from 1)")
            if not matches_type(v, key.type):
                raise ConfigError(
                    f"config key {key.name!r}: value {v!r} for epoch {epoch} has type {type(v).__name__}, "
                    f"expected {type_name(key.type)}"
                )
            _check_rule(key, v, f" for epoch {epoch}")
        return
    if key.schedulable and callable(value):
        return
    expected = type_name(key.type)
    if key.schedulable:
        expected += f" (or {{epoch: {type_name(key.type)}}}, or a function f(*, epoch, step))"
    raise ConfigError(f"config key {key.name!r}: got {value!r} of type {type(value).__name__}, expected {expected}")


def value_at(key: ConfigKey, value: Any, *, epoch: int, step: int) -> Any:
    """Resolves a (possibly scheduled) value for one point of training.

    `{epoch: value}` is piecewise constant: the entry with the largest epoch <= `epoch` wins; before
    the first entry the key's registry default applies. A callable gets `epoch` and the global
    train `step` as keywords and its result is type-checked like a plain value.
    """
    if not is_schedule(key, value):
        return value
    if is_epoch_dict(value):
        starts = [e for e in value if e <= epoch]
        return value[max(starts)] if starts else key.default
    fn: Callable[..., Any] = value
    result = fn(epoch=epoch, step=step)
    if not matches_type(result, key.type):
        raise ConfigError(
            f"config key {key.name!r}: the schedule function returned {result!r} at epoch {epoch}, step {step}; "
            f"expected {type_name(key.type)}"
        )
    _check_rule(key, result, f" (the schedule function's value at epoch {epoch}, step {step})")
    return result


def _check_rule(key: ConfigKey, value: Any, where: str) -> None:
    problem = key.check(value) if key.check is not None else None
    if problem:
        raise ConfigError(f"config key {key.name!r}: {value!r}{where} {problem}")


def is_step_dependent(key: ConfigKey, value: Any) -> bool:
    """Only callables can change within an epoch; everything else is fixed at the epoch start."""
    return is_schedule(key, value) and not is_epoch_dict(value)
