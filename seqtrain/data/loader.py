"""Loads and pads the batches of one epoch, in background worker processes.

The batch list is fixed before the epoch starts (`seqtrain.data.epoch`); the loader maps batch
number -> padded tensors. Resuming at batch k is therefore just starting the list at k, and a worker
never decides what comes next, so the result does not depend on the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.utils.data

from seqtrain.data.batching import BatchSpec
from seqtrain.data.dataset import Dataset
from seqtrain.errors import DataError, SeqtrainError
from seqtrain.rng import derive_seed, seed_all


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


def pad(seqs: Sequence[np.ndarray], dtype: str) -> np.ndarray:
    """Stacks [T_i, ...] arrays into [B, max T, ...], zero padded."""
    max_len = max((s.shape[0] for s in seqs), default=0)
    out = np.zeros((len(seqs), max_len, *seqs[0].shape[1:]), dtype=dtype)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
    return out


def collate(dataset: Dataset, spec: BatchSpec, dtypes: dict[str, str]) -> Batch:
    """Loads the sequences of one batch and pads them; errors name the dataset and the sequence."""
    per_key: dict[str, list[np.ndarray]] = {k: [] for k in dtypes}
    tags = []
    for i, idx in enumerate(spec.seq_indices):
        tag = dataset.seq_tag(idx)
        tags.append(tag)
        try:
            seq = dataset.get_seq(idx)
        except SeqtrainError:
            raise
        except Exception as e:
            raise DataError(f"dataset {dataset.name!r}: loading sequence {tag!r} (index {idx}) failed: {e!r}") from e
        for key in dtypes:
            if key not in seq:
                raise DataError(f"dataset {dataset.name!r}: sequence {tag!r} has no data key {key!r}")
            arr = np.asarray(seq[key])
            if spec.chunks is not None:
                start, end = spec.chunks[i]
                arr = arr[start:end]
            per_key[key].append(arr)
    data, lengths = {}, {}
    for key, seqs in per_key.items():
        lengths[key] = torch.tensor([s.shape[0] for s in seqs], dtype=torch.int32)
        data[key] = torch.from_numpy(pad(seqs, dtypes[key]))
    return Batch(data, lengths, tags, list(spec.seq_indices))


class _BatchList(torch.utils.data.Dataset):
    """Batch number -> padded Batch; what DataLoader workers execute."""

    def __init__(self, dataset: Dataset, batches: Sequence[BatchSpec], dtypes: dict[str, str]) -> None:
        self.dataset = dataset
        self.batches = list(batches)
        self.dtypes = dtypes

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> Batch:
        return collate(self.dataset, self.batches[i], self.dtypes)


class _WorkerSeeder:
    """Seeds each worker from (random_seed, epoch, worker id), so augmentation in datasets is reproducible."""

    def __init__(self, random_seed: int, epoch: int) -> None:
        self.random_seed = random_seed
        self.epoch = epoch

    def __call__(self, worker_id: int) -> None:
        seed_all(derive_seed(self.random_seed, "data-worker", self.epoch, worker_id))
        torch.set_num_threads(1)


def iterate_batches(
    dataset: Dataset,
    batches: Sequence[BatchSpec],
    *,
    dtypes: dict[str, str],
    num_workers: int,
    random_seed: int,
    epoch: int,
    start: int = 0,
    pin_memory: bool = False,
) -> Iterator[Batch]:
    """Yields the padded batches `start`, `start`+1, ... of the list."""
    todo = _BatchList(dataset, batches[start:], dtypes)
    if len(todo) == 0:
        return
    if num_workers <= 0:
        seed_all(derive_seed(random_seed, "data-worker", epoch, 0))
        for i in range(len(todo)):
            yield todo[i]
        return
    loader = torch.utils.data.DataLoader(
        todo,
        batch_size=None,
        shuffle=False,
        num_workers=num_workers,
        worker_init_fn=_WorkerSeeder(random_seed, epoch),
        multiprocessing_context="fork" if os.name == "posix" else None,
        pin_memory=pin_memory,
        prefetch_factor=2,
    )
    try:
        yield from loader
    except RuntimeError as e:
        if "DataLoader worker" in str(e):
            raise DataError(
                f"dataset {dataset.name!r}: a data loading worker died ({e}). Out of memory? "
                "Try num_workers=0 to see the error in the main process."
            ) from e
        raise
