"""The one table of every config key: name, type, default, one-line doc, schedulable or not.

Keys are declared once, next to nothing else, so that `seqtrain config --list` shows all of them,
a misspelled key is an error with a suggestion, and no default lives at a call site.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seqtrain.errors import ConfigError


@dataclass(frozen=True)
class ConfigKey:
    """Declaration of one config key.

    `schedulable` keys may also be given as `{epoch: value}` (piecewise constant from that epoch on)
    or as a callable `f(*, epoch, step)`; see `seqtrain.config.schedule`.
    `hook` marks functions the framework calls (`get_model`, `train_step`, ...), listed separately.
    `check` is the key's range/consistency rule beyond its type: it returns what is wrong with a value ("must be
    >= 1") or None; it runs on every value when the config is loaded (each entry of an `{epoch: value}` schedule)
    and on what a schedule function returns, so a bad value never waits until the middle of an epoch.
    `returnn` marks a key RETURNN has too, with the same meaning (a RETURNN config using it trains the same);
    `seqtrain config --list` and docs/returnn.md show it, and a test checks RETURNN really reads that name.
    """

    name: str
    type: Any
    default: Any
    doc: str
    schedulable: bool = False
    group: str = "core"
    hook: bool = False
    check: Callable[[Any], str | None] | None = None
    returnn: bool = False


_KEYS: dict[str, ConfigKey] = {}


def declare(
    name: str,
    type_: Any,
    default: Any,
    doc: str,
    *,
    schedulable: bool = False,
    group: str = "core",
    hook: bool = False,
    check: Callable[[Any], str | None] | None = None,
    returnn: bool = False,
) -> ConfigKey:
    """Adds a key to the registry; declaring the same name twice is a bug in seqtrain."""
    if name in _KEYS:
        raise RuntimeError(f"config key {name!r} declared twice")
    key = ConfigKey(
        name, type_, default, doc, schedulable=schedulable, group=group, hook=hook, check=check, returnn=returnn
    )
    _KEYS[name] = key
    return key


def get_key(name: str) -> ConfigKey:
    """Returns the declaration of `name`, or raises with the closest known names."""
    try:
        return _KEYS[name]
    except KeyError:
        raise ConfigError(f"unknown config key {name!r}{suggestion_text(name)}") from None


def is_declared(name: str) -> bool:
    return name in _KEYS


def all_keys() -> list[ConfigKey]:
    return sorted(_KEYS.values(), key=lambda k: (k.group, k.name))


def close_matches(name: str, *, cutoff: float = 0.75) -> list[str]:
    return difflib.get_close_matches(name, list(_KEYS), n=3, cutoff=cutoff)


def suggestion_text(name: str) -> str:
    matches = close_matches(name, cutoff=0.6)
    if matches:
        return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"
    return "; `seqtrain config --list` shows all keys (private helpers in a config must start with '_')"


def at_least(minimum: float) -> Callable[[Any], str | None]:
    """A `check`: the value (when given, not None) is >= `minimum`."""

    def check(value: Any) -> str | None:
        return None if value is None or value >= minimum else f"must be >= {minimum}"

    return check


def greater_than(minimum: float) -> Callable[[Any], str | None]:
    """A `check`: the value (when given, not None) is > `minimum`."""

    def check(value: Any) -> str | None:
        return None if value is None or value > minimum else f"must be > {minimum}"

    return check


def keys_among(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    """A `check` of a dict: its keys are among `allowed`."""

    def check(value: Any) -> str | None:
        unknown = sorted(set(value or {}) - set(allowed))
        return f"unknown keys {unknown}; allowed: {list(allowed)}" if unknown else None

    return check
