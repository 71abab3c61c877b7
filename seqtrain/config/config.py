"""The validated configuration of one run.

A `Config` holds only the keys that were set (from the file, `key=value` overrides, or a net dict's
`#config`); every other key reads its registry default. Values are checked when they enter, so the
rest of seqtrain can trust them.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from seqtrain.config import schedule
from seqtrain.config.registry import all_keys, get_key


class Config:
    """Immutable mapping of set keys to checked values, with defaults and schedule resolution."""

    def __init__(
        self,
        values: Mapping[str, Any],
        *,
        path: Path | None = None,
        source_text: str = "",
        overrides: Mapping[str, Any] | None = None,
        helpers: Mapping[str, Any] | None = None,
        variable_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        for name, value in values.items():
            schedule.check_value(get_key(name), value)
        self._values = dict(values)
        self.path = path
        self.source_text = source_text
        self.overrides = dict(overrides or {})
        self.helpers = dict(helpers or {})  # functions/classes defined in the file that are not keys
        # `name=value` overrides of a RETURNN config's own variables (read by the file via `config.value`)
        self.variable_overrides = dict(variable_overrides or {})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Config:
        """For tests and for building a config in Python instead of a file."""
        return cls(values)

    def get(self, name: str) -> Any:
        """The raw value (a schedule stays a schedule); the registry default if not set."""
        key = get_key(name)
        return self._values.get(name, key.default)

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def is_set(self, name: str) -> bool:
        get_key(name)
        return name in self._values

    def at(self, name: str, *, epoch: int, step: int = 0) -> Any:
        """The value of `name` at a point of training, schedules resolved."""
        key = get_key(name)
        return schedule.value_at(key, self._values.get(name, key.default), epoch=epoch, step=step)

    def is_step_dependent(self, name: str) -> bool:
        return schedule.is_step_dependent(get_key(name), self._values.get(name))

    def set_items(self) -> Iterator[tuple[str, Any]]:
        return iter(sorted(self._values.items()))

    def with_values(self, values: Mapping[str, Any]) -> Config:
        """A copy with some keys replaced (e.g. a net dict's `#config` for one epoch); checked like the file."""
        merged = {**self._values, **values}
        return Config(
            merged,
            path=self.path,
            source_text=self.source_text,
            overrides=self.overrides,
            helpers=self.helpers,
            variable_overrides=self.variable_overrides,
        )

    def fingerprint(self) -> str:
        """Hash of what defines the run: the config file text and the command-line overrides."""
        h = hashlib.sha256(self.source_text.encode())
        h.update(repr(sorted((k, repr(v)) for k, v in self.overrides.items())).encode())
        if self.variable_overrides:
            h.update(repr(sorted((k, repr(v)) for k, v in self.variable_overrides.items())).encode())
        if not self.source_text:
            h.update(repr(sorted((k, describe_value(v)) for k, v in self._values.items())).encode())
        return h.hexdigest()[:16]

    def resolved_text(self, *, epoch: int | None = None, step: int = 0) -> str:
        """Every key with its value (schedules resolved when `epoch` is given), marking where it came from."""
        lines = [f"# seqtrain resolved config{'' if epoch is None else f' for epoch {epoch}'}"]
        if self.path is not None:
            lines.append(f"# file: {self.path}")
        for key in all_keys():
            origin = ("override" if key.name in self.overrides else "config") if key.name in self._values else "default"
            value = self._values.get(key.name, key.default)
            if epoch is not None and not key.hook:
                value = schedule.value_at(key, value, epoch=epoch, step=step)
            lines.append(f"{key.name} = {describe_value(value)}  # {origin}")
        return "\n".join(lines) + "\n"


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def describe_value(value: Any) -> str:
    """repr, but functions and classes by name and line and no object addresses, also inside dicts and lists
    (a net dict): dumps are stable across runs, so a resume compares configs, not memory addresses."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{describe_value(k)}: {describe_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(describe_value(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if inspect.isfunction(value) or inspect.isclass(value):
        try:
            line = inspect.getsourcelines(value)[1]
            return f"<{'class' if inspect.isclass(value) else 'function'} {value.__qualname__}, line {line}>"
        except (OSError, TypeError):
            return f"<{value.__qualname__}>"
    if callable(value) and not isinstance(value, type):
        return f"<callable {getattr(value, '__qualname__', type(value).__name__)}>"
    return _ADDRESS.sub("", repr(value))
