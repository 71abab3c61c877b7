"""The learning-rate/scores file in RETURNN's format: `{epoch: EpochData(learningRate=..., error={...})}`.

Written after every epoch (atomically), read back on resume; a user may edit the learning rate of a
coming epoch by hand and training uses it. RETURNN's own tools read the files we write.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqtrain.errors import ConfigError

_META = ":meta:"  # RETURNN stores extra per-epoch info (global step, effective LR, host) as such score keys


@dataclass
class EpochData:
    """One epoch's line: its learning rate, its scores, and RETURNN's extra info (`:meta:` keys, kept as read)."""

    learning_rate: float | None
    error: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def _repr_value(v: Any) -> str:
    """RETURNN's `better_repr` for the values in this file (deterministic, sorted, nan/inf as float('..'))."""
    if isinstance(v, dict):
        items = [_repr_value(k) + ": " + _repr_value(x) for k, x in sorted(v.items())]
        if sum(len(s) for s in items) >= 40:
            return "{\n" + "".join(s + ",\n" for s in items) + "}"
        return "{" + ", ".join(items) + "}"
    if isinstance(v, EpochData):
        joined = {**v.error, **{f"{_META}{k}": x for k, x in v.meta.items()}}
        return f"EpochData(learningRate={_repr_value(v.learning_rate)}, error={_repr_value(joined)})"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return f"float('{v!r}')"
    return repr(v)


def format_scores(data: dict[int, EpochData]) -> str:
    return _repr_value(data) + "\n"


def _epoch_data(learningRate: float | None = None, error: Any = None, **kwargs: Any) -> EpochData:
    lr = kwargs.pop("learning_rate", learningRate)
    meta = dict(kwargs.pop("meta", None) or {})
    if kwargs:
        raise TypeError(f"unexpected EpochData fields {sorted(kwargs)}")
    if isinstance(error, (int, float)):  # RETURNN's oldest format: one score per epoch
        error = {"old_format_score": error}
    scores = {}
    for k, v in (error or {}).items():
        if str(k).startswith(_META):
            meta[str(k)[len(_META) :]] = v
        else:
            scores[str(k)] = float(v)
    return EpochData(None if lr is None else float(lr), scores, meta)


def parse_scores(text: str, *, path: str | Path = "<scores>") -> dict[int, EpochData]:
    if not text.strip():
        return {}
    env = {"__builtins__": {}, "EpochData": _epoch_data, "float": float, "nan": math.nan, "inf": math.inf, "np": np}
    try:
        data = eval(compile(text, str(path), "eval"), env)
    except Exception as e:
        raise ConfigError(
            f"learning-rate file {path} cannot be parsed ({type(e).__name__}: {e}); it must hold "
            "{epoch: EpochData(learningRate=..., error={...}), ...}. Fix it by hand or delete it to start fresh."
        ) from e
    if not isinstance(data, dict) or not all(isinstance(k, int) and isinstance(v, EpochData) for k, v in data.items()):
        raise ConfigError(f"learning-rate file {path}: expected a dict {{epoch: EpochData(...)}}")
    return dict(sorted(data.items()))


def read_scores(path: str | Path) -> dict[int, EpochData]:
    path = Path(path)
    return parse_scores(path.read_text(), path=path) if path.exists() else {}


def write_scores(path: str | Path, data: dict[int, EpochData]) -> None:
    """Atomic: a crash leaves the previous complete file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(format_scores(data))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
