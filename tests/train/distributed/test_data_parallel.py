"""DDP with summed gradients, explicit gradient all-reduce, parameter and optimizer-state averaging, on two real
gloo processes."""

from __future__ import annotations

import multiprocessing as mp
import socket
import traceback
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.distributed as dist

from seqtrain.config import Config
from seqtrain.data.collate import Batch
from seqtrain.errors import ConfigError
from seqtrain.model.make_builder import make_model_builder
from seqtrain.model.precision import Precision
from seqtrain.train.compile import compile_model
from seqtrain.train.distributed.data_parallel import (
    DDPGradients,
    ExplicitGradients,
    ParameterAveraging,
    RankStepContext,
    all_reduce_gradients,
    average_optimizer_state,
    average_tensors,
    replica_digest,
    wrap_in_ddp,
)
from seqtrain.train.step import TrainStep, forward_backward


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


class _TwoBranches(torch.nn.Module):
    """`used` always computes the loss; `aux` only for sequences tagged "aux" (a branch some steps skip)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.used = torch.nn.Linear(2, 1, bias=False)
        self.aux = torch.nn.Linear(2, 1, bias=False)


def _two_branch_step(*, model: _TwoBranches, batch: Batch, ctx: Any) -> None:
    ctx.mark_as_loss("main", model.used(batch["data"]))
    if batch.seq_tags[0] == "aux":
        ctx.mark_as_loss("aux", model.aux(batch["data"]))


def _step(model: torch.nn.Module | None = None) -> TrainStep:
    config = Config.from_dict({"get_model": lambda **_: _TwoBranches(), "train_step": _two_branch_step})
    model = model if model is not None else _TwoBranches()
    return TrainStep(model, make_model_builder(config), Precision(), torch.device("cpu"))


def _batch(values: list[float], tag: str = "main") -> Batch:
    if not values:
        return Batch({"data": torch.zeros(0, 2)}, {"data": torch.zeros(0, dtype=torch.int32)}, [], [])
    data = torch.tensor([[v, 1.0] for v in values])
    return Batch({"data": data}, {"data": torch.ones(len(values), dtype=torch.int32)}, [tag] * len(values), [0])


def _grads(model: torch.nn.Module) -> dict[str, list[float] | None]:
    return {n: None if p.grad is None else p.grad.flatten().tolist() for n, p in model.named_parameters()}


def _ddp_steps(rank: int, *, batches: list[list[tuple[list[float], str]]], active: tuple[int, ...], options: dict):
    """Runs the given batches per step (a list per rank) through DDPGradients; the gradients after each update."""
    step = _step()
    sync = DDPGradients(wrap_in_ddp(step, None, options), active_ranks=active, world_size=2)
    params = list(step.model.parameters())
    seen = []
    for step_in_epoch, per_rank in enumerate(batches):
        values, tag = per_rank[rank]
        ctx = sync.step_context(epoch=1, step=step_in_epoch, step_in_epoch=step_in_epoch)
        with sync.backward_sync(sync=True, step_in_epoch=step_in_epoch):
            forward_backward(sync.step, _batch(values, tag), ctx)
        sync.before_update(params, step_in_epoch=step_in_epoch)
        seen.append(_grads(step.model))
        for p in params:
            p.grad = None
    return seen


def _ddp_sums(rank: int) -> list[dict[str, list[float] | None]]:
    both = [([1.0, 2.0], "aux"), ([3.0], "main")]  # step 0: rank 0 uses the aux branch, rank 1 does not
    empty = [([4.0], "main"), ([], "main")]  # step 1: rank 1 has no data
    options = {"find_unused_parameters": True}
    return _ddp_steps(rank, batches=[both, empty, both], active=(2, 1, 2), options=options)


def test_ddp_sums_gradients_and_a_rank_without_data_contributes_exactly_zero() -> None:
    """Loss main = sum of x·w: d/dw = sum of the inputs [x, 1] over all ranks' sequences (no averaging)."""
    expected_both = {"used.weight": [6.0, 3.0], "aux.weight": [3.0, 2.0]}  # aux only from rank 0's two seqs
    expected_empty = {"used.weight": [4.0, 1.0], "aux.weight": None}  # no rank used aux: no gradient, as in 1 process
    assert run_ranks(_ddp_sums) == [[expected_both, expected_empty, expected_both]] * 2


def _ddp_without_find_unused(rank: int) -> str:
    try:
        _ddp_steps(rank, batches=[[([1.0], "main"), ([2.0], "main")]], active=(2,), options={})
    except ConfigError as e:
        return str(e)
    return "no error"


def test_ddp_names_parameters_without_gradient_unless_told_to_find_them() -> None:
    for message in run_ranks(_ddp_without_find_unused):
        assert "1 trainable parameters got no gradient in a step (aux.weight)" in message
        assert "'find_unused_parameters': True" in message


def _ddp_accumulated(rank: int) -> dict[str, list[float] | None]:
    """Two batches per update: the first under no_sync (local), the second reduces both."""
    step = _step()
    sync = DDPGradients(wrap_in_ddp(step, None, {"find_unused_parameters": True}), active_ranks=(2, 2), world_size=2)
    for i, values in enumerate([[1.0 + rank], [10.0 * (rank + 1)]]):
        ctx = sync.step_context(epoch=1, step=i, step_in_epoch=i)
        with sync.backward_sync(sync=i == 1, step_in_epoch=i):
            forward_backward(sync.step, _batch(values), ctx)
    sync.before_update(list(step.model.parameters()), step_in_epoch=1)
    return _grads(step.model)


def test_ddp_accumulates_locally_under_no_sync_and_reduces_the_sum_once() -> None:
    expected = {"used.weight": [1.0 + 2.0 + 10.0 + 20.0, 4.0], "aux.weight": None}
    assert run_ranks(_ddp_accumulated) == [expected, expected]


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
    ExplicitGradients(_step(), active_ranks=(1,), world_size=2).before_update([a], step_in_epoch=0)  # rank 1: no data
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
    sync = ParameterAveraging(_step(model), sync_every=2, rank=rank, sync_on_cpu=rank == 1)
    seen = []
    for step_in_epoch in range(2):
        sync.after_update(step_in_epoch=step_in_epoch)
        seen.append(model.weight.flatten().tolist())
    return seen


def test_parameters_are_averaged_every_k_steps_only() -> None:
    assert run_ranks(_param_averaging) == [[[0.0], [0.5]], [[1.0], [0.5]]]


def test_normalized_losses_count_one_over_the_ranks_with_data() -> None:
    ctx = ExplicitGradients(_step(), active_ranks=(2, 1), world_size=2).step_context(epoch=1, step=0, step_in_epoch=0)
    assert isinstance(ctx, RankStepContext)
    ctx.mark_as_loss("ce", torch.tensor([1.0, 3.0], requires_grad=True), use_normalized_loss=True)
    ctx.mark_as_loss("ctc", torch.tensor([5.0], requires_grad=True), scale=0.5)
    assert (ctx.losses["ce"].scale, ctx.losses["ctc"].scale) == (0.5, 0.5)
    total = ctx.total_loss()
    assert total is not None and float(total.detach()) == 0.5 * 4.0 / 2 + 0.5 * 5.0
    last = DDPGradients(torch.nn.Linear(1, 1), active_ranks=(2, 1), world_size=2).step_context(
        epoch=1, step=1, step_in_epoch=1
    )
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


def _ddp_compiled(rank: int) -> list[dict[str, list[float] | None]]:
    """A compiled model (aot_eager: torch.compile's graphs with autograd, no code generation) inside DDP."""
    step = _step()
    compile_model(step.model.used, {"backend": "aot_eager"})
    sync = DDPGradients(wrap_in_ddp(step, None, {"find_unused_parameters": True}), active_ranks=(2, 2), world_size=2)
    seen = []
    for i, values in enumerate([[1.0 + rank], [2.0, 3.0 + rank]]):
        ctx = sync.step_context(epoch=1, step=i, step_in_epoch=i)
        with sync.backward_sync(sync=True, step_in_epoch=i):
            forward_backward(sync.step, _batch(values), ctx)
        sync.before_update(list(step.model.parameters()), step_in_epoch=i)
        seen.append(_grads(step.model))
        for p in step.model.parameters():
            p.grad = None
    return seen


def test_ddp_reduces_the_gradients_of_a_compiled_model() -> None:
    expected = [{"used.weight": [3.0, 2.0], "aux.weight": None}, {"used.weight": [11.0, 4.0], "aux.weight": None}]
    assert run_ranks(_ddp_compiled) == [expected, expected]
