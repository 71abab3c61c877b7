"""Builds datasets from config values: `{"class": "HDFDataset", "files": [...], ...}` or an instance.

Options that concern how an epoch visits a dataset (ordering, partitioning, filters) are the same for
every dataset class, so they are split off here and handled once in `seqtrain.data.epoch`.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, fields
from typing import Any

from seqtrain.data.dataset import Dataset
from seqtrain.data.hdf import HDFDataset
from seqtrain.errors import ConfigError

DATASET_CLASSES: dict[str, type[Dataset]] = {"HDFDataset": HDFDataset}


def register_dataset(name: str, cls: type[Dataset]) -> None:
    """Makes `{"class": name}` refer to `cls` (for dataset classes shipped with seqtrain)."""
    DATASET_CLASSES[name] = cls


@dataclass(frozen=True)
class EpochOptions:
    """How each epoch visits a dataset (RETURNN's dataset options of the same names)."""

    seq_ordering: str = "default"
    random_seed_offset: int = 0
    partition_epoch: int = 1


@dataclass
class DatasetSetup:
    """A dataset with its epoch options and the name it has in logs and scores (train, dev, ...)."""

    name: str
    dataset: Dataset
    options: EpochOptions


def _epoch_option_names() -> set[str]:
    return {f.name for f in fields(EpochOptions)}


def _check_kwargs(cls: type, kwargs: dict[str, Any], where: str) -> None:
    """Validates constructor arguments before constructing, so a typo fails before any data is read."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [n for n in params if n != "self"]
    for key in kwargs:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed + sorted(_epoch_option_names()), n=2, cutoff=0.6)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else f"; allowed: {sorted(allowed)}"
            raise ConfigError(f"{where}: {cls.__name__} has no option {key!r}{hint}")


def make_dataset(spec: Any, *, name: str) -> DatasetSetup:
    """`spec` is a dict with "class" (a name or a Dataset subclass) and options, or a Dataset instance."""
    where = f"dataset {name!r}"
    if isinstance(spec, Dataset):
        return DatasetSetup(name, spec, EpochOptions())
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a dict {{'class': ...}} or a Dataset instance, got {type(spec).__name__}")
    kwargs = dict(spec)
    cls_spec = kwargs.pop("class", None)
    if isinstance(cls_spec, str):
        if cls_spec not in DATASET_CLASSES:
            close = difflib.get_close_matches(cls_spec, list(DATASET_CLASSES), n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"{where}: unknown dataset class {cls_spec!r}{hint} (known: {sorted(DATASET_CLASSES)})")
        cls = DATASET_CLASSES[cls_spec]
    elif inspect.isclass(cls_spec) and issubclass(cls_spec, Dataset):
        cls = cls_spec
    else:
        raise ConfigError(f"{where}: 'class' must be a dataset class name or a Dataset subclass, got {cls_spec!r}")
    epoch_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _epoch_option_names()}
    _check_kwargs(cls, kwargs, where)
    if "name" in inspect.signature(cls.__init__).parameters and "name" not in kwargs:
        kwargs["name"] = name
    try:
        options = EpochOptions(**epoch_kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from e
    if options.partition_epoch < 1:
        raise ConfigError(f"{where}: partition_epoch must be >= 1, got {options.partition_epoch}")
    return DatasetSetup(name, cls(**kwargs), options)
