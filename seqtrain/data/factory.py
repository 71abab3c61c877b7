"""Builds datasets from config values: `{"class": "HDFDataset", "files": [...], ...}` or an instance.

Options that concern how an epoch visits a dataset (ordering, partitioning, filters) are the same for
every dataset class, so they are split off here and handled once in `seqtrain.data.epoch`. Constructor
options are checked against the class's signature before anything is constructed, so a typo fails with
a suggestion before any data is read.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from seqtrain.data.dataset import DATASETS, Dataset
from seqtrain.data.dataset_string import parse_dataset_string
from seqtrain.data.filters import EpochWiseFilter, SubsetDataset
from seqtrain.data.returnn_datasets import returnn_dataset_advice
from seqtrain.errors import ConfigError


def register_dataset(name: str, cls: type[Dataset]) -> None:
    """Makes `{"class": name}` refer to `cls` (a config may also give the class itself)."""
    DATASETS.register(name, cls)


@dataclass(frozen=True)
class EpochOptions:
    """How each epoch visits a dataset (RETURNN's dataset options of the same names)."""

    seq_ordering: str | Callable[..., str] = "default"
    random_seed_offset: int = 0
    fixed_random_seed: int | None = None  # the same shuffle (and generated data) every epoch, e.g. for a dev set
    partition_epoch: int = 1
    epoch_wise_filter: EpochWiseFilter | None = None
    seq_list_file: str | None = None
    seq_list_filter_file: str | None = None


@dataclass
class DatasetSetup:
    """A dataset with its epoch options and the name it has in logs and scores (train, dev, ...).

    `data_keys`: the keys batches carry (extern_data), whose lengths batching bounds; None = all.
    """

    name: str
    dataset: Dataset
    options: EpochOptions
    data_keys: tuple[str, ...] | None = None


def epoch_option_names() -> set[str]:
    return {f.name for f in fields(EpochOptions)}


def constructor_options(cls: type) -> tuple[dict[str, inspect.Parameter], bool]:
    """The named options of `cls(...)`, following `**kwargs` into the base classes' constructors (a subclass that
    passes the rest on to `super().__init__` accepts the base's options), and whether the list is open: a
    `**kwargs` that reaches no constructor naming its options accepts anything, so nothing can be checked."""
    options: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        if klass is object:
            return options, True
        params = inspect.signature(init).parameters
        for n, p in params.items():
            if n != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                options.setdefault(n, p)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return options, False
    return options, True


def _check_kwargs(cls: type, kwargs: dict[str, Any], where: str) -> None:
    """Validates constructor arguments before constructing, so a typo fails before any data is read."""
    params, open_ended = constructor_options(cls)
    if open_ended:
        return
    allowed = list(params)
    for key in kwargs:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed + sorted(epoch_option_names()), n=2, cutoff=0.6)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else f"; allowed: {sorted(allowed)}"
            raise ConfigError(f"{where}: {cls.__name__} has no option {key!r}{hint}")
    required = [
        n for n, p in params.items() if n != "name" and p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]  # fmt: skip
    missing = [n for n in required if n not in kwargs]
    if missing:
        raise ConfigError(f"{where}: {cls.__name__} needs the option(s) {missing}")


def parse_epoch_options(values: dict[str, Any], where: str) -> EpochOptions:
    from seqtrain.data.ordering import check_ordering

    values = dict(values)
    values["epoch_wise_filter"] = EpochWiseFilter.parse(values.get("epoch_wise_filter"), where=where)
    try:
        options = EpochOptions(**values)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from e
    if isinstance(options.seq_ordering, str):
        check_ordering(options.seq_ordering)
    elif not callable(options.seq_ordering):
        raise ConfigError(f"{where}: seq_ordering must be a str or a function of epoch, got {options.seq_ordering!r}")
    if not isinstance(options.partition_epoch, int) or options.partition_epoch < 1:
        raise ConfigError(f"{where}: partition_epoch must be an int >= 1, got {options.partition_epoch!r}")
    for key in ("random_seed_offset", "fixed_random_seed"):
        value = getattr(options, key)
        if not isinstance(value, int) and not (key == "fixed_random_seed" and value is None):
            raise ConfigError(f"{where}: {key} must be an int, got {value!r}")
    return options


def _resolve_class(cls_spec: Any, where: str) -> type[Dataset]:
    if isinstance(cls_spec, str):
        if (advice := returnn_dataset_advice(cls_spec)) and cls_spec not in DATASETS.names():
            raise ConfigError(f"{where}: {advice}")
        return DATASETS.get(cls_spec, where=where)
    if inspect.isclass(cls_spec) and issubclass(cls_spec, Dataset):
        return cls_spec
    if inspect.isclass(cls_spec):
        raise ConfigError(
            f"{where}: class {cls_spec.__name__} is not a seqtrain Dataset; subclass seqtrain.data.dataset.Dataset "
            "(num_seqs, data_specs, seq_lengths, get_seq)"
        )
    raise ConfigError(f"{where}: 'class' must be a dataset class name or a Dataset subclass, got {cls_spec!r}")


def make_dataset(spec: Any, *, name: str, default_ordering: str | None = None) -> DatasetSetup:
    """`spec` is a dict with "class" (a name or a Dataset subclass) and options, or a Dataset instance.

    RETURNN's other forms work too: a string (data/dataset_string.py) and a function returning the dict.
    `default_ordering`: the `seq_ordering` when the spec sets none (RETURNN's `batching` key, for train)."""
    where = f"dataset {name!r}"
    if callable(spec) and not isinstance(spec, (Dataset, type)):
        spec = spec()  # RETURNN's init_dataset calls a function given as the dataset
    if isinstance(spec, str):
        spec = parse_dataset_string(spec, where=where)
    if isinstance(spec, Dataset):
        return DatasetSetup(
            name, spec, parse_epoch_options({"seq_ordering": default_ordering or "default"}, where=where)
        )
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where}: expected a dict {{'class': ...}}, a Dataset instance or RETURNN's dataset string, "
            f"got {type(spec).__name__}"
        )
    kwargs = dict(spec)
    cls = _resolve_class(kwargs.pop("class", None), where)
    epoch_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in epoch_option_names()}
    options = parse_epoch_options(epoch_kwargs, where=where)
    _check_kwargs(cls, kwargs, where)
    params, _ = constructor_options(cls)
    if "name" in params and "name" not in kwargs:
        kwargs["name"] = name
    # A class that declares an epoch option (RETURNN's generated tasks: partition_epoch, random_seed_offset
    # also set their data's seed) gets it as well; it still acts on ordering as for every dataset.
    kwargs.update({k: v for k, v in epoch_kwargs.items() if k in params})
    dataset = cls(**kwargs)
    if "name" not in vars(dataset):  # a custom class without a name: errors and logs call it by its config name
        dataset.name = name
    inherited = getattr(dataset, "inherited_epoch_options", None)  # MetaDataset: its control dataset's
    if isinstance(inherited, EpochOptions) and not epoch_kwargs:
        options = replace(inherited, seq_list_file=None, seq_list_filter_file=None)  # the control dataset applied them
    elif default_ordering is not None and "seq_ordering" not in epoch_kwargs:
        options = replace(
            options, seq_ordering=parse_epoch_options({"seq_ordering": default_ordering}, where).seq_ordering
        )
    if options.seq_list_file is not None:
        dataset = SubsetDataset.from_seq_list(dataset, options.seq_list_file, name=name)
    if options.seq_list_filter_file is not None:
        dataset = SubsetDataset.from_seq_filter(dataset, options.seq_list_filter_file, name=name)
    return DatasetSetup(name, dataset, options)
