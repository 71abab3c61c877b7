"""RETURNN's dummy datasets, number for number: deterministic ramps without meaning, for smoke tests.

Sequence i's values continue a counter that starts at i: dense values are `((n % input_max_value) + input_shift)
* input_scale`, sparse labels `n % dim`. Nothing is random, so every epoch has the same sequences (`for_epoch`
is the dataset itself); `seq_ordering`, `fixed_random_seed` and the other epoch options still order them.
The dtypes are RETURNN's: `DummyDataset` float32/int32, the two variants float64/int64.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from seqtrain.data.dataset import DATASETS, DataSpec
from seqtrain.data.returnn_tasks import ReturnnTaskDataset, dense_spec, sparse_spec
from seqtrain.errors import ConfigError


def _data_dims(output_dim: Any, where: str) -> dict[str, tuple[int, int]]:
    """RETURNN's `convert_data_dims`: an int is the classes' dim; a dict maps keys to a dim or (dim, ndim)."""
    if isinstance(output_dim, int):
        output_dim = {"classes": output_dim}
    if not isinstance(output_dim, dict):
        raise ConfigError(f"{where}: output_dim must be an int or a dict key -> dim or (dim, ndim), got {output_dim!r}")
    dims = {}
    for key, value in output_dim.items():
        if isinstance(value, int):
            value = (value, 2 if key == "data" else 1)
        if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value)):
            raise ConfigError(f"{where}: output_dim[{key!r}] must be a dim or (dim, ndim) with ints, got {value!r}")
        if value[1] not in (1, 2):
            raise ConfigError(f"{where}: output_dim[{key!r}] = {value!r}: ndim 1 (sparse) or 2 (dense) only")
        dims[key] = (value[0], value[1])
    return dims


class _Ramp(ReturnnTaskDataset):
    """The shared counter and value formula."""

    def __init__(
        self, num_seqs: int, input_max_value: float, input_shift: float | None, input_scale: float | None, name: str
    ) -> None:
        super().__init__(num_seqs=num_seqs, name=name)
        self.input_max_value = input_max_value
        self.input_shift = -input_max_value / 2.0 if input_shift is None else input_shift
        self.input_scale = 1.0 / input_max_value if input_scale is None else input_scale

    def epoch_key(self, epoch: int) -> Hashable:
        return None  # the same sequences every epoch

    def values(self, start: int, stop: int) -> list[float]:
        return [((n % self.input_max_value) + self.input_shift) * self.input_scale for n in range(start, stop)]


class DummyDataset(_Ramp):
    """Dense input [seq_len, input_dim] (float32), labels [seq_len] (int32) over `output_dim` classes."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int | dict[str, Any],
        num_seqs: int,
        seq_len: int = 2,
        input_max_value: float = 10.0,
        input_shift: float | None = None,
        input_scale: float | None = None,
        *,
        name: str = "dummy",
    ) -> None:
        super().__init__(num_seqs, input_max_value, input_shift, input_scale, name)
        where = f"dataset {name!r}"
        dims = _data_dims(output_dim, where)
        if "classes" not in dims:
            raise ConfigError(f"{where}: output_dim must give the classes' dim, got {output_dim!r}")
        if not isinstance(input_dim, int) or input_dim < 1 or not isinstance(seq_len, int) or seq_len < 1:
            raise ConfigError(f"{where}: input_dim and seq_len must be ints >= 1, got {input_dim!r}, {seq_len!r}")
        self.input_dim, self.num_classes, self.seq_len = input_dim, dims["classes"][0], seq_len

    def data_specs(self) -> dict[str, DataSpec]:
        return {"data": dense_spec(self.input_dim), "classes": sparse_spec(self.num_classes, "int32")}

    def make_seq(self, idx: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        stop = idx + self.seq_len * self.input_dim
        data = np.array(self.values(idx, stop), dtype="float32").reshape((self.seq_len, self.input_dim))
        labels = np.array([n % self.num_classes for n in range(stop, stop + self.seq_len)], dtype="int32")
        return {"data": data, "classes": labels}


class DummyDatasetMultipleSequenceLength(DummyDataset):
    """`DummyDataset` with its own length per key: `seq_len={"data": 10, "classes": 20}` (float64/int64)."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int | dict[str, Any],
        num_seqs: int,
        seq_len: dict[str, int] | None = None,
        input_max_value: float = 10.0,
        input_shift: float | None = None,
        input_scale: float | None = None,
        *,
        name: str = "dummy",
    ) -> None:
        lengths = {"data": 10, "classes": 20} if seq_len is None else seq_len
        if not isinstance(lengths, dict) or set(lengths) != {"data", "classes"}:
            raise ConfigError(f"dataset {name!r}: seq_len must be a dict with 'data' and 'classes', got {seq_len!r}")
        # seq_len=1 only passes the base's check; `self.lengths` sets the lengths
        super().__init__(input_dim, output_dim, num_seqs, 1, input_max_value, input_shift, input_scale, name=name)
        self.lengths = dict(lengths)

    def data_specs(self) -> dict[str, DataSpec]:
        return {"data": dense_spec(self.input_dim, "float64"), "classes": sparse_spec(self.num_classes)}

    def make_seq(self, idx: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        frames, labels = self.lengths["data"], self.lengths["classes"]
        stop = idx + frames * self.input_dim
        data = np.array(self.values(idx, stop), dtype="float64").reshape((frames, self.input_dim))
        classes = np.array([n % self.num_classes for n in range(stop, stop + labels)], dtype="int64")
        return {"data": data, "classes": classes}


class DummyDatasetMultipleDataKeys(_Ramp):
    """Any data keys: `output_dim={"data": (40, 2), "classes": (10, 1), ...}` (ndim 1: sparse int64, 2: dense
    float64), `seq_len` one int for all keys or a dict per key (default 20); the counter runs on over the keys."""

    def __init__(
        self,
        output_dim: dict[str, Any],
        num_seqs: int,
        seq_len: int | dict[str, int] | None = None,
        input_max_value: float = 10.0,
        input_shift: float | None = None,
        input_scale: float | None = None,
        data_keys: list[str] | None = None,
        *,
        name: str = "dummy",
    ) -> None:
        super().__init__(num_seqs, input_max_value, input_shift, input_scale, name)
        where = f"dataset {name!r}"
        self.keys = list(data_keys) if data_keys is not None else ["data", "classes"]
        if not isinstance(output_dim, dict):
            raise ConfigError(f"{where}: output_dim must be a dict with an entry per data key, got {output_dim!r}")
        self.dims = _data_dims(output_dim, where)
        lengths = seq_len if isinstance(seq_len, dict) else {k: 20 if seq_len is None else seq_len for k in self.keys}
        for what, keys in (("output_dim", self.dims), ("seq_len", lengths)):
            if set(keys) != set(self.keys):
                raise ConfigError(f"{where}: the keys of {what} ({sorted(keys)}) must be data_keys {sorted(self.keys)}")
        self.lengths = dict(lengths)

    def data_specs(self) -> dict[str, DataSpec]:
        return {
            key: sparse_spec(dim) if ndim == 1 else dense_spec(dim, "float64")
            for key, (dim, ndim) in ((k, self.dims[k]) for k in self.keys)
        }

    def make_seq(self, idx: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        seq, start = {}, idx
        for key in self.keys:
            (dim, ndim), frames = self.dims[key], self.lengths[key]
            if ndim == 1:
                stop = start + frames
                seq[key] = np.array([n % dim for n in range(start, stop)], dtype="int64")
            else:
                stop = start + frames * dim
                seq[key] = np.array(self.values(start, stop), dtype="float64").reshape((frames, dim))
            start = stop
        return seq


for _cls in (DummyDataset, DummyDatasetMultipleSequenceLength, DummyDatasetMultipleDataKeys):
    DATASETS.register(_cls.__name__, _cls)
