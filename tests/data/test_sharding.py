"""Each rank's share of the global batch list: same step count everywhere, nothing dropped or repeated."""

from __future__ import annotations

import pytest

from seqtrain.data.batching import BatchSpec
from seqtrain.data.epoch import EpochPlan
from seqtrain.data.sharding import (
    EMPTY,
    ShardedEpochPlan,
    Sharding,
    ShardOrigin,
    describe,
    rank_share,
    resume_origin,
    shard_epoch,
    split_batch,
)


def _plan(*batches: tuple[int, ...]) -> EpochPlan:
    specs = [BatchSpec(b) for b in batches]
    return EpochPlan(batches=specs, num_seqs=sum(len(b) for b in batches), num_skipped=0)


FIVE = _plan((0, 1), (2,), (3, 4, 5), (6,), (7, 8))


def _shards(plan: EpochPlan, world: int, *, is_global: bool = False, origin: ShardOrigin | None = None):
    return [shard_epoch(plan, Sharding(world, r, is_global), origin) for r in range(world)]


def test_per_device_rank_r_takes_every_nth_batch_and_the_remainder_step_is_empty_for_the_rest() -> None:
    rank0, rank1 = _shards(FIVE, 2)
    assert [b.seq_indices for b in rank0.batches] == [(0, 1), (3, 4, 5), (7, 8)]
    assert [b.seq_indices for b in rank1.batches] == [(2,), (6,), ()]
    assert rank0.active_ranks == rank1.active_ranks == (2, 2, 1)
    assert rank0.num_seqs == rank1.num_seqs == 9  # the epoch's numbers stay the global ones


@pytest.mark.parametrize("world", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("is_global", [False, True])
def test_every_rank_has_the_same_number_of_steps_and_all_sequences_are_trained_once(world: int, is_global: bool):
    shards = _shards(FIVE, world, is_global=is_global)
    assert len({len(s.batches) for s in shards}) == 1
    seen = sorted(i for s in shards for b in s.batches for i in b.seq_indices)
    assert seen == list(range(9))


def test_one_process_gets_the_global_list_itself() -> None:
    (only,) = _shards(FIVE, 1)
    assert only.batches == FIVE.batches
    assert only.active_ranks == (1, 1, 1, 1, 1)


def test_global_batch_size_deals_each_batch_out_strided_and_keeps_the_step_count() -> None:
    rank0, rank1 = _shards(FIVE, 2, is_global=True)
    assert [b.seq_indices for b in rank0.batches] == [(0,), (2,), (3, 5), (6,), (7,)]
    assert [b.seq_indices for b in rank1.batches] == [(1,), (), (4,), (), (8,)]
    assert rank0.active_ranks == (2, 1, 2, 1, 2)


def test_split_batch_keeps_each_sequences_chunk_window() -> None:
    windows = ({"data": (0, 10)}, {"data": (5, 15)}, {"data": (10, 20)})
    spec = BatchSpec((4, 4, 9), windows)
    parts = split_batch(spec, 2)
    assert parts[0] == BatchSpec((4, 9), (windows[0], windows[2]))
    assert parts[1] == BatchSpec((4,), (windows[1],))


def test_fingerprint_is_the_global_lists_so_resume_compares_what_all_ranks_share() -> None:
    rank0, rank1 = _shards(FIVE, 2)
    assert rank0.fingerprint() == rank1.fingerprint() == FIVE.fingerprint()


def test_global_batches_done_counts_whole_steps_of_all_ranks() -> None:
    per_device = _shards(FIVE, 2)[0]
    assert [per_device.global_batches_done(k) for k in range(4)] == [0, 2, 4, 5]
    is_global = _shards(FIVE, 2, is_global=True)[1]
    assert [is_global.global_batches_done(k) for k in (0, 3, 5)] == [0, 3, 5]
    assert per_device.state_dict(1) == {
        "world_size": 2, "batch_size_is_global": False, "origin_batch": 0, "origin_step": 0, "global_batches_done": 2,
    }  # fmt: skip


def test_resume_with_the_same_sharding_rebuilds_the_same_lists() -> None:
    saved = _shards(FIVE, 2)[0].state_dict(1)
    origin = resume_origin(saved, Sharding(2, 1), steps_done=1, num_global=5)
    assert origin == ShardOrigin(0, 0)
    assert shard_epoch(FIVE, Sharding(2, 1), origin).batches == _shards(FIVE, 2)[1].batches


def test_resume_with_another_world_size_deals_out_the_rest_from_the_first_untrained_batch() -> None:
    saved = _shards(FIVE, 2)[0].state_dict(1)  # one step of 2 ranks: batches 0 and 1 are done
    origin = resume_origin(saved, Sharding(3, 0), steps_done=1, num_global=5)
    assert origin == ShardOrigin(batch=2, step=1)
    resumed = _shards(FIVE, 3, origin=origin)
    assert [len(s.batches) for s in resumed] == [2, 2, 2]  # step 0 is a placeholder, then one step of 3 ranks
    assert all(s.batches[0] == EMPTY for s in resumed)
    assert [s.batches[1].seq_indices for s in resumed] == [(3, 4, 5), (6,), (7, 8)]
    assert resumed[0].active_ranks == (0, 3)
    assert resumed[0].global_batches_done(2) == 5
    # from a single-process checkpoint (no sharding recorded): one batch per step
    assert resume_origin(None, Sharding(2, 0), steps_done=3, num_global=5) == ShardOrigin(3, 3)


def test_resume_from_per_device_to_global_batch_size_continues_at_the_right_batch() -> None:
    saved = _shards(FIVE, 2)[0].state_dict(2)  # 4 batches done
    origin = resume_origin(saved, Sharding(2, 0, batch_size_is_global=True), steps_done=2, num_global=5)
    assert origin == ShardOrigin(4, 2)
    rank0, rank1 = _shards(FIVE, 2, is_global=True, origin=origin)
    assert [b.seq_indices for b in rank0.batches[2:]] == [(7,)]
    assert [b.seq_indices for b in rank1.batches[2:]] == [(8,)]


def test_eval_share_is_every_nth_batch() -> None:
    assert rank_share(FIVE.batches, Sharding(2, 1)) == [FIVE.batches[1], FIVE.batches[3]]
    assert rank_share(FIVE.batches[:1], Sharding(3, 2)) == []


def test_describe_says_how_the_list_became_steps() -> None:
    text = describe(_shards(FIVE, 2)[1])
    assert text == "5 global batches -> 3 steps on 2 processes (batch_size per device); rank 1 has no data in 1 of them"


def test_bad_rank_is_rejected() -> None:
    with pytest.raises(ValueError, match="rank 2 of world size 2"):
        Sharding(2, 2)


def test_sharded_plan_is_an_epoch_plan() -> None:
    assert isinstance(_shards(FIVE, 2)[0], ShardedEpochPlan)
    assert isinstance(_shards(FIVE, 2)[0], EpochPlan)
