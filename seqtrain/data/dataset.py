"""The dataset protocol: what seqtrain needs from any source of sequences.

A dataset is a random-access list of sequences. Ordering and batching only need the lengths, so
`seq_lengths()` must be cheap (no feature reads); `get_seq` loads one sequence. That is all a custom
dataset implements; epochs, shuffling, filtering and batching are done for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class DataSpec:
    """Shape and type of one data key, per sequence: [time, *feature_shape] (time omitted if not time_axis).

    `dim` is the feature dimension of dense data, or the number of classes of sparse data.
    """

    dim: int | None
    dtype: str = "float32"
    sparse: bool = False
    feature_shape: tuple[int, ...] = ()
    time_axis: bool = True
    vocab: tuple[str, ...] | None = field(default=None, compare=False)

    def describe(self) -> str:
        kind = "sparse" if self.sparse else "dense"
        return f"{kind} dim={self.dim} dtype={self.dtype} shape=[T{''.join(f', {d}' for d in self.feature_shape)}]"


class Dataset(ABC):
    """Random access to sequences: lengths without loading, one sequence at a time, tags."""

    name: str = "dataset"

    @property
    @abstractmethod
    def num_seqs(self) -> int:
        """Number of sequences (before any epoch-wise filtering)."""

    @abstractmethod
    def data_specs(self) -> dict[str, DataSpec]:
        """The data keys this dataset provides."""

    @abstractmethod
    def seq_lengths(self) -> dict[str, np.ndarray]:
        """Per data key, an int array [num_seqs] of sequence lengths; must not read the data itself."""

    @abstractmethod
    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        """Loads sequence `idx`: per data key an array [time, *feature_shape] (sparse: [time] of ints)."""

    def seq_tag(self, idx: int) -> str:
        """A stable name of the sequence (e.g. the utterance id) for logs, errors and alignments."""
        return f"{self.name}/seq-{idx}"

    def labels(self, key: str) -> list[str] | None:
        """The vocabulary of a sparse data key, if the dataset knows it."""
        spec = self.data_specs().get(key)
        return list(spec.vocab) if spec is not None and spec.vocab is not None else None

    def __getstate__(self) -> dict:
        # Datasets travel to DataLoader workers; subclasses drop open file handles in their own state.
        return self.__dict__.copy()
