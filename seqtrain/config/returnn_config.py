"""The `config` object RETURNN puts into a config file's namespace, for configs that read from it.

RETURNN configs write `task = config.value("task", "train")` or `layer_dim = config.int("layer_dim", 500)`
so that the command line can change a value the file then builds on. Here a value comes from the command
line's `key=value` overrides first, then from what the file has set above that line, then the default.
Every name read is remembered: an override of such a name is accepted even when it is no seqtrain key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING = object()


class ReturnnConfigView:
    """RETURNN's `Config` reading API (`value`, `typed_value`, `int`, `float`, `bool`, `list`, `has`, ...)."""

    def __init__(self, overrides: Mapping[str, Any], namespace: Mapping[str, Any]) -> None:
        self._overrides = overrides
        self._namespace = namespace
        self.names_read: set[str] = set()

    def _get(self, key: str) -> Any:
        self.names_read.add(key)
        if key in self._overrides:
            return self._overrides[key]
        return self._namespace.get(key, _MISSING)

    def has(self, key: str) -> bool:
        return self._get(key) is not _MISSING

    def is_typed(self, key: str) -> bool:
        return self.has(key)

    def typed_value(self, key: str, default: Any = None, index: int | None = None) -> Any:
        value = self._get(key)
        if value is _MISSING:
            return default
        return value[index] if index is not None else value

    opt_typed_value = typed_value

    def value(self, key: str, default: Any = None, index: int | None = None, list_join_str: str = ",") -> Any:
        """RETURNN's string view: lists are joined, other values as given (numbers stay numbers here)."""
        value = self.typed_value(key, default, index)
        if isinstance(value, (list, tuple)) and index is None:
            return list_join_str.join(str(v) for v in value)
        return value

    def int(self, key: str, default: int = 0, index: int | None = None) -> int:
        value = self.typed_value(key, default, index)
        return None if value is None else int(value)

    def float(self, key: str, default: float = 0.0, index: int | None = None) -> float:
        value = self.typed_value(key, default, index)
        return None if value is None else float(value)

    def bool(self, key: str, default: bool = False, index: int | None = None) -> bool:
        value = self.typed_value(key, default, index)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)

    def is_true(self, key: str, default: bool = False) -> bool:
        return self.bool(key, default)

    def bool_or_other(self, key: str, default: Any = None, index: int | None = None) -> Any:
        value = self.typed_value(key, default, index)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value

    def list(self, key: str, default: list[Any] | None = None) -> list[Any]:
        value = self.typed_value(key, _MISSING)
        if value is _MISSING:
            return [] if default is None else list(default)
        if isinstance(value, str):
            return value.split(",")
        return list(value) if isinstance(value, (list, tuple)) else [value]

    def int_list(self, key: str, default: list[int] | None = None) -> list[int]:
        return [int(v) for v in self.list(key, default)]

    def float_list(self, key: str, default: list[float] | None = None) -> list[float]:
        return [float(v) for v in self.list(key, default)]
