"""Gradient all-reduce, parameter and optimizer-state averaging, on two real gloo processes."""

from __future__ import annotations

import multiprocessing as mp
import socket
import traceback
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.distributed as dist

from seqtrain.train.data_parallel import (
    GradientAllReduce,
    ParameterAveraging,
    RankStepContext,
    all_reduce_gradients,
    average_optimizer_state,
    average_tensors,
    replica_digest,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(fn: Callable[[int], Any], rank: int, world: int, port: int, results: Any) -> None:
    try:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
        results.put((rank, fn(rank)))
        dist.destroy_process_group()
    except BaseException:
        results.put((rank, traceback.format_exc()))


def run_ranks(fn: Callable[[int], Any], world: int = 2) -> list[Any]:
    """Runs fn(rank) in `world` forked processes joined by a gloo process group; returns the results by rank."""
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_entry, args=(fn, r, world, port, results)) for r in range(world)]
    for p in procs:
        p.start()
    by_rank = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    for rank, value in by_rank.items():
        assert not (isinstance(value, str) and "Traceback" in value), f"rank {rank} failed:\n{value}"
    return [by_rank[r] for r in range(world)]


def _params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(n)) for n in (2, 2, 3)]


def _reduce_gradients(rank: int) -> list[list[float] | None]:
    a, b, c = _params()
    a.grad = torch.tensor([1.0, 2.0]) if rank == 0 else torch.tensor([10.0, 20.0])
    if rank == 1:
        c.grad = torch.tensor([1.0, 1.0, 1.0])  # a branch only rank 1 used
    all_reduce_gradients([a, b, c])
    return [None if p.grad is None else p.grad.tolist() for p in (a, b, c)]


def test_gradients_are_summed_and_a_parameter_no_rank_used_keeps_none() -> None:
    expected = [[11.0, 22.0], None, [1.0, 1.0, 1.0]]
    assert run_ranks(_reduce_gradients) == [expected, expected]


def _idle_rank_gradients(rank: int) -> list[float]:
    (a,) = _params()[:1]
    if rank == 0:
        a.grad = torch.tensor([0.25, -4.0])
    GradientAllReduce(active_ranks=(1,)).before_update([a])  # rank 1 had no data in this step
    return a.grad.tolist()


def test_a_rank_without_data_contributes_exactly_zero() -> None:
    assert run_ranks(_idle_rank_gradients) == [[0.25, -4.0], [0.25, -4.0]]


def _average(rank: int) -> list[float]:
    t = torch.tensor([1.0, 3.0]) * (rank + 1)
    average_tensors([t])
    return t.tolist()


def test_average_tensors_is_the_mean_over_ranks() -> None:
    assert run_ranks(_average) == [[1.5, 4.5], [1.5, 4.5]]


def _adam_states(rank: int, *, step_rank_1: bool = True) -> tuple[list[float], list[float], bool]:
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([p], lr=0.1)
    if rank == 0 or step_rank_1:
        p.grad = torch.tensor([1.0, -1.0]) * (rank + 1)
        opt.step()
    before = opt.state[p]["exp_avg"].tolist() if p in opt.state else []
    ok = average_optimizer_state(opt)
    after = opt.state[p]["exp_avg"].tolist() if p in opt.state else []
    return before, after, ok


@pytest.fixture(scope="module")
def optimizer_imported() -> None:
    """The first optimizer step imports torch._dynamo (seconds); do it once here, the forked ranks inherit it."""
    p = torch.nn.Parameter(torch.zeros(1))
    p.grad = torch.ones(1)
    torch.optim.Adam([p]).step()


@pytest.mark.usefixtures("optimizer_imported")
def test_optimizer_moments_are_averaged() -> None:
    (before0, after0, ok0), (before1, after1, ok1) = run_ranks(_adam_states)
    assert ok0 and ok1
    assert before0 == pytest.approx([0.1, -0.1]) and before1 == pytest.approx([0.2, -0.2])  # (1 - beta1) * grad
    assert after0 == after1 == ((torch.tensor(before0) + torch.tensor(before1)) / 2).tolist()  # float32, exact


def _adam_states_rank_1_never_stepped(rank: int) -> tuple[list[float], list[float], bool]:
    return _adam_states(rank, step_rank_1=False)


@pytest.mark.usefixtures("optimizer_imported")
def test_optimizer_states_of_different_shape_are_left_alone() -> None:
    (_, after0, ok0), (_, after1, ok1) = run_ranks(_adam_states_rank_1_never_stepped)
    assert not ok0 and not ok1
    assert after0 == pytest.approx([0.1, -0.1]) and after1 == []


def _param_averaging(rank: int) -> list[list[float]]:
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(float(rank))
    sync = ParameterAveraging(model, sync_every=2, rank=rank)
    seen = []
    for step_in_epoch in range(2):
        sync.after_update(step_in_epoch=step_in_epoch)
        seen.append(model.weight.flatten().tolist())
    return seen


def test_parameters_are_averaged_every_k_steps_only() -> None:
    assert run_ranks(_param_averaging) == [[[0.0], [0.5]], [[1.0], [0.5]]]


def test_normalized_losses_count_one_over_the_ranks_with_data() -> None:
    ctx = GradientAllReduce(active_ranks=(2, 1)).step_context(epoch=1, step=0, step_in_epoch=0)
    assert isinstance(ctx, RankStepContext)
    ctx.mark_as_loss("ce", torch.tensor([1.0, 3.0], requires_grad=True), use_normalized_loss=True)
    ctx.mark_as_loss("ctc", torch.tensor([5.0], requires_grad=True), scale=0.5)
    assert (ctx.losses["ce"].scale, ctx.losses["ctc"].scale) == (0.5, 0.5)
    total = ctx.total_loss()
    assert total is not None and float(total.detach()) == 0.5 * 4.0 / 2 + 0.5 * 5.0
    last = GradientAllReduce(active_ranks=(2, 1)).step_context(epoch=1, step=1, step_in_epoch=1)
    last.mark_as_loss("ce", torch.tensor([1.0], requires_grad=True), use_normalized_loss=True)
    assert last.losses["ce"].scale == 1.0


def test_replica_digest_sees_a_one_bit_difference() -> None:
    torch.manual_seed(0)
    a = torch.nn.Linear(3, 2)
    b = torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    assert replica_digest(a) == replica_digest(b)
    with torch.no_grad():
        b.bias.view(torch.int32)[0] ^= 1
    assert replica_digest(a) != replica_digest(b)
