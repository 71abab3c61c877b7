"""The batch list of one epoch of one dataset, as RETURNN's PyTorch backend would build it.

    selection (CombinedDataset sampling) -> seq_ordering -> partition_epoch -> epoch_wise_filter
    -> max/min_seq_length -> chunking -> batching (greedy, or the "bucket" order's own)

A pure function of (dataset lengths, options, epoch, seed), so every run, every resume and every rank
computes the same global list; the loader only slices it (resume at batch k, one share per rank).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from seqtrain.data.batching import BatchSpec, Items, LengthFilter, make_batches
from seqtrain.data.bucketing import bucket_batches, bucket_max_padding, is_bucket_order
from seqtrain.data.chunking import Chunking, chunk_items
from seqtrain.data.epoch_seed import returnn_epoch_seed
from seqtrain.data.factory import DatasetSetup
from seqtrain.data.ordering import seeds_fixed_for, seq_order
from seqtrain.errors import ConfigError
from seqtrain.rng import derive_seed

# RETURNN's default `random_seed`; with it, orders equal RETURNN's for the same epoch.
RETURNN_DEFAULT_SEED = 42


@dataclass(frozen=True)
class EpochPlan:
    """The batches of an epoch, and how many sequences each stage left out (for the epoch's log line)."""

    batches: list[BatchSpec]
    num_seqs: int  # sequences in the batches
    num_skipped: int  # by max_seq_length / min_seq_length
    num_filtered: int = 0  # by epoch_wise_filter
    num_unchunked: int = 0  # no window of at least min_chunk_size

    def left_out_text(self) -> str:
        """The sequences the stages left out, e.g. ", 3 skipped by ...", for the epoch's log line."""
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.num_skipped, "skipped by max_seq_length/min_seq_length"),
                (self.num_filtered, "left out by epoch_wise_filter"),
                (self.num_unchunked, "without a window of min_chunk_size"),
            )
            if n
        ]
        return "".join(f", {p}" for p in parts)

    def fingerprint(self) -> str:
        """Identifies the batch list, so resume can tell whether it changed."""
        h = hashlib.sha256()
        for b in self.batches:
            h.update(np.asarray(b.seq_indices, dtype=np.int64).tobytes())
            if b.chunks is not None:
                h.update(repr([sorted(w.items()) for w in b.chunks]).encode())
            h.update(b"|")
        return h.hexdigest()[:16]


def order_seed(
    epoch: int,
    *,
    partition_epoch: int,
    fixed_for: int,
    random_seed: int,
    offset: int,
    fixed_random_seed: int | None = None,
) -> int:
    """RETURNN's per-epoch shuffle seed (one order for all sub-epochs of a full pass; `fixed_random_seed`: the
    same order every epoch), shifted by `random_seed` so other seeds give other orders."""
    seed = returnn_epoch_seed(
        epoch, partition_epoch=partition_epoch, fixed_for=fixed_for, offset=offset, fixed_random_seed=fixed_random_seed
    )
    return seed + (random_seed - RETURNN_DEFAULT_SEED)


def sort_key(lengths: dict[str, np.ndarray]) -> str:
    """Orders sort by the input ("data") length, as RETURNN does; else by the first key."""
    return "data" if "data" in lengths else next(iter(lengths))


def sort_key_lengths(lengths: dict[str, np.ndarray]) -> np.ndarray:
    return lengths[sort_key(lengths)]


def partition(order: np.ndarray, parts: int, epoch: int) -> np.ndarray:
    """Sub-epoch `epoch` of `parts`; the first len % parts partitions get one sequence more (RETURNN)."""
    if parts <= 1:
        return order
    i = (epoch - 1) % parts
    size, extra = divmod(len(order), parts)
    start = i * size + min(i, extra)
    return order[start : start + size + (1 if i < extra else 0)]


def ordering_method(setup: DatasetSetup, epoch: int) -> str:
    method = setup.options.seq_ordering
    if callable(method):
        method = method(epoch=epoch)
        if not isinstance(method, str):
            raise ConfigError(f"dataset {setup.name!r}: the seq_ordering function returned {method!r}, not a str")
    return method


def epoch_seq_indices(setup: DatasetSetup, epoch: int, *, random_seed: int) -> tuple[np.ndarray, int]:
    """The sequences of this (sub-)epoch in visiting order, and how many epoch_wise_filter removed."""
    setup = replace(setup, dataset=setup.dataset.for_epoch(epoch, random_seed=random_seed))
    opts = setup.options
    method = ordering_method(setup, epoch)
    lengths = setup.dataset.seq_lengths()
    selection = setup.dataset.epoch_selection(epoch, random_seed)
    sort_lengths = sort_key_lengths(lengths) if lengths else np.zeros(setup.dataset.num_seqs, dtype=np.int64)
    if selection is not None:
        sort_lengths = sort_lengths[selection]
    seed = order_seed(
        epoch,
        partition_epoch=opts.partition_epoch,
        fixed_for=seeds_fixed_for(method),
        random_seed=random_seed,
        offset=opts.random_seed_offset,
        fixed_random_seed=opts.fixed_random_seed,
    )
    order = partition(seq_order(method, sort_lengths, seed), opts.partition_epoch, epoch)
    num_before = len(order)
    if opts.epoch_wise_filter is not None:
        order = opts.epoch_wise_filter.apply(epoch, order, sort_lengths)
    if selection is not None:
        order = selection[order]
    return np.asarray(order, dtype=np.int64), num_before - len(order)


def plan_epoch(
    setup: DatasetSetup,
    epoch: int,
    *,
    random_seed: int,
    batch_size: int | dict[str, int],
    max_seqs: int,
    length_filter: LengthFilter | None = None,
    chunking: Chunking | None = None,
) -> EpochPlan:
    """The epoch's global batch list (before any split across ranks)."""
    setup = replace(setup, dataset=setup.dataset.for_epoch(epoch, random_seed=random_seed))
    all_lengths = setup.dataset.seq_lengths()
    keys = [k for k in (setup.data_keys or all_lengths) if k in all_lengths]
    lengths = {k: np.asarray(all_lengths[k], dtype=np.int64) for k in keys}
    if not lengths:
        raise ConfigError(f"dataset {setup.name!r}: no data key with a time axis to batch")
    order, num_filtered = epoch_seq_indices(setup, epoch, random_seed=random_seed)
    num_before = len(order)
    if length_filter is not None:
        order = order[length_filter.keep_mask(lengths)[order]]
    num_skipped = num_before - len(order)
    num_unchunked = 0
    if chunking is not None:
        items, num_unchunked = chunk_items(order, lengths, chunking, seq_tag=setup.dataset.seq_tag)
    else:
        items = Items.whole(order, lengths)
    method = ordering_method(setup, epoch)
    try:
        if is_bucket_order(method):
            seed = derive_seed(random_seed, "bucket", epoch, setup.options.random_seed_offset)
            batches = bucket_batches(
                items, sort_key(lengths), batch_size=batch_size, max_seqs=max_seqs,
                max_padding=bucket_max_padding(method), seed=seed,
            )  # fmt: skip
        else:
            batches = make_batches(items, batch_size=batch_size, max_seqs=max_seqs)
    except ValueError as e:
        raise ConfigError(f"dataset {setup.name!r}: {e}") from e
    return EpochPlan(
        batches=batches,
        num_seqs=len(order) - num_unchunked,
        num_skipped=num_skipped,
        num_filtered=num_filtered,
        num_unchunked=num_unchunked,
    )
