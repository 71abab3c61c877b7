"""`seq_ordering`: the order in which an epoch visits the sequences, with RETURNN's meaning.

Every order is a pure function of (method, lengths, seed); the seed is derived from the epoch by the
caller, so the same epoch gives the same order in every run and after resume.
"""

from __future__ import annotations

import numpy as np

from seqtrain.errors import ConfigError

ORDERINGS = (
    "default",
    "reverse",
    "default_every_n:N",
    "random[:N]",
    "random_sample[:N]",
    "sorted",
    "sorted_reverse",
    "laplace[:N|:.N]",
    "sort_bin_shuffle[:N|:.N]",
    "sort_bin_shuffle_x2[:N|:.N]",
    "bucket[:P]",
)


def _num_bins(arg: str | None, num_seqs: int) -> int:
    """'N' = N bins; '.N' = bins of about N sequences (at least 2 bins), as in RETURNN."""
    if not arg:
        return 2
    if arg.startswith("."):
        return max(num_seqs // int(arg[1:]), 2)
    return int(arg)


def seeds_fixed_for(method: str) -> int:
    """RETURNN's `random:N` / `laplace:B:N`: keep the same shuffle for N consecutive epochs."""
    parts = method.split(":")
    try:
        if parts[0] in ("random", "random_sample"):
            return int(parts[1]) if len(parts) > 1 else 1
        if parts[0] in ("laplace", "sort_bin_shuffle", "sort_bin_shuffle_x2"):
            return int(parts[2]) if len(parts) > 2 else 1
    except ValueError as e:
        raise ConfigError(f"seq_ordering {method!r}: {e}; known: {', '.join(ORDERINGS)}") from e
    return 1


def check_ordering(method: str) -> None:
    """Raises a ConfigError for an unknown or malformed `seq_ordering`, before any data is read."""
    from seqtrain.data.bucketing import bucket_max_padding, is_bucket_order

    if is_bucket_order(method):
        bucket_max_padding(method)
        return
    seeds_fixed_for(method)
    seq_order(method, np.arange(4), 1)


def seq_order(method: str, lengths: np.ndarray, seed: int) -> np.ndarray:
    """Returns the visiting order (indices into `lengths`) for one epoch.

    `lengths` are the sequence lengths used for sorting (usually of the input key). "bucket" is a random
    permutation here; its batches are cut by `seqtrain.data.bucketing` after partitioning and filtering.
    """
    num_seqs = len(lengths)
    lengths = np.asarray(lengths)
    parts = method.split(":")
    name = parts[0]
    seed %= 2**32  # RandomState's range; RETURNN's seeds (small positive ints) are unchanged
    if num_seqs == 0 and name in {o.split("[")[0].split(":")[0] for o in ORDERINGS}:
        return np.zeros(0, dtype=np.int64)
    try:
        if name == "default":
            return np.arange(num_seqs)
        if name == "reverse":
            return np.arange(num_seqs)[::-1].copy()
        if name == "default_every_n":
            return _default_every_n(num_seqs, int(parts[1]))
        if name in ("sorted", "sorted_reverse"):
            return np.argsort(-lengths if name == "sorted_reverse" else lengths, kind="stable")
        if name in ("random", "bucket"):
            return np.random.RandomState(seed).permutation(num_seqs)
        if name == "random_sample":
            return np.random.RandomState(seed).randint(0, num_seqs, size=num_seqs)
        if name == "laplace":
            return _laplace(lengths, _num_bins(parts[1] if len(parts) > 1 else None, num_seqs), seed)
        if name in ("sort_bin_shuffle", "sort_bin_shuffle_x2"):
            bins = _num_bins(parts[1] if len(parts) > 1 else None, num_seqs)
            return _sort_bin_shuffle(lengths, bins, seed, shuffle_within=name.endswith("_x2"))
    except (ValueError, IndexError) as e:
        raise ConfigError(f"seq_ordering {method!r}: {e}; known: {', '.join(ORDERINGS)}") from e
    raise ConfigError(f"unknown seq_ordering {method!r}; known: {', '.join(ORDERINGS)}")


def _default_every_n(num_seqs: int, n: int) -> np.ndarray:
    """RETURNN's order for state carried over between batches: seq i of n parallel streams, interleaved."""
    if n < 1:
        raise ValueError("N must be >= 1")
    index = np.arange(num_seqs // n, dtype=np.int64).repeat(n)
    for i in range(1, n):
        index[i::n] += i * (num_seqs // n)
    return index


def _laplace(lengths: np.ndarray, bins: int, seed: int) -> np.ndarray:
    """Shuffle, cut into bins, sort the bins alternately ascending and descending by length."""
    num_seqs = len(lengths)
    index = np.random.RandomState(seed).permutation(num_seqs)
    parts = []
    for i in range(bins):
        part = index[i * num_seqs // bins : (i + 1) * num_seqs // bins]
        key = lengths[part] if i % 2 == 0 else -lengths[part]
        parts.append(part[np.argsort(key, kind="stable")])
    return np.concatenate(parts) if parts else index


def _sort_bin_shuffle(lengths: np.ndarray, bins: int, seed: int, *, shuffle_within: bool) -> np.ndarray:
    """Shuffle, sort all by length, cut into bins, visit the bins in random order."""
    rng = np.random.RandomState(seed)
    index = rng.permutation(len(lengths)).tolist()
    index.sort(key=lambda i: lengths[i])
    n = len(index)
    out = []
    for b in rng.permutation(bins):
        part = index[b * n // bins :] if b == bins - 1 else index[b * n // bins : (b + 1) * n // bins]
        if shuffle_within:
            rng.shuffle(part)
        out.append(np.asarray(part, dtype=np.int64))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
