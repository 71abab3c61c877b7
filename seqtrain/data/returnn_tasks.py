"""RETURNN's generated toy tasks (`Task12AXDataset`, `DummyDataset`, `CopyTaskDataset`), number for number.

RETURNN's demos and tests train on these. RETURNN draws sequence i of an epoch from
`numpy.random.RandomState((seed, i))`, where seed is the (full) epoch plus `random_seed_offset`, or
`fixed_random_seed` when given; so the training data is new every epoch and a dev set with a fixed seed
is the same every epoch. Here a task dataset does the same through `for_epoch(epoch)`: it returns the
epoch's sequences (generated once per epoch and kept; a few ms for the demos' 1000 sequences), which
ordering, batching and the DataLoader workers then all read, so a resumed epoch sees the same data. The
numbers equal RETURNN's bit for bit (tests/data/test_returnn_tasks.py compares with RETURNN itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqtrain.data.dataset import DATASETS, Dataset, DataSpec
from seqtrain.errors import ConfigError


class ReturnnTaskDataset(Dataset):
    """Base: `generate(rng, epoch)` makes one sequence; this class seeds, caches per epoch and describes.

    The object built from the config stands for epoch 1; `for_epoch(e)` gives epoch e's sequences."""

    data_dim: int = 0
    classes_dim: int = 0
    sparse_input: bool = False
    input_dtype: str = "float32"
    target_dtype: str = "int32"

    def __init__(
        self,
        *,
        num_seqs: int,
        fixed_random_seed: int | None = None,
        partition_epoch: int = 1,
        random_seed_offset: int = 0,
        name: str = "generated",
    ) -> None:
        if not isinstance(num_seqs, int) or num_seqs < 1:
            raise ConfigError(f"dataset {name!r}: num_seqs must be an int >= 1, got {num_seqs!r}")
        self.name, self._num_seqs = name, num_seqs
        self.fixed_random_seed, self.partition_epoch, self.random_seed_offset = (
            fixed_random_seed,
            partition_epoch,
            random_seed_offset,
        )
        self.epoch = 1
        self._seqs: list[dict[str, np.ndarray]] | None = None
        self._epochs: dict[int, ReturnnTaskDataset] = {}

    # ------------------------------------------------------------------ RETURNN's randomness

    def generation_seed(self, epoch: int) -> int:
        """RETURNN's `_get_random_seed_for_epoch`: constant over the sub-epochs of one full epoch."""
        if self.fixed_random_seed is not None:
            return int(self.fixed_random_seed)
        full_epoch = (epoch - 1) // self.partition_epoch + 1 if self.partition_epoch > 1 else epoch
        return full_epoch + self.random_seed_offset

    def generate(self, rng: np.random.RandomState, epoch: int) -> dict[str, np.ndarray]:
        raise NotImplementedError  # each task

    # ------------------------------------------------------------------ the epoch's sequences

    def for_epoch(self, epoch: int) -> Dataset:
        seed = self.generation_seed(epoch)
        if seed == self.generation_seed(self.epoch):
            return self
        if epoch not in self._epochs:
            copy = object.__new__(type(self))
            copy.__dict__.update({**self.__dict__, "epoch": epoch, "_seqs": None, "_epochs": {}})
            self._epochs = {epoch: copy}  # keep one: epochs come one after another
        return self._epochs[epoch]

    def _all(self) -> list[dict[str, np.ndarray]]:
        if self._seqs is None:
            seed = self.generation_seed(self.epoch)
            self._seqs = [self.generate(np.random.RandomState((seed, i)), self.epoch) for i in range(self._num_seqs)]
        return self._seqs

    @property
    def num_seqs(self) -> int:
        return self._num_seqs

    def data_specs(self) -> dict[str, DataSpec]:
        if self.sparse_input:
            data = DataSpec(dim=self.data_dim, dtype=self.input_dtype, sparse=True)
        else:
            data = DataSpec(dim=self.data_dim, dtype=self.input_dtype, feature_shape=(self.data_dim,))
        return {"data": data, "classes": DataSpec(dim=self.classes_dim, dtype=self.target_dtype, sparse=True)}

    def seq_lengths(self) -> dict[str, np.ndarray]:
        seqs = self._all()
        return {key: np.array([len(s[key]) for s in seqs], dtype=np.int64) for key in ("data", "classes")}

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        return self._all()[idx]

    def seq_tag(self, idx: int) -> str:
        return f"seq-{idx}"  # RETURNN's tags of generated sequences

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _one_hot(labels: list[int], num_classes: int) -> np.ndarray:
    """RETURNN's `class_idx_seq_to_1_of_k` (float32)."""
    out = np.zeros((len(labels), num_classes), dtype="float32")
    out[np.arange(len(labels)), labels] = 1
    return out


class Task12AXDataset(ReturnnTaskDataset):
    """The 12AX memory task: inputs over "123ABCXYZ" (one-hot), target "R" exactly after 1..A..X or 2..B..Y."""

    INPUTS, OUTPUTS = "123ABCXYZ", "LR"
    data_dim, classes_dim = 9, 2

    def generate(self, rng: np.random.RandomState, epoch: int) -> dict[str, np.ndarray]:
        length = rng.randint(10, 100)
        text = rng.choice(["", "1", "2"])
        while len(text) < length:  # RETURNN's (made-up) distribution, draw for draw
            if rng.uniform() < 0.5:
                text += rng.choice(list("12"))
            if rng.uniform() < 0.9:
                text += rng.choice(["AX", "BY"])
            while rng.uniform() < 0.5:
                text += rng.choice(list(self.INPUTS))
        inputs = [self.INPUTS.index(c) for c in text[:length]]
        return {"data": _one_hot(inputs, 9), "classes": np.array(self.targets(inputs), dtype="int32")}

    @classmethod
    def targets(cls, inputs: list[int]) -> list[int]:
        outer = inner = ""
        out = []
        for i in inputs:
            c, label = cls.INPUTS[i], 0
            if c in "12":
                outer = c
            elif c in "AB":
                inner = c
            elif c in "XY":
                label = int(outer + inner + c in ("1AX", "2BY"))
                inner = ""
            out.append(label)
        return out


class DummyDataset(ReturnnTaskDataset):
    """RETURNN's meaningless dummy data: a ramp of dense inputs and cycling labels, same for every epoch."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        num_seqs: int,
        *,
        seq_len: int = 2,
        input_max_value: float = 10.0,
        input_shift: float | None = None,
        input_scale: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_seqs=num_seqs, **kwargs)
        if not isinstance(output_dim, int):
            raise ConfigError(f"dataset {self.name!r}: DummyDataset takes an int output_dim here, got {output_dim!r}")
        self.data_dim, self.classes_dim, self.seq_len = input_dim, output_dim, seq_len
        self.input_max_value = input_max_value
        self.input_shift = -input_max_value / 2.0 if input_shift is None else input_shift
        self.input_scale = 1.0 / input_max_value if input_scale is None else input_scale

    def generation_seed(self, epoch: int) -> int:
        return 0  # nothing random: one set of sequences

    def _all(self) -> list[dict[str, np.ndarray]]:
        if self._seqs is None:
            self._seqs = [self._make(i) for i in range(self._num_seqs)]
        return self._seqs

    def generate(self, rng: np.random.RandomState, epoch: int) -> dict[str, np.ndarray]:
        raise AssertionError("DummyDataset is deterministic")

    def _make(self, idx: int) -> dict[str, np.ndarray]:
        first, last = idx, idx + self.seq_len * self.data_dim
        values = [((i % self.input_max_value) + self.input_shift) * self.input_scale for i in range(first, last)]
        features = np.array(values, dtype="float32").reshape((self.seq_len, self.data_dim))
        labels = np.array([i % self.classes_dim for i in range(last, last + self.seq_len)], dtype="int32")
        return {"data": features, "classes": labels}


class CopyTaskDataset(ReturnnTaskDataset):
    """Copy task: a random label sequence is both input and target; lengths may grow with the epoch."""

    sparse_input = True
    input_dtype = target_dtype = "int8"

    def __init__(
        self,
        nsymbols: int,
        *,
        num_seqs: int,
        minlen: int = 0,
        maxlen: int = 0,
        minlen_epoch_factor: float = 0,
        maxlen_epoch_factor: float = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_seqs=num_seqs, **kwargs)
        if not 1 <= nsymbols <= 256:
            raise ConfigError(f"dataset {self.name!r}: nsymbols must be in 1..256, got {nsymbols!r}")
        self.data_dim = self.classes_dim = nsymbols
        self.minlen, self.maxlen = minlen, maxlen
        self.minlen_epoch_factor, self.maxlen_epoch_factor = minlen_epoch_factor, maxlen_epoch_factor
        self._length_range(1)  # fails at construction, not in a worker

    def _length_range(self, epoch: int) -> tuple[int, int]:
        low = int(self.minlen + self.minlen_epoch_factor * epoch)
        high = int(self.maxlen + self.maxlen_epoch_factor * epoch)
        if not 0 < low <= high:
            raise ConfigError(
                f"dataset {self.name!r}: epoch {epoch} gives lengths {low}..{high}; "
                "minlen(+factor*epoch) must be >= 1 and <= maxlen(+factor*epoch)"
            )
        return low, high

    def for_epoch(self, epoch: int) -> Dataset:
        if self.minlen_epoch_factor or self.maxlen_epoch_factor:
            self._length_range(epoch)
            if epoch != self.epoch and self.fixed_random_seed is not None:  # same seed, other lengths
                copy = object.__new__(type(self))
                copy.__dict__.update({**self.__dict__, "epoch": epoch, "_seqs": None, "_epochs": {}})
                return copy
        return super().for_epoch(epoch)

    def generate(self, rng: np.random.RandomState, epoch: int) -> dict[str, np.ndarray]:
        low, high = self._length_range(epoch)
        length = rng.randint(low, high + 1)
        labels = np.array([rng.randint(0, self.data_dim) for _ in range(length)], dtype="int8")
        return {"data": labels, "classes": labels}


DATASETS.register("Task12AXDataset", Task12AXDataset)
DATASETS.register("DummyDataset", DummyDataset)
DATASETS.register("CopyTaskDataset", CopyTaskDataset)
