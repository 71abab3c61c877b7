"""Option values of transforms: fixed, a range to draw from, or values to pick from; scheduled per epoch.

A number is fixed, a tuple `(low, high)` draws uniformly from the range, a list picks one of its values
with equal probability. Any option may instead be `{epoch: value}` (piecewise constant from that epoch on)
or a function `f(epoch=...)`, resolved once per epoch before anything is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.config.schedule import is_epoch_dict
from seqtrain.errors import ConfigError


def at_epoch(value: Any, epoch: int, *, where: str, default: Any = None) -> Any:
    """The value of a possibly scheduled option at `epoch` (before the first `{epoch: value}` entry: `default`)."""
    if is_epoch_dict(value):
        if any(e < 1 for e in value):
            raise ConfigError(f"{where}: schedule epochs must be >= 1, got {sorted(value)}")
        starts = [e for e in value if e <= epoch]
        return value[max(starts)] if starts else default
    if callable(value):
        try:
            return value(epoch=epoch)
        except TypeError as e:
            raise ConfigError(f"{where}: a scheduled option is called as f(epoch=...), which failed: {e}") from e
    return value


def schedule_points(value: Any) -> list[int]:
    """Epochs at which a `{epoch: value}` schedule changes (to check every value up front); [1] otherwise."""
    return sorted({1, *value}) if is_epoch_dict(value) else [1]


@dataclass(frozen=True)
class Draw:
    """One random parameter of a transform, resolved for an epoch."""

    low: float
    high: float
    choices: tuple[float, ...] = ()

    def sample(self, rng: np.random.Generator) -> float:
        if self.choices:
            return float(self.choices[int(rng.integers(len(self.choices)))])
        return float(rng.uniform(self.low, self.high)) if self.high > self.low else self.low

    @property
    def values(self) -> tuple[float, ...]:
        return self.choices or (self.low, self.high)


def parse_draw(
    value: Any, *, where: str, name: str, minimum: float | None = None, maximum: float | None = None
) -> Draw:
    """A number, `(low, high)` or a list of numbers; an inverted range or a value out of bounds is an error."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: {name} must be a number, (low, high) or a list of numbers, got {value!r}")
    if isinstance(value, (int, float)):
        draw = Draw(float(value), float(value))
    elif isinstance(value, tuple):
        if len(value) != 2 or not all(_is_number(v) for v in value):
            raise ConfigError(f"{where}: {name} range must be (low, high) with two numbers, got {value!r}")
        if value[0] > value[1]:
            raise ConfigError(f"{where}: {name} range {value!r} is inverted; give (low, high) with low <= high")
        draw = Draw(float(value[0]), float(value[1]))
    elif isinstance(value, list):
        if not value or not all(_is_number(v) for v in value):
            raise ConfigError(f"{where}: {name} list must hold numbers to pick from, got {value!r}")
        draw = Draw(float(min(value)), float(max(value)), tuple(float(v) for v in value))
    else:
        raise ConfigError(f"{where}: {name} must be a number, (low, high) or a list of numbers, got {value!r}")
    for v in draw.values:
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            bounds = f"[{'-inf' if minimum is None else minimum}, {'inf' if maximum is None else maximum}]"
            raise ConfigError(f"{where}: {name} value {v:g} is outside {bounds}")
    return draw


def parse_probability(value: Any, *, where: str) -> float:
    if isinstance(value, bool) or not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{where}: prob must be a number in [0, 1], got {value!r}")
    return float(value)


def parse_choice(value: Any, *, where: str, name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """A name or a list of names, each one of `allowed`."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: {name} must be one of {list(allowed)} or a list of them, got {value!r}")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(f"{where}: {name} {unknown} unknown; known: {list(allowed)}")
    return tuple(names)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
