"""`chunking`: train on windows of long sequences instead of whole sequences, as RETURNN's PyTorch backend does.

`chunking = "100:50"` (or `100`, `(100, 50)`, or per data key `({"data": 100, "classes": 100}, {"data": 50,
"classes": 50})`) cuts every chunked key of a sequence into windows [s, s + size) for s = 0, step, 2*step,
... < length. Windows at the end are shorter than `size` (with step < size there are several such
tails); a window shorter than `min_chunk_size` is dropped, and a sequence without any window is skipped.
This is exactly RETURNN's `ChunkingIterDataPipe`.

Without a per-key dict every batched data key is chunked with the same size and step, so frame-aligned
targets (same length as the input) are cut with the input. With a dict, only the named keys are cut
(their window counts must agree, e.g. {"data": 100, "alignment": 25} for 4x subsampled alignments) and
every other key is given whole with each window. Everything here depends only on the lengths, so
windows are known before any data is read and a mismatch is an error before training starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.batching import Items
from seqtrain.errors import ConfigError, DataError


@dataclass(frozen=True)
class Chunking:
    """Window size and step per data key (None = the same for every batched key)."""

    size: int | dict[str, int]
    step: int | dict[str, int]
    min_chunk_size: int | dict[str, int] = 0

    def per_key(self, keys: list[str]) -> dict[str, tuple[int, int, int]]:
        """(size, step, min_chunk_size) for every chunked key among `keys`."""
        if isinstance(self.size, dict):
            missing = sorted(set(self.size) - set(keys))
            if missing:
                raise ConfigError(f"chunking names data keys {missing} that are not batched (keys: {keys})")
            chunked = [k for k in keys if k in self.size]
        else:
            chunked = list(keys)
        out = {}
        for k in chunked:
            size = self.size[k] if isinstance(self.size, dict) else self.size
            step = self.step[k] if isinstance(self.step, dict) else self.step
            minimum = self.min_chunk_size.get(k, 0) if isinstance(self.min_chunk_size, dict) else self.min_chunk_size
            out[k] = (int(size), int(step), int(minimum))
        return out


def _as_int_or_dict(value: Any, what: str, original: Any) -> int | dict[str, int]:
    if isinstance(value, dict):
        if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in value.items()):
            raise ConfigError(f"chunking {original!r}: the {what} dict must map data keys to ints")
        return dict(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(f"chunking {original!r}: the {what} must be an int or a dict data key -> int, got {value!r}")


def parse_chunking(value: Any, *, min_chunk_size: int | dict[str, int] = 0) -> Chunking | None:
    """RETURNN's forms: None/0 (off), N, "N", "N:M", (N, M), {key: N}, ({key: N}, {key: M})."""
    original = value
    if value is None or value == 0 or value == "0" or value == "":
        return None
    if isinstance(value, str):
        try:
            parts = [int(p) for p in value.split(":")]
        except ValueError:
            raise ConfigError(f"chunking {value!r}: expected 'size' or 'size:step' with integers") from None
        if len(parts) > 2:
            raise ConfigError(f"chunking {value!r}: expected 'size' or 'size:step'")
        value = tuple(parts)
    if not isinstance(value, (tuple, list)):
        value = (value, None)
    if len(value) == 1:
        value = (value[0], None)
    if len(value) != 2:
        raise ConfigError(f"chunking {original!r}: expected (size, step)")
    size = _as_int_or_dict(value[0], "size", original)
    step = size if value[1] in (None, 0) else _as_int_or_dict(value[1], "step", original)
    if isinstance(size, dict) != isinstance(step, dict) or (
        isinstance(size, dict) and isinstance(step, dict) and sorted(size) != sorted(step)
    ):
        raise ConfigError(f"chunking {original!r}: size and step must name the same data keys")
    sizes = size.values() if isinstance(size, dict) else [size]
    steps = step.values() if isinstance(step, dict) else [step]
    if min(sizes, default=1) <= 0 or min(steps, default=1) <= 0:
        raise ConfigError(f"chunking {original!r}: size and step must be > 0")
    return Chunking(size, step, min_chunk_size)


def num_windows(lengths: np.ndarray, size: int, step: int, minimum: int) -> np.ndarray:
    """How many windows a sequence of each length gives (RETURNN: starts < length, chunk >= minimum)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if minimum <= 0:
        return -(-lengths // step)
    if minimum > size:
        return np.zeros_like(lengths)
    return np.where(lengths >= minimum, (lengths - minimum) // step + 1, 0)


def chunk_items(
    order: np.ndarray,
    lengths: dict[str, np.ndarray],
    chunking: Chunking,
    *,
    seq_tag: Callable[[int], str] = str,
) -> tuple[Items, int]:
    """Every window of every sequence of `order` as an item; returns (items, number of sequences skipped)."""
    order = np.asarray(order, dtype=np.int64)
    keys = list(lengths)
    specs = chunking.per_key(keys)
    seq_lens = {k: np.asarray(v, dtype=np.int64)[order] for k, v in lengths.items()}
    counts = None
    for key, (size, step, minimum) in specs.items():
        n = num_windows(seq_lens[key], size, step, minimum)
        if counts is not None and not np.array_equal(n, counts[1]):
            bad = int(np.flatnonzero(n != counts[1])[0])
            idx = int(order[bad])
            raise DataError(
                f"chunking: sequence {seq_tag(idx)!r} (index {idx}) gives {counts[1][bad]} windows for data key "
                f"{counts[0]!r} (length {int(seq_lens[counts[0]][bad])}) but {int(n[bad])} for {key!r} (length "
                f"{int(seq_lens[key][bad])}); chunk keys of different lengths with per-key sizes, e.g. "
                "({'data': 100, 'classes': 25}, {'data': 50, 'classes': 12}), or chunk only 'data'"
            )
        counts = (key, n)
    if counts is None:
        return Items.whole(order, lengths), 0
    per_seq = counts[1]
    seq_of_item = np.repeat(order, per_seq)
    first_item = np.repeat(np.cumsum(per_seq) - per_seq, per_seq)
    window_idx = np.arange(len(seq_of_item), dtype=np.int64) - first_item
    item_lengths: dict[str, np.ndarray] = {}
    starts: dict[str, np.ndarray] = {}
    for key in keys:
        full = np.repeat(seq_lens[key], per_seq)
        if key in specs:
            size, step, _ = specs[key]
            starts[key] = window_idx * step
            item_lengths[key] = np.minimum(size, full - starts[key])
        else:
            item_lengths[key] = full
    return Items(seq_of_item, item_lengths, starts), int(np.count_nonzero(per_seq == 0))
