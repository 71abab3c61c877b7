"""Cuts an epoch's sequence order into batches, with the semantics of RETURNN's PyTorch backend.

`batch_size` bounds the padded size max_len * num_seqs for every data key; `max_seqs` bounds the
number of sequences. Batches are filled greedily in order; a sequence longer than `batch_size` gets
a batch of its own. The result is a plain list, computed once per epoch, so resuming at batch k and
sharding across ranks are list operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BatchSpec:
    """Which sequences form one batch, in order. `chunks` (start, end) per sequence when chunking."""

    seq_indices: tuple[int, ...]
    chunks: tuple[tuple[int, int], ...] | None = None

    def __len__(self) -> int:
        return len(self.seq_indices)


@dataclass(frozen=True)
class LengthFilter:
    """`max_seq_length` / `min_seq_length` (int for every key, or per data key); None = no limit."""

    max_len: int | dict[str, int] | None = None
    min_len: int | dict[str, int] | None = None

    def keep_mask(self, lengths: dict[str, np.ndarray]) -> np.ndarray:
        num = len(next(iter(lengths.values())))
        keep = np.ones(num, dtype=bool)
        for limit, too_far in ((self.max_len, np.greater), (self.min_len, np.less)):
            if limit is None:
                continue
            per_key = limit if isinstance(limit, dict) else dict.fromkeys(lengths, limit)
            for key, value in per_key.items():
                if key in lengths and value:
                    keep &= ~too_far(lengths[key], value)
        return keep


def make_batches(
    order: np.ndarray,
    lengths: dict[str, np.ndarray],
    *,
    batch_size: int,
    max_seqs: int = -1,
) -> list[BatchSpec]:
    """Greedy batching in the given order.

    A batch is closed when it has `max_seqs` sequences, or when adding the next sequence would make
    max_len * num_seqs exceed `batch_size` for any data key.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    max_seqs = max_seqs if max_seqs and max_seqs > 0 else np.iinfo(np.int64).max
    keys = list(lengths)
    lens = np.stack([np.asarray(lengths[k], dtype=np.int64) for k in keys], axis=1) if keys else None
    batches: list[BatchSpec] = []
    current: list[int] = []
    current_max = np.zeros(len(keys), dtype=np.int64)
    for idx in order.tolist():
        if len(current) >= max_seqs:
            batches.append(BatchSpec(tuple(current)))
            current, current_max = [], np.zeros(len(keys), dtype=np.int64)
        seq_len = lens[idx]
        new_max = np.maximum(current_max, seq_len)
        if current and bool(np.any(new_max * (len(current) + 1) > batch_size)):
            batches.append(BatchSpec(tuple(current)))
            current, current_max = [idx], seq_len.copy()
        else:
            current.append(idx)
            current_max = new_max
    if current:
        batches.append(BatchSpec(tuple(current)))
    return batches


def padding_fraction(batches: list[BatchSpec], lengths: np.ndarray) -> float:
    """Share of padded frames among all frames of the batches (for one data key)."""
    padded = real = 0
    for b in batches:
        seq_lens = lengths[list(b.seq_indices)]
        padded += int(seq_lens.max()) * len(b)
        real += int(seq_lens.sum())
    return 1.0 - real / padded if padded else 0.0
