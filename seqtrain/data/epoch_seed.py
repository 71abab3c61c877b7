"""RETURNN's seed of an epoch (`Dataset._get_random_seed_for_epoch`): one formula for shuffling the order and for
drawing the sequences of RETURNN's generated tasks, so both change (or stay) together, as in RETURNN."""

from __future__ import annotations


def returnn_epoch_seed(
    epoch: int,
    *,
    partition_epoch: int = 1,
    fixed_for: int = 1,
    offset: int = 0,
    fixed_random_seed: int | None = None,
) -> int:
    """The seed of (sub-)epoch `epoch`: the full epoch's number (constant over its `partition_epoch` sub-epochs,
    and over `fixed_for` full epochs, RETURNN's `random:N`) plus `offset`; `fixed_random_seed` wins when given."""
    if fixed_random_seed is not None:
        return int(fixed_random_seed)
    seed = epoch or 1
    if partition_epoch > 1:
        seed = (seed - 1) // partition_epoch + 1
    if fixed_for > 1:
        seed = (seed - 1) // fixed_for + 1
    return seed + offset
