"""Named components of one kind (layers, losses, datasets, LR rules, decoders, optimizers), one small API for all.

A config names a component by a string (`"class": "LinearLayer"`, `loss="ctc"`, `recog_decoder="hmm_viterbi"`);
every kind keeps its entries in a `Registry`, so adding one is one new definition plus one `register` call,
and an unknown name fails the same way everywhere: the kind, the name, the closest known names, all known
names, and where the name came from.

    LOSSES: Registry[LossKind] = Registry("loss")

    @LOSSES.register("ctc")
    def _ctc(...): ...

    LOSSES.get(name, where="layer 'output'")  # ConfigError: layer 'output': unknown loss 'ctcc'; did you mean 'ctc'?
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

from seqtrain.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name. `load` imports modules that register built-in entries on first lookup, for
    kinds whose entries are expensive to import (datasets) or would import their registry back (cycles)."""

    def __init__(self, kind: str, *, hint: str = "", load: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self.hint = hint  # how to add an own entry, appended to the unknown-name error
        self._entries: dict[str, T] = {}
        self._load = load

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...
    @overload
    def register(self, name: str, entry: T) -> T: ...
    def register(self, name: str, entry: T | None = None) -> T | Callable[[T], T]:
        """Adds `entry` under `name`; without `entry`, a decorator. Two different entries under one name are a
        bug; the same definition again (a config file loaded a second time defines its class anew) replaces it."""

        def add(value: T) -> T:
            if name in self._entries and _definition(self._entries[name]) != _definition(value):
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = value
            return value

        return add if entry is None else add(entry)

    def _loaded(self) -> dict[str, T]:
        if self._load is not None:
            load, self._load = self._load, None
            load()
        return self._entries

    def get(self, name: str, *, where: str = "") -> T:
        entries = self._loaded()
        if name in entries:
            return entries[name]
        raise self.unknown(name, where=where)

    def unknown(self, name: object, *, where: str = "", extra: list[str] | None = None) -> ConfigError:
        """The error for a name that is not registered (also for callers that look in more than the registry)."""
        known = sorted({*self._loaded(), *(extra or [])})
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        own = f"; {self.hint}" if self.hint else ""
        prefix = f"{where}: " if where else ""
        return ConfigError(f"{prefix}unknown {self.kind} {name!r}{hint} (known: {', '.join(known)}){own}")

    def names(self) -> list[str]:
        return sorted(self._loaded())

    def as_dict(self) -> dict[str, T]:
        """A copy (callers may add their own entries to it without changing the registry)."""
        return dict(self._loaded())

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _definition(entry: object) -> object:
    """Where a class or function was defined (the same for a redefinition); the object itself otherwise."""
    qualname = getattr(entry, "__qualname__", None)
    return (getattr(entry, "__module__", None), qualname) if qualname else entry
