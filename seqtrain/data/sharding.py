"""Each rank's share of an epoch's global batch list: the same number of steps everywhere, nothing dropped.

Every rank computes the same global list (`seqtrain.data.epoch.plan_epoch`); this module only decides
which part of it a rank trains in which step. `batch_size` is read in one of two ways with N processes:

  per device (default)       every batch of the list goes to one rank: step s trains batches sN ... sN+N-1,
                             rank r takes batch sN+r. A step sees N batches, an epoch has ceil(B/N) steps.
  global (batch_size_is_global)  step s trains batch s of the list, its sequences dealt out to the ranks
                             (rank r takes sequences r, r+N, ...). An epoch has as many steps as with one
                             process, and the update of a step is the one of the whole batch.

Remainder rule: a rank without data in a step (the last step when B is not a multiple of N; a global
batch with fewer than N sequences) gets an *empty* batch. It runs no forward pass, contributes a zero
gradient and still takes part in every collective of the step, so no rank waits for another forever
and no sequence is dropped or seen twice.

Resume: a checkpoint records the sharding and how many global batches were done. With the same
number of processes the lists are rebuilt identically (bitwise resume). With another number (or the
other batch_size reading) the rest of the epoch, from the first global batch not yet trained, is dealt
out anew; steps keep counting from the resumed step, whose earlier entries are empty placeholders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from seqtrain.data.batching import BatchSpec
from seqtrain.data.epoch import EpochPlan

EMPTY = BatchSpec(())


@dataclass(frozen=True)
class Sharding:
    """Which process this is, of how many, and how `batch_size` is read."""

    world_size: int = 1
    rank: int = 0
    batch_size_is_global: bool = False

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} of world size {self.world_size}")

    @property
    def mode(self) -> str:
        return "global" if self.batch_size_is_global else "per device"


@dataclass(frozen=True)
class ShardOrigin:
    """Dealing out starts at global batch `batch`, which is trained in step `step` (both 0 unless resumed)."""

    batch: int = 0
    step: int = 0


@dataclass(frozen=True)
class ShardedEpochPlan(EpochPlan):
    """An `EpochPlan` whose `batches` are this rank's, one per step (empty: no data in that step).

    `fingerprint()` stays the one of the global list, so resume compares what all ranks share.
    """

    global_plan: EpochPlan | None = None
    sharding: Sharding = field(default_factory=Sharding)
    origin: ShardOrigin = field(default_factory=ShardOrigin)
    active_ranks: tuple[int, ...] = ()  # per step: how many ranks have data

    def fingerprint(self) -> str:
        return self.global_plan.fingerprint() if self.global_plan is not None else super().fingerprint()

    @property
    def num_global_batches(self) -> int:
        return len(self.global_plan.batches) if self.global_plan is not None else len(self.batches)

    def global_batches_done(self, steps_done: int) -> int:
        """How many batches of the global list all ranks together trained in the first `steps_done` steps."""
        return _global_batches_done(
            self.sharding, self.origin, steps_done=steps_done, num_global=self.num_global_batches
        )

    def state_dict(self, steps_done: int) -> dict[str, Any]:
        """What a checkpoint records so that a resume can continue at the right global batch."""
        return {
            "world_size": self.sharding.world_size,
            "batch_size_is_global": self.sharding.batch_size_is_global,
            "origin_batch": self.origin.batch,
            "origin_step": self.origin.step,
            "global_batches_done": self.global_batches_done(steps_done),
        }


def split_batch(spec: BatchSpec, parts: int) -> list[BatchSpec]:
    """Deals the sequences of one batch out to `parts` ranks; strided, so a length-sorted batch splits evenly."""
    return [
        BatchSpec(spec.seq_indices[r::parts], None if spec.chunks is None else spec.chunks[r::parts])
        for r in range(parts)
    ]


def _global_batches_done(sharding: Sharding, origin: ShardOrigin, *, steps_done: int, num_global: int) -> int:
    steps_here = max(steps_done - origin.step, 0)
    per_step = 1 if sharding.batch_size_is_global else sharding.world_size
    return min(origin.batch + steps_here * per_step, num_global)


def shard_epoch(plan: EpochPlan, sharding: Sharding, origin: ShardOrigin | None = None) -> ShardedEpochPlan:
    """This rank's batch per step (see the module doc for the two readings of batch_size and the remainder rule)."""
    origin = origin or ShardOrigin()
    n, rank = sharding.world_size, sharding.rank
    steps: list[BatchSpec] = [EMPTY] * origin.step  # trained before a resume that changed the sharding
    active: list[int] = [0] * origin.step
    rest = plan.batches[min(origin.batch, len(plan.batches)) :]
    if sharding.batch_size_is_global:
        for spec in rest:
            parts = split_batch(spec, n)
            steps.append(parts[rank])
            active.append(sum(1 for p in parts if len(p)))
    else:
        for s in range(math.ceil(len(rest) / n)):
            group = rest[s * n : (s + 1) * n]
            steps.append(group[rank] if rank < len(group) else EMPTY)
            active.append(len(group))
    values = {f.name: getattr(plan, f.name) for f in fields(EpochPlan)}
    values["batches"] = steps
    return ShardedEpochPlan(**values, global_plan=plan, sharding=sharding, origin=origin, active_ranks=tuple(active))


def resume_origin(saved: dict[str, Any] | None, sharding: Sharding, *, steps_done: int, num_global: int) -> ShardOrigin:
    """Where to deal out from when resuming after `steps_done` steps of an epoch.

    `saved` is `ShardedEpochPlan.state_dict` from the checkpoint (None: a single-process checkpoint).
    Same world size and reading: the saved origin, so every rank gets exactly its old list back.
    Otherwise a new origin at the first global batch that was not trained yet.
    """
    saved = saved or {}
    old = Sharding(
        world_size=int(saved.get("world_size", 1)), batch_size_is_global=bool(saved.get("batch_size_is_global", False))
    )
    old_origin = ShardOrigin(int(saved.get("origin_batch", 0)), int(saved.get("origin_step", 0)))
    if old.world_size == sharding.world_size and old.batch_size_is_global == sharding.batch_size_is_global:
        return old_origin
    done = _global_batches_done(old, old_origin, steps_done=steps_done, num_global=num_global)
    return ShardOrigin(batch=done, step=steps_done)


def rank_share(batches: list[BatchSpec], sharding: Sharding) -> list[BatchSpec]:
    """Evaluation: rank r takes batches r, r+N, ...; no collective runs per batch, so uneven shares are fine."""
    return batches[sharding.rank :: sharding.world_size]


def describe(plan: ShardedEpochPlan) -> str:
    """One log line: how the global list became steps."""
    s = plan.sharding
    todo = plan.active_ranks[plan.origin.step :]
    idle = sum(1 for i, spec in enumerate(plan.batches[plan.origin.step :]) if not len(spec))
    resumed = f", dealt out from global batch {plan.origin.batch}" if plan.origin.batch else ""
    return (
        f"{plan.num_global_batches} global batches -> {len(todo)} steps on {s.world_size} processes "
        f"(batch_size {s.mode}{resumed}); rank {s.rank} has no data in {idle} of them"
    )
