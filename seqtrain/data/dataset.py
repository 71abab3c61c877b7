"""The dataset protocol: what seqtrain needs from any source of sequences.

A dataset is a random-access list of sequences. Ordering and batching only need the lengths, so
`seq_lengths()` must be cheap (no feature reads); `get_seq` loads one sequence. That is all a custom
dataset implements; epochs, shuffling, filtering, chunking and batching are done for it:

    class MyDataset(seqtrain.data.dataset.Dataset):
        def __init__(self, n: int = 100, name: str = "mine"):   # options come from the config dict
            self.name, self.n = name, n
        @property
        def num_seqs(self): return self.n
        def data_specs(self): return {"data": DataSpec(dim=40, feature_shape=(40,)),
                                      "classes": DataSpec(dim=10, dtype="int32", sparse=True)}
        def seq_lengths(self): return {"data": ..., "classes": ...}   # int arrays [num_seqs]
        def get_seq(self, idx): return {"data": ..., "classes": ...}  # [T, 40] float32, [L] int32

    train = {"class": MyDataset, "n": 1000, "seq_ordering": "laplace:.100"}

The object travels to DataLoader worker processes (forked, so a class defined in the config file works):
open files lazily in `get_seq` and drop handles in `__getstate__`, as `HDFDataset` does. Randomness
inside `get_seq` (augmentation) should use numpy/torch's global generators, which seqtrain seeds per
batch from (random_seed, epoch, batch, rank), or, better (independent of batching), a generator seeded per
sequence from what `for_epoch(epoch, random_seed=...)` gives, as `AudioDataset`'s `augment` does.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from seqtrain.data.vocab import Vocabulary
from seqtrain.registry import Registry


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

    def get_data(self, idx: int, key: str) -> np.ndarray:
        """One data key of sequence `idx`; datasets that can read a key alone (HDF) override this."""
        return self.get_seq(idx)[key]

    def seq_tag(self, idx: int) -> str:
        """A stable name of the sequence (e.g. the utterance id) for logs, errors and alignments."""
        return f"{self.name}/seq-{idx}"

    def labels(self, key: str) -> list[str] | None:
        """The vocabulary of a sparse data key, if the dataset knows it."""
        spec = self.data_specs().get(key)
        return list(spec.vocab) if spec is not None and spec.vocab is not None else None

    def vocabulary(self, key: str) -> Vocabulary | None:
        """The Vocabulary object that made a sparse key's labels, if the dataset has one: `seqtrain recog` turns
        labels back into words with it (a `LexiconVocab`'s phonemes only read as words through their lexicon)."""
        return None

    def describe_seq(self, idx: int) -> str:
        """Where a sequence comes from, for error messages (datasets reading files name the file)."""
        return f"sequence {self.seq_tag(idx)!r} (index {idx}) of dataset {self.name!r}"

    def epoch_selection(self, epoch: int, random_seed: int) -> np.ndarray | None:
        """The sequences (indices, repeats allowed) an epoch draws from before ordering; None = all.

        Only datasets that sample per epoch (e.g. `CombinedDataset` with `sampling_sizes`) override this.
        """
        return None

    def for_epoch(self, epoch: int, *, random_seed: int = 0) -> Dataset:
        """The dataset as epoch `epoch` of a run with `random_seed` sees it. Most datasets are the same every
        epoch (self); RETURNN's generated tasks draw new sequences per epoch (data/returnn_tasks.py), an
        augmenting `AudioDataset` new transforms (with new lengths after speed perturbation). Planning the epoch
        and loading its batches both go through this, so lengths, order and the workers' data agree. It must be
        a pure function of (`epoch`, `random_seed`) and the constructor's options (a resumed run builds the
        dataset again and asks for the epoch), and cheap when called again for the same epoch (keep the epoch's
        object). Datasets wrapping others (meta, combined, subsets) pass it on."""
        return self

    def __getstate__(self) -> dict:
        # Datasets travel to DataLoader workers; subclasses drop open file handles in their own state.
        return self.__dict__.copy()


# Shipped classes register themselves in their modules, imported on the first lookup (not before: AudioDataset
# loads kaldi-native-fbank and soundfile).
_BUILTIN_MODULES = (
    "hdf", "numpy_ds", "generating", "returnn_tasks", "returnn_memory_tasks", "returnn_dummy", "returnn_static",
    "meta", "combined", "audio",
)  # fmt: skip


def _import_builtin_datasets() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"seqtrain.data.{module}")


DATASETS: Registry[type[Dataset]] = Registry(
    "dataset class",
    hint="or give a Dataset subclass as 'class' (seqtrain.data.dataset.DATASETS.register(name, cls) names it)",
    load=_import_builtin_datasets,
)
