"""RETURNN's generated toy tasks, number for number: the base class, `Task12AXDataset` and `CopyTaskDataset`.

RETURNN's demos and tests train on these (more tasks: returnn_memory_tasks.py, returnn_dummy.py). RETURNN draws
sequence i of an epoch from `numpy.random.RandomState((seed, i))`, where seed is the full epoch's number plus
`random_seed_offset`, or `fixed_random_seed` when given (data/epoch_seed.py, the formula the shuffle uses
too); so the training data is new every full epoch and a dev set with a fixed seed is the same every epoch.
Here a task dataset does the same through `for_epoch(epoch)`: it returns the epoch's sequences (generated on
first use and kept with that epoch's object; 0.2-0.6 s for the demos' 1000 to 10000 sequences), which ordering,
batching and the DataLoader workers then all read, so a resumed epoch sees the same data. The numbers and
dtypes equal RETURNN's bit for bit (tests/data/test_returnn_tasks.py compares with RETURNN itself).
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from seqtrain.data.dataset import DATASETS, Dataset, DataSpec
from seqtrain.data.epoch_seed import returnn_epoch_seed
from seqtrain.errors import ConfigError


class ReturnnTaskDataset(Dataset):
    """Base: `make_seq(idx, rng)` makes sequence `idx` of epoch `self.epoch`; this class seeds and keeps them.

    The object built from the config stands for epoch 1; `for_epoch(e)` is the object of epoch e (itself when
    e's sequences are the same)."""

    def __init__(
        self,
        *,
        num_seqs: int,
        fixed_random_seed: int | None = None,
        partition_epoch: int = 1,
        random_seed_offset: int = 0,
        name: str = "generated",
    ) -> None:
        if not isinstance(num_seqs, int) or isinstance(num_seqs, bool) or num_seqs < 1:
            raise ConfigError(
                f"dataset {name!r}: num_seqs must be an int >= 1 (RETURNN's endless default is not supported), "
                f"got {num_seqs!r}"
            )
        self.name, self._num_seqs = name, num_seqs
        self.fixed_random_seed, self.partition_epoch = fixed_random_seed, partition_epoch
        self.random_seed_offset = random_seed_offset
        self.epoch = 1
        self._seqs: list[dict[str, np.ndarray]] | None = None
        self._other_epoch: ReturnnTaskDataset | None = None

    def make_seq(self, idx: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        """Sequence `idx` of epoch `self.epoch`, drawn from `rng` exactly as RETURNN's `generate_seq` draws."""
        raise NotImplementedError

    # ------------------------------------------------------------------ which epochs share their sequences

    def generation_seed(self, epoch: int) -> int:
        """RETURNN's `_get_random_seed_for_epoch`: constant over the sub-epochs of one full epoch."""
        return returnn_epoch_seed(
            epoch,
            partition_epoch=self.partition_epoch,
            offset=self.random_seed_offset,
            fixed_random_seed=self.fixed_random_seed,
        )

    def epoch_key(self, epoch: int) -> Hashable:
        """What the sequences of `epoch` depend on: epochs with equal keys have equal sequences."""
        return self.generation_seed(epoch)

    def for_epoch(self, epoch: int, *, random_seed: int = 0) -> Dataset:  # RETURNN: the epoch alone seeds
        key = self.epoch_key(epoch)
        if key == self.epoch_key(self.epoch):
            return self
        other = self._other_epoch
        if other is None or other.epoch_key(other.epoch) != key:
            other = copy.copy(self)
            other.epoch, other._seqs, other._other_epoch = epoch, None, None
            self._other_epoch = other  # one kept: epochs come one after another
        return other

    # ------------------------------------------------------------------ the Dataset protocol

    def _all(self) -> list[dict[str, np.ndarray]]:
        if self._seqs is None:
            seed, rng = self.generation_seed(self.epoch), np.random.RandomState()
            seqs = []
            for i in range(self._num_seqs):
                rng.seed((seed, i))  # as RETURNN seeds; 10x faster than a new RandomState per sequence
                seqs.append(self.make_seq(i, rng))
            self._seqs = seqs
        return self._seqs

    @property
    def num_seqs(self) -> int:
        return self._num_seqs

    def seq_lengths(self) -> dict[str, np.ndarray]:
        seqs = self._all()
        return {key: np.array([len(s[key]) for s in seqs], dtype=np.int64) for key in self.data_specs()}

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        return self._all()[idx]

    def seq_tag(self, idx: int) -> str:
        return f"seq-{idx}"  # RETURNN's tags of generated sequences

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_other_epoch"] = None  # a worker gets the one epoch it reads
        return state


def pick(rng: np.random.RandomState, items: Sequence[str]) -> str:
    """`rng.choice(items)` draw for draw (numpy's choice without `p` draws `randint(0, len)`), without its overhead."""
    return items[rng.randint(0, len(items))]


def one_hot(labels: Sequence[int], num_classes: int) -> np.ndarray:
    """RETURNN's `class_idx_seq_to_1_of_k`: float32 [T, num_classes]."""
    out = np.zeros((len(labels), num_classes), dtype="float32")
    out[np.arange(len(labels)), list(labels)] = 1
    return out


def dense_spec(dim: int, dtype: str = "float32") -> DataSpec:
    return DataSpec(dim=dim, dtype=dtype, feature_shape=(dim,))


def sparse_spec(dim: int, dtype: str = "int64", vocab: Sequence[str] | None = None) -> DataSpec:
    return DataSpec(dim=dim, dtype=dtype, sparse=True, vocab=tuple(vocab) if vocab is not None else None)


class Task12AXDataset(ReturnnTaskDataset):
    """The 12AX memory task: inputs over "123ABCXYZ" (one-hot), target "R" exactly after 1..A..X or 2..B..Y."""

    INPUTS, OUTPUTS = "123ABCXYZ", "LR"

    def data_specs(self) -> dict[str, DataSpec]:
        return {"data": dense_spec(9), "classes": sparse_spec(2, "int32")}

    def make_seq(self, idx: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        length = rng.randint(10, 100)
        text = pick(rng, ["", "1", "2"])
        while len(text) < length:  # RETURNN's (made-up) distribution, draw for draw
            if rng.uniform() < 0.5:
                text += pick(rng, "12")
            if rng.uniform() < 0.9:
                text += pick(rng, ["AX", "BY"])
            while rng.uniform() < 0.5:
                text += pick(rng, self.INPUTS)
        inputs = [self.INPUTS.index(c) for c in text[:length]]
        return {"data": one_hot(inputs, 9), "classes": np.array(self.targets(inputs), dtype="int32")}

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


class CopyTaskDataset(ReturnnTaskDataset):
    """Copy task: a random label sequence is both input and target; lengths may grow with the epoch."""

    def __init__(
        self,
        nsymbols: int,
        minlen: int = 0,
        maxlen: int = 0,
        minlen_epoch_factor: float = 0,
        maxlen_epoch_factor: float = 0,
        **base: Any,  # ReturnnTaskDataset's options (num_seqs, ...): the factory checks them there
    ) -> None:
        super().__init__(**base)
        name = self.name
        if not isinstance(nsymbols, int) or not 1 <= nsymbols <= 256:
            raise ConfigError(f"dataset {name!r}: nsymbols must be an int in 1..256, got {nsymbols!r}")
        self.nsymbols = nsymbols
        self.minlen, self.maxlen = minlen, maxlen
        self.minlen_epoch_factor, self.maxlen_epoch_factor = minlen_epoch_factor, maxlen_epoch_factor
        self.length_range(1)  # fails at construction, not in a worker

    def data_specs(self) -> dict[str, DataSpec]:
        return {"data": sparse_spec(self.nsymbols, "int8"), "classes": sparse_spec(self.nsymbols, "int8")}

    def length_range(self, epoch: int) -> tuple[int, int]:
        """RETURNN's lengths of (sub-)epoch `epoch`: minlen + minlen_epoch_factor * epoch .. the same for max."""
        low = int(self.minlen + self.minlen_epoch_factor * epoch)
        high = int(self.maxlen + self.maxlen_epoch_factor * epoch)
        if not 0 < low <= high:
            raise ConfigError(
                f"dataset {self.name!r}: epoch {epoch} gives lengths {low}..{high}; "
                "minlen(+minlen_epoch_factor*epoch) must be >= 1 and <= maxlen(+maxlen_epoch_factor*epoch)"
            )
        return low, high

    def epoch_key(self, epoch: int) -> Hashable:
        if self.minlen_epoch_factor or self.maxlen_epoch_factor:
            return self.generation_seed(epoch), self.length_range(epoch)
        return self.generation_seed(epoch)

    def make_seq(self, idx: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        low, high = self.length_range(self.epoch)
        length = rng.randint(low, high + 1)
        labels = np.array([rng.randint(0, self.nsymbols) for _ in range(length)], dtype="int8")
        return {"data": labels, "classes": labels}


DATASETS.register("Task12AXDataset", Task12AXDataset)
DATASETS.register("CopyTaskDataset", CopyTaskDataset)
