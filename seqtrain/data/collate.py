"""One batch: load its sequences, cut their chunk windows, check them, pad them into tensors.

Runs in DataLoader workers. Every check names the sequence (and, for files, the file), because a bad
sequence in a corpus of a million is otherwise impossible to find: a length that disagrees with what
`seq_lengths()` promised (batching relied on it), a wrong feature shape, a label outside the vocabulary.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqtrain.data.batching import BatchSpec
from seqtrain.data.dataset import Dataset, DataSpec
from seqtrain.errors import DataError, SeqtrainError


@dataclass
class Batch:
    """Padded tensors [B, T, ...] per data key, their lengths (int32, CPU), and the sequences' tags."""

    data: dict[str, torch.Tensor]
    lengths: dict[str, torch.Tensor]
    seq_tags: list[str]
    seq_indices: list[int]

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.data[key]

    def __contains__(self, key: str) -> bool:
        return key in self.data

    @property
    def num_seqs(self) -> int:
        return len(self.seq_tags)

    def num_frames(self, key: str = "data") -> int:
        return int(self.lengths[key].sum())

    def to(self, device: torch.device | str) -> Batch:
        """Moves the data; lengths stay on the CPU, where pack_padded_sequence and CTC want them."""
        data = {k: v.to(device, non_blocking=True) for k, v in self.data.items()}
        return Batch(data, self.lengths, self.seq_tags, self.seq_indices)

    def pin_memory(self) -> Batch:
        """Called by the DataLoader's pinning thread when training on a GPU."""
        return Batch({k: v.pin_memory() for k, v in self.data.items()}, self.lengths, self.seq_tags, self.seq_indices)


def pad(seqs: Sequence[np.ndarray], dtype: str) -> np.ndarray:
    """Stacks [T_i, ...] arrays into [B, max T, ...], zero padded."""
    max_len = max((s.shape[0] for s in seqs), default=0)
    out = np.zeros((len(seqs), max_len, *seqs[0].shape[1:]), dtype=dtype)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
    return out


class SeqChecker:
    """What a loaded sequence must look like: the planned lengths, the dataset's declared shapes, and labels
    inside the vocabulary. A dataset may not know its vocabulary size (dim None): then the dim `extern_data`
    declares bounds the labels, so a label the model has no output for fails here, not silently in a loss."""

    def __init__(self, dataset: Dataset, keys: Sequence[str], declared: Mapping[str, DataSpec] | None = None) -> None:
        self.dataset = dataset
        self.lengths = dataset.seq_lengths()
        self.specs: dict[str, DataSpec | None] = {k: dataset.data_specs().get(k) for k in keys}
        self.label_dims: dict[str, tuple[int, str]] = {}  # sparse key -> (vocabulary size, who declares it)
        for key, spec in self.specs.items():
            want = declared.get(key) if declared is not None else None
            if spec is not None and spec.sparse and spec.dim:
                self.label_dims[key] = (int(spec.dim), "the vocabulary")
            elif want is not None and want.sparse and want.dim:
                self.label_dims[key] = (int(want.dim), f"extern_data[{key!r}] dim")

    def check(self, idx: int, key: str, arr: np.ndarray) -> None:
        spec = self.specs[key]
        if spec is not None and not spec.time_axis:
            return
        where = f"data key {key!r} of {self.dataset.describe_seq(idx)}"
        if arr.ndim == 0:
            raise DataError(f"{where}: a scalar, expected an array with a time axis")
        if key in self.lengths and arr.shape[0] != int(self.lengths[key][idx]):
            raise DataError(
                f"{where}: get_seq returned {arr.shape[0]} frames but seq_lengths() says "
                f"{int(self.lengths[key][idx])}; the dataset's lengths are inconsistent with its data"
            )
        if spec is None:
            return
        if spec.sparse:
            if arr.ndim != 1 or arr.dtype.kind not in "iub":
                raise DataError(f"{where}: sparse data must be 1-D integer labels, got {arr.dtype} {arr.shape}")
            dim, source = self.label_dims.get(key, (0, ""))
            if arr.size and dim and (int(arr.min()) < 0 or int(arr.max()) >= dim):
                bad = int(arr.max()) if int(arr.max()) >= dim else int(arr.min())
                raise DataError(
                    f"{where}: label {bad} is outside {source} [0, {dim}); fix the data or declare the right dim"
                )
        elif spec.feature_shape and arr.shape[1:] != spec.feature_shape:
            raise DataError(f"{where}: feature shape {arr.shape[1:]}, the dataset declares {spec.feature_shape}")


def _load(dataset: Dataset, idx: int) -> dict[str, np.ndarray]:
    try:
        return dataset.get_seq(idx)
    except SeqtrainError:
        raise
    except Exception as e:
        frame = traceback.extract_tb(e.__traceback__)[-1]
        raise DataError(
            f"loading {dataset.describe_seq(idx)} failed: {type(e).__name__}: {e} (at {frame.filename}:{frame.lineno})"
        ) from e


def collate(dataset: Dataset, spec: BatchSpec, dtypes: dict[str, str], checker: SeqChecker | None = None) -> Batch:
    """Loads the sequences of one batch, cuts their windows and pads them; errors name the sequence."""
    if not spec.seq_indices:  # a rank without data in a step (seqtrain.data.sharding): no sequences, same keys
        empty = {k: torch.from_numpy(np.zeros((0, 0), dtype=d)) for k, d in dtypes.items()}
        return Batch(empty, {k: torch.zeros(0, dtype=torch.int32) for k in dtypes}, [], [])
    checker = checker or SeqChecker(dataset, list(dtypes))
    per_key: dict[str, list[np.ndarray]] = {k: [] for k in dtypes}
    tags = []
    for i, idx in enumerate(spec.seq_indices):
        tags.append(dataset.seq_tag(idx))
        seq = _load(dataset, idx)
        for key in dtypes:
            if key not in seq:
                raise DataError(f"{dataset.describe_seq(idx)} has no data key {key!r} (it has {sorted(seq)})")
            arr = np.asarray(seq[key])
            checker.check(idx, key, arr)
            window = spec.window(i, key)
            if window is not None:
                arr = arr[window[0] : window[1]]
            per_key[key].append(arr)
    data, lengths = {}, {}
    for key, seqs in per_key.items():
        lengths[key] = torch.tensor([s.shape[0] for s in seqs], dtype=torch.int32)
        data[key] = torch.from_numpy(pad(seqs, dtypes[key]))
    return Batch(data, lengths, tags, list(spec.seq_indices))
