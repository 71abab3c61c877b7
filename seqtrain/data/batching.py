"""Cuts an epoch's sequence order into batches, with the semantics of RETURNN's PyTorch backend.

`batch_size` bounds the padded size max_len * num_seqs for every data key (or per key, when given as
a dict); `max_seqs` bounds the number of sequences. Batches are filled greedily in order; a sequence
longer than `batch_size` gets a batch of its own. This is RETURNN's `BatchingIterDataPipe`, so the
same order and options give the same batches. The result is a plain list, computed once per epoch, so
resuming at batch k and sharding across ranks are list operations.

What is batched are *items*: whole sequences, or, with `chunking`, windows of them (see
`seqtrain.data.chunking`); an item has a length per data key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Window = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class BatchSpec:
    """Which sequences form one batch, in order.

    `chunks` (with chunking): per sequence, the (start, end) frames to cut per data key; a key that is
    not in a sequence's dict is taken whole.
    """

    seq_indices: tuple[int, ...]
    chunks: tuple[Window, ...] | None = None

    def __len__(self) -> int:
        return len(self.seq_indices)

    def window(self, i: int, key: str) -> tuple[int, int] | None:
        """The frames of data key `key` that sequence number `i` of the batch contributes; None = all."""
        if self.chunks is None:
            return None
        return self.chunks[i].get(key)


@dataclass(frozen=True)
class Items:
    """What batching cuts into batches: per item its sequence, its length per data key, its window."""

    seq_indices: np.ndarray
    lengths: dict[str, np.ndarray]
    starts: dict[str, np.ndarray] | None = None  # chunked keys only: first frame of the window

    def __len__(self) -> int:
        return len(self.seq_indices)

    @classmethod
    def whole(cls, order: np.ndarray, lengths: dict[str, np.ndarray]) -> Items:
        """Every sequence of `order` as one item."""
        order = np.asarray(order, dtype=np.int64)
        return cls(order, {k: np.asarray(v, dtype=np.int64)[order] for k, v in lengths.items()})

    def spec(self, positions: Sequence[int]) -> BatchSpec:
        seqs = tuple(int(self.seq_indices[p]) for p in positions)
        if self.starts is None:
            return BatchSpec(seqs)
        chunks = tuple(
            {k: (int(s[p]), int(s[p] + self.lengths[k][p])) for k, s in self.starts.items()} for p in positions
        )
        return BatchSpec(seqs, chunks)


@dataclass(frozen=True)
class LengthFilter:
    """`max_seq_length` / `min_seq_length`: an int for every data key, or a dict per key; None = no limit.

    RETURNN's `LenFilterDataPipe`: a sequence is skipped if any of its keys is longer than the maximum
    or shorter than the minimum that applies to it.
    """

    max_len: int | dict[str, int] | None = None
    min_len: int | dict[str, int] | None = None

    def keep_mask(self, lengths: dict[str, np.ndarray]) -> np.ndarray:
        num = len(next(iter(lengths.values()))) if lengths else 0
        keep = np.ones(num, dtype=bool)
        for limit, too_far in ((self.max_len, np.greater), (self.min_len, np.less)):
            if limit is None:
                continue
            per_key = limit if isinstance(limit, dict) else dict.fromkeys(lengths, limit)
            for key, value in per_key.items():
                if key in lengths:
                    keep &= ~too_far(lengths[key], value)
        return keep


def _limits(batch_size: int | dict[str, int], keys: list[str]) -> list[int]:
    """Per data key the bound of max_len * num_seqs; keys a dict does not name are unbounded."""
    if isinstance(batch_size, dict):
        unknown = set(batch_size) - set(keys)
        if unknown:
            raise ValueError(f"batch_size names data keys {sorted(unknown)} that are not batched (keys: {keys})")
        values = [batch_size.get(k, np.iinfo(np.int64).max) for k in keys]
    else:
        values = [batch_size] * len(keys)
    if any(v <= 0 for v in values):
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    return [int(v) for v in values]


def greedy_groups(
    lengths: dict[str, np.ndarray],
    *,
    batch_size: int | dict[str, int],
    max_seqs: int = -1,
    max_padding: tuple[str, float] | None = None,
) -> list[list[int]]:
    """Positions 0..n-1 cut greedily into groups; the core of RETURNN's `BatchingIterDataPipe`.

    A group is closed when it has `max_seqs` items, or when adding the next item would make
    max_len * (n + 1) exceed the limit of any key. `max_padding` = (key, fraction) also closes it when
    the next item would make that key's padding exceed the fraction (used by the bucketing order).
    """
    keys = list(lengths)
    limits = _limits(batch_size, keys)
    max_seqs = max_seqs if max_seqs and max_seqs > 0 else np.iinfo(np.int64).max
    columns = [np.asarray(lengths[k], dtype=np.int64).tolist() for k in keys]
    pad_col = keys.index(max_padding[0]) if max_padding is not None else -1
    keep_share = 1.0 - max_padding[1] if max_padding is not None else 0.0
    num = len(columns[0]) if columns else 0
    groups: list[list[int]] = []
    current: list[int] = []
    current_max = [0] * len(keys)
    real = 0
    for pos in range(num):
        if len(current) >= max_seqs:
            groups.append(current)
            current, current_max, real = [], [0] * len(keys), 0
        new_max = [max(m, col[pos]) for m, col in zip(current_max, columns)]
        count = len(current) + 1
        over = any(m * count > limit for m, limit in zip(new_max, limits))
        if pad_col >= 0 and not over:
            over = real + columns[pad_col][pos] < keep_share * new_max[pad_col] * count
        if current and over:
            groups.append(current)
            current, current_max = [pos], [col[pos] for col in columns]
        else:
            current.append(pos)
            current_max = new_max
        real = (real if len(current) > 1 else 0) + (columns[pad_col][pos] if pad_col >= 0 else 0)
    if current:
        groups.append(current)
    return groups


def make_batches(items: Items, *, batch_size: int | dict[str, int], max_seqs: int = -1) -> list[BatchSpec]:
    """Greedy batching of the items in their order (RETURNN's semantics)."""
    return [items.spec(g) for g in greedy_groups(items.lengths, batch_size=batch_size, max_seqs=max_seqs)]


def batch_frames(batch: BatchSpec, lengths: np.ndarray, key: str = "data") -> tuple[int, int]:
    """(padded, real) frames of one data key in a batch; `lengths` are the key's full sequence lengths."""
    seq_lens = []
    for i, idx in enumerate(batch.seq_indices):
        window = batch.window(i, key)
        seq_lens.append(window[1] - window[0] if window is not None else int(lengths[idx]))
    return (max(seq_lens) * len(seq_lens), sum(seq_lens)) if seq_lens else (0, 0)


def padding_fraction(batches: list[BatchSpec], lengths: np.ndarray, key: str = "data") -> float:
    """Share of padded frames among all frames of the batches (for one data key)."""
    padded = real = 0
    for b in batches:
        p, r = batch_frames(b, lengths, key)
        padded += p
        real += r
    return 1.0 - real / padded if padded else 0.0
