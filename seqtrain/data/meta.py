"""`MetaDataset`: data keys of several datasets combined per sequence tag (RETURNN's MetaDataset).

    train = {"class": "MetaDataset",
             "datasets": {"feats": {"class": "HDFDataset", "files": ["feats.hdf"]},
                          "align": {"class": "HDFDataset", "files": ["alignment.hdf"]}},
             "data_map": {"data": ("feats", "data"), "classes": ("align", "data")},
             "seq_order_control_dataset": "feats", "seq_ordering": "laplace:.100"}

The control dataset (default: the one providing "data") defines the sequences and their tags; every other
dataset must hold a sequence with each of those tags, in any order (an alignment file written in another
order works). Epoch options (`seq_ordering`, `partition_epoch`, ...) go on the MetaDataset; as in
RETURNN, those set on the control dataset are used when the MetaDataset sets none.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from seqtrain.data.dataset import DATASETS, Dataset, DataSpec
from seqtrain.data.vocab import Vocabulary
from seqtrain.errors import ConfigError, DataError


class MetaDataset(Dataset):
    def __init__(
        self,
        datasets: dict[str, Any],
        data_map: dict[str, tuple[str, str]],
        *,
        seq_order_control_dataset: str | None = None,
        name: str = "meta",
    ) -> None:
        from seqtrain.data.factory import make_dataset

        self.name = name
        where = f"dataset {name!r}"
        if not data_map:
            raise ConfigError(f"{where}: data_map is empty; map data keys to (dataset, key)")
        for key, target in data_map.items():
            if not (isinstance(target, (tuple, list)) and len(target) == 2 and target[0] in datasets):
                raise ConfigError(
                    f"{where}: data_map[{key!r}] = {target!r} must be (dataset name, data key) with a name of "
                    f"`datasets` ({sorted(datasets)})"
                )
        self.data_map = {k: (str(v[0]), str(v[1])) for k, v in data_map.items()}
        used = {name_ for name_, _ in self.data_map.values()}
        setups = {n: make_dataset(spec, name=f"{name}/{n}") for n, spec in datasets.items() if n in used}
        self.datasets: dict[str, Dataset] = {n: s.dataset for n, s in setups.items()}
        control = seq_order_control_dataset or self.data_map.get("data", next(iter(self.data_map.values())))[0]
        if control not in self.datasets:
            raise ConfigError(f"{where}: seq_order_control_dataset {control!r} is not one of {sorted(self.datasets)}")
        self.control = control
        self.inherited_epoch_options = setups[control].options
        for key, (ds_name, ds_key) in self.data_map.items():
            have = self.datasets[ds_name].data_specs()
            if ds_key not in have:
                raise DataError(
                    f"{where}: data_map[{key!r}] wants key {ds_key!r} of dataset {ds_name!r}, which has {sorted(have)}"
                )
        self.index = {n: self._match_tags(n) for n in self.datasets}

    def _match_tags(self, ds_name: str) -> np.ndarray:
        """For each sequence of the control dataset, the index of the same tag in `ds_name`."""
        control = self.datasets[self.control]
        if ds_name == self.control:
            return np.arange(control.num_seqs, dtype=np.int64)
        other = self.datasets[ds_name]
        by_tag = {other.seq_tag(i): i for i in range(other.num_seqs)}
        index = np.empty(control.num_seqs, dtype=np.int64)
        for i in range(control.num_seqs):
            tag = control.seq_tag(i)
            found = by_tag.get(tag)
            if found is None:
                example = other.seq_tag(0) if other.num_seqs else "none"
                raise DataError(
                    f"dataset {self.name!r}: sequence {tag!r} of {self.control!r} is missing in {ds_name!r} "
                    f"({other.num_seqs} sequences, e.g. {example!r}); the datasets must share sequence tags"
                )
            index[i] = found
        return index

    def for_epoch(self, epoch: int, *, random_seed: int = 0) -> Dataset:
        inner = {n: d.for_epoch(epoch, random_seed=random_seed) for n, d in self.datasets.items()}
        if all(inner[n] is d for n, d in self.datasets.items()):
            return self
        view = copy.copy(self)
        view.datasets = inner  # the tags (and so `index`) are the same in every epoch
        return view

    @property
    def num_seqs(self) -> int:
        return self.datasets[self.control].num_seqs

    def data_specs(self) -> dict[str, DataSpec]:
        return {k: self.datasets[n].data_specs()[dk] for k, (n, dk) in self.data_map.items()}

    def seq_lengths(self) -> dict[str, np.ndarray]:
        lengths = {n: d.seq_lengths() for n, d in self.datasets.items()}
        return {
            k: np.asarray(lengths[n][dk])[self.index[n]] for k, (n, dk) in self.data_map.items() if dk in lengths[n]
        }

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        loaded = {n: self.datasets[n].get_seq(int(self.index[n][idx])) for n in self.datasets}
        return {k: loaded[n][dk] for k, (n, dk) in self.data_map.items()}

    def get_data(self, idx: int, key: str) -> np.ndarray:
        ds_name, ds_key = self.data_map[key]
        return self.datasets[ds_name].get_data(int(self.index[ds_name][idx]), ds_key)

    def seq_tag(self, idx: int) -> str:
        return self.datasets[self.control].seq_tag(idx)

    def labels(self, key: str) -> list[str] | None:
        ds_name, ds_key = self.data_map[key]
        return self.datasets[ds_name].labels(ds_key)

    def vocabulary(self, key: str) -> Vocabulary | None:
        ds_name, ds_key = self.data_map[key]
        return self.datasets[ds_name].vocabulary(ds_key)

    def describe_seq(self, idx: int) -> str:
        parts = [self.datasets[n].describe_seq(int(self.index[n][idx])) for n in self.datasets]
        return f"{parts[0]} (with {'; '.join(parts[1:])})" if len(parts) > 1 else parts[0]


DATASETS.register("MetaDataset", MetaDataset)
