"""`seq_ordering`: the order in which an epoch visits the sequences, with RETURNN's meaning.

Every order is a pure function of (method, lengths, seed); the seed is derived from the epoch by the
caller, so the same epoch gives the same order in every run and after resume.
"""

from __future__ import annotations

import numpy as np

from seqtrain.errors import ConfigError

ORDERINGS = ("default", "reverse", "random[:N]", "sorted", "sorted_reverse", "laplace[:N|:.N]",
             "sort_bin_shuffle[:N|:.N]", "sort_bin_shuffle_x2[:N|:.N]")


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
    if parts[0] == "random":
        return int(parts[1]) if len(parts) > 1 else 1
    if parts[0] in ("laplace", "sort_bin_shuffle", "sort_bin_shuffle_x2"):
        return int(parts[2]) if len(parts) > 2 else 1
    return 1


def seq_order(method: str, lengths: np.ndarray, seed: int) -> np.ndarray:
    """Returns the visiting order (indices into `lengths`) for one epoch.

    `lengths` are the sequence lengths used for sorting (usually of the input key).
    """
    num_seqs = len(lengths)
    lengths = np.asarray(lengths)
    parts = method.split(":")
    name = parts[0]
    try:
        if name == "default":
            return np.arange(num_seqs)
        if name == "reverse":
            return np.arange(num_seqs)[::-1].copy()
        if name in ("sorted", "sorted_reverse"):
            return np.argsort(-lengths if name == "sorted_reverse" else lengths, kind="stable")
        if name == "random":
            return np.random.RandomState(seed).permutation(num_seqs)
        if name == "laplace":
            return _laplace(lengths, _num_bins(parts[1] if len(parts) > 1 else None, num_seqs), seed)
        if name in ("sort_bin_shuffle", "sort_bin_shuffle_x2"):
            bins = _num_bins(parts[1] if len(parts) > 1 else None, num_seqs)
            return _sort_bin_shuffle(lengths, bins, seed, shuffle_within=name.endswith("_x2"))
    except ValueError as e:
        raise ConfigError(f"seq_ordering {method!r}: {e}") from e
    raise ConfigError(f"unknown seq_ordering {method!r}; known: {', '.join(ORDERINGS)}")


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
