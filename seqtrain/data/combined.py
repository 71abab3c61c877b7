"""`CombinedDataset`: several corpora in one training set, mixed with sampling sizes (RETURNN's names).

    train = {"class": "CombinedDataset",
             "datasets": {"clean": {...}, "noisy": {...}},
             "data_map": {("clean", "data"): "data", ("clean", "classes"): "classes",
                          ("noisy", "data"): "data", ("noisy", "classes"): "classes"},
             "sampling_sizes": {"clean": 1.0, "noisy": 0.25}, "seq_ordering": "laplace:.100"}

The sequences are those of all datasets, one after the other. `sampling_sizes` sets how many each epoch
draws from each dataset: an int is a count, a float a share of that dataset (0.25: a quarter; 2.0: every
sequence twice). Draws continue where the previous epoch stopped, through a fresh shuffle of the dataset
per pass, so over epochs every sequence is seen equally often; the draw is a pure function of
(random_seed, epoch) and needs no state for resume. The epoch's `seq_ordering` then orders the drawn
sequences jointly. A data key a dataset does not provide is empty (length 0) in its sequences.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from seqtrain.data.dataset import DATASETS, Dataset, DataSpec
from seqtrain.errors import ConfigError, DataError
from seqtrain.rng import derive_seed


class CombinedDataset(Dataset):
    def __init__(
        self,
        datasets: dict[str, Any],
        data_map: dict[tuple[str, str], str],
        *,
        sampling_sizes: int | float | dict[str, int | float] | None = None,
        name: str = "combined",
    ) -> None:
        from seqtrain.data.factory import make_dataset

        self.name = name
        where = f"dataset {name!r}"
        for ds_name, _ in data_map:
            if ds_name not in datasets:
                raise ConfigError(f"{where}: data_map names dataset {ds_name!r}; `datasets` has {sorted(datasets)}")
        self.names = [n for n in datasets if any(ds == n for ds, _ in data_map)]
        self.datasets: list[Dataset] = [make_dataset(datasets[n], name=f"{name}/{n}").dataset for n in self.names]
        self.key_of = {(ds, dk): k for (ds, dk), k in data_map.items()}
        self._specs = self._merge_specs(where)
        self.start = np.cumsum([0] + [d.num_seqs for d in self.datasets])
        self.sampling = self._parse_sampling(sampling_sizes, where)
        self._lengths = self._all_lengths()

    def _merge_specs(self, where: str) -> dict[str, DataSpec]:
        specs: dict[str, DataSpec] = {}
        for ds_name, dataset in zip(self.names, self.datasets):
            have = dataset.data_specs()
            for (n, ds_key), key in self.key_of.items():
                if n != ds_name:
                    continue
                if ds_key not in have:
                    raise DataError(f"{where}: dataset {ds_name!r} has no data key {ds_key!r} (it has {sorted(have)})")
                spec = have[ds_key]
                if key in specs and (specs[key].dim, specs[key].sparse) != (spec.dim, spec.sparse):
                    raise DataError(
                        f"{where}: data key {key!r} is {specs[key].describe()} in one dataset and {spec.describe()} "
                        f"in {ds_name!r}"
                    )
                specs.setdefault(key, spec)
        return specs

    def _parse_sampling(self, sizes: Any, where: str) -> list[int] | None:
        if sizes is None:
            return None
        per_name = sizes if isinstance(sizes, dict) else dict.fromkeys(self.names, sizes)
        unknown = sorted(set(per_name) - set(self.names))
        if unknown:
            raise ConfigError(f"{where}: sampling_sizes names {unknown}; the datasets are {self.names}")
        counts = []
        for n, dataset in zip(self.names, self.datasets):
            value = per_name.get(n, dataset.num_seqs)
            count = round(value * dataset.num_seqs) if isinstance(value, float) else int(value)
            if count < 0 or (count > 0 and dataset.num_seqs == 0):
                raise ConfigError(f"{where}: sampling_sizes[{n!r}] = {value!r} is not possible")
            counts.append(count)
        return counts

    def _locate(self, idx: int) -> tuple[int, int]:
        part = int(np.searchsorted(self.start, idx, side="right") - 1)
        return part, idx - int(self.start[part])

    def epoch_selection(self, epoch: int, random_seed: int) -> np.ndarray | None:
        if self.sampling is None:
            return None
        parts = []
        for i, (count, dataset) in enumerate(zip(self.sampling, self.datasets)):
            n = dataset.num_seqs
            first, last = (epoch - 1) * count, epoch * count  # positions in the endless stream of passes
            picks = []
            for one_pass in range(first // n, -(-last // n)) if count else []:
                perm = np.random.default_rng(derive_seed(random_seed, "combined", i, one_pass)).permutation(n)
                lo, hi = max(first - one_pass * n, 0), min(last - one_pass * n, n)
                picks.append(perm[lo:hi])
            parts.append(self.start[i] + np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64))
        return np.concatenate(parts).astype(np.int64)

    def for_epoch(self, epoch: int, *, random_seed: int = 0) -> Dataset:
        inner = [d.for_epoch(epoch, random_seed=random_seed) for d in self.datasets]
        if all(a is b for a, b in zip(inner, self.datasets)):
            return self
        view = copy.copy(self)
        view.datasets = inner
        view._lengths = view._all_lengths()
        return view

    @property
    def num_seqs(self) -> int:
        return int(self.start[-1])

    def data_specs(self) -> dict[str, DataSpec]:
        return dict(self._specs)

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return dict(self._lengths)

    def _all_lengths(self) -> dict[str, np.ndarray]:
        out = {k: np.zeros(self.num_seqs, dtype=np.int64) for k in self._specs}
        for i, dataset in enumerate(self.datasets):
            lengths = dataset.seq_lengths()
            for (n, ds_key), key in self.key_of.items():
                if n == self.names[i] and ds_key in lengths:
                    out[key][self.start[i] : self.start[i + 1]] = lengths[ds_key]
        return out

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        part, local = self._locate(idx)
        seq = self.datasets[part].get_seq(local)
        out = {}
        for key, spec in self._specs.items():
            ds_key = next((dk for (n, dk), k in self.key_of.items() if n == self.names[part] and k == key), None)
            if ds_key is None:
                out[key] = np.zeros((0, *spec.feature_shape), dtype=spec.dtype)
            else:
                out[key] = seq[ds_key]
        return out

    def seq_tag(self, idx: int) -> str:
        part, local = self._locate(idx)
        return self.datasets[part].seq_tag(local)

    def describe_seq(self, idx: int) -> str:
        part, local = self._locate(idx)
        return self.datasets[part].describe_seq(local)


DATASETS.register("CombinedDataset", CombinedDataset)
