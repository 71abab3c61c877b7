"""The batch list of one epoch of one dataset: order, partition, length filter, batching.

Pure function of (dataset lengths, options, epoch, seed), so every run, every resume and every rank
computes the same list; the loader then only slices it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqtrain.data.batching import BatchSpec, LengthFilter, make_batches
from seqtrain.data.factory import DatasetSetup
from seqtrain.data.ordering import seeds_fixed_for, seq_order

# RETURNN's default `random_seed`; with it, orders equal RETURNN's for the same epoch.
RETURNN_DEFAULT_SEED = 42


@dataclass(frozen=True)
class EpochPlan:
    batches: list[BatchSpec]
    num_seqs: int
    num_skipped: int

    def fingerprint(self) -> str:
        """Identifies the batch list, so resume can tell whether it changed."""
        import hashlib

        h = hashlib.sha256()
        for b in self.batches:
            h.update(np.asarray(b.seq_indices, dtype=np.int64).tobytes())
            h.update(b"|")
        return h.hexdigest()[:16]


def order_seed(epoch: int, *, partition_epoch: int, fixed_for: int, random_seed: int, offset: int) -> int:
    """RETURNN's per-epoch shuffle seed, shifted by `random_seed` so other seeds give other orders."""
    seed = epoch
    if partition_epoch > 1:
        seed = (seed - 1) // partition_epoch + 1  # one order for all sub-epochs of a full pass
    if fixed_for > 1:
        seed = (seed - 1) // fixed_for + 1
    return seed + offset + (random_seed - RETURNN_DEFAULT_SEED)


def sort_key_lengths(lengths: dict[str, np.ndarray]) -> np.ndarray:
    """Orders sort by the input ("data") length, as RETURNN does; else by the first key."""
    return lengths["data"] if "data" in lengths else next(iter(lengths.values()))


def epoch_seq_indices(setup: DatasetSetup, epoch: int, *, random_seed: int) -> np.ndarray:
    """The sequences of this (sub-)epoch in visiting order."""
    opts = setup.options
    lengths = setup.dataset.seq_lengths()
    seed = order_seed(
        epoch, partition_epoch=opts.partition_epoch, fixed_for=seeds_fixed_for(opts.seq_ordering),
        random_seed=random_seed, offset=opts.random_seed_offset,
    )
    order = seq_order(opts.seq_ordering, sort_key_lengths(lengths), seed)
    if opts.partition_epoch > 1:
        part = (epoch - 1) % opts.partition_epoch
        n = len(order)
        order = order[part * n // opts.partition_epoch : (part + 1) * n // opts.partition_epoch]
    return order


def plan_epoch(
    setup: DatasetSetup,
    epoch: int,
    *,
    random_seed: int,
    batch_size: int,
    max_seqs: int,
    length_filter: LengthFilter | None = None,
) -> EpochPlan:
    lengths = setup.dataset.seq_lengths()
    order = epoch_seq_indices(setup, epoch, random_seed=random_seed)
    num_before = len(order)
    if length_filter is not None:
        order = order[length_filter.keep_mask(lengths)[order]]
    batches = make_batches(order, lengths, batch_size=batch_size, max_seqs=max_seqs)
    return EpochPlan(batches=batches, num_seqs=len(order), num_skipped=num_before - len(order))
