"""`NumpyDataset`: sequences already in memory (RETURNN's StaticDataset), for tests, notebooks, small tasks.

    train = {"class": "NumpyDataset", "seqs": [{"data": x0, "classes": y0}, {"data": x1, "classes": y1}],
             "dims": {"classes": 10}}

Specs are derived from the arrays: integer 1-D data is sparse with dim = `dims[key]` (default: largest
label + 1), everything else dense with its feature shape. All sequences must have the same keys, dtypes
and feature shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seqtrain.data.dataset import DATASETS, Dataset, DataSpec
from seqtrain.errors import DataError


class NumpyDataset(Dataset):
    def __init__(
        self,
        seqs: Sequence[Mapping[str, np.ndarray]],
        *,
        tags: Sequence[str] | None = None,
        dims: Mapping[str, int] | None = None,
        vocabs: Mapping[str, Sequence[str]] | None = None,
        name: str = "numpy",
    ) -> None:
        self.name = name
        if not seqs:
            raise DataError(f"dataset {name!r}: NumpyDataset needs at least one sequence")
        self.seqs = [{k: np.asarray(v) for k, v in s.items()} for s in seqs]
        if tags is not None and len(tags) != len(self.seqs):
            raise DataError(f"dataset {name!r}: {len(tags)} tags for {len(self.seqs)} sequences")
        self.tags = list(tags) if tags is not None else [f"{name}-{i}" for i in range(len(self.seqs))]
        self._specs = self._derive_specs(dict(dims or {}), dict(vocabs or {}))
        self._lengths = {k: np.array([s[k].shape[0] for s in self.seqs], dtype=np.int64) for k in self._specs}

    def _derive_specs(self, dims: dict[str, int], vocabs: dict[str, Sequence[str]]) -> dict[str, DataSpec]:
        first = self.seqs[0]
        for tag, seq in zip(self.tags, self.seqs):
            if set(seq) != set(first):
                raise DataError(f"dataset {self.name!r}: sequence {tag!r} has keys {sorted(seq)}, not {sorted(first)}")
        specs = {}
        for key, arr in first.items():
            if arr.ndim == 0:
                raise DataError(f"dataset {self.name!r}: data key {key!r} of sequence {self.tags[0]!r} is a scalar")
            sparse = arr.ndim == 1 and arr.dtype.kind in "iub"
            for tag, seq in zip(self.tags, self.seqs):
                other = seq[key]
                if other.dtype != arr.dtype or other.shape[1:] != arr.shape[1:]:
                    raise DataError(
                        f"dataset {self.name!r}: data key {key!r} of sequence {tag!r} is {other.dtype} "
                        f"{other.shape}, the first sequence has {arr.dtype} [T, {', '.join(map(str, arr.shape[1:]))}]"
                    )
            if sparse and key in dims:
                dim = int(dims[key])
            elif sparse:
                dim = len(vocabs[key]) if key in vocabs else 1 + max(int(s[key].max(initial=0)) for s in self.seqs)
            else:
                dim = int(arr.shape[-1]) if arr.ndim > 1 else 1
            vocab = tuple(vocabs[key]) if key in vocabs else None
            specs[key] = DataSpec(
                dim=dim, dtype=str(arr.dtype), sparse=sparse, feature_shape=arr.shape[1:], vocab=vocab
            )
        return specs

    @property
    def num_seqs(self) -> int:
        return len(self.seqs)

    def data_specs(self) -> dict[str, DataSpec]:
        return dict(self._specs)

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return dict(self._lengths)

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        return self.seqs[idx]

    def seq_tag(self, idx: int) -> str:
        return self.tags[idx]


DATASETS.register("NumpyDataset", NumpyDataset)
