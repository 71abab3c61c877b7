"""How the ranks of a multi-process run combine their steps: DDP, explicit gradient all-reduce, or parameter averaging.

`reduce_type="grad"` (default): the train step runs inside PyTorch's DistributedDataParallel, which sums
the gradients over the ranks in buckets while backward is still running (communication overlaps
computation), then every rank clips and updates identically, so the replicas stay equal. Summing (not
averaging: a DDP communication hook) makes a step equal to one process training on the union of the ranks'
batches: a summed loss (RETURNN's default) gets exactly the gradient of the global batch; a
`use_normalized_loss` loss is normalized per rank and weighted 1/(ranks with data), i.e. the mean of the
ranks' normalized losses. Gradient accumulation runs all but the last batch of an update under `no_sync()`.

A step in which some rank has no data (the epoch's last batches do not divide evenly, or a global batch has
fewer sequences than ranks; every rank knows these steps from the epoch plan) runs on all ranks under
`no_sync()` and is reduced explicitly afterwards (`all_reduce_gradients`): the rank without data contributes
zeros and a parameter no rank computed a gradient for keeps none, as in one process. DDP's own answer to
uneven data, `Join`, is for ranks that run out of batches for good, not for one empty step in the middle.
The rank without data still calls the DDP module (its step returns at once), so collectives DDP runs in
its forward (the one-time bucket rebuild) happen on every rank.

`reduce_type="grad_explicit"` (RETURNN's name): no DDP; the gradients are summed by `all_reduce_gradients`
after backward every step (no overlap; what seqtrain did before DDP, kept for comparison and for steps DDP
cannot see, e.g. a user step that calls backward itself).

`reduce_type="param"`: every rank steps on its own batches with its own optimizer state; every
`param_sync_step` steps the parameters are averaged. At the end of an epoch and at every checkpoint,
parameters, float buffers and optimizer state are averaged, so one checkpoint holds the state of all
ranks and resuming continues exactly. torch's `PeriodicModelAverager` does the same averaging, but keeps
its step count outside any state_dict (a resume would shift the period) and leaves buffers alone.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from seqtrain.errors import ConfigError
from seqtrain.model.context import StepContext
from seqtrain.train.step import TrainStep

BUCKET_BYTES = 25 * 1024 * 1024  # DDP's default bucket size


class RankStepContext(StepContext):
    """A StepContext whose normalized losses count 1/(ranks with data) each, so the gradient sum is their mean."""

    def __init__(self, *, train: bool, epoch: int, step: int, normalized_weight: float) -> None:
        super().__init__(train=train, epoch=epoch, step=step)
        self.normalized_weight = normalized_weight

    def mark_as_loss(self, name: str, loss: torch.Tensor, **kwargs: object) -> None:  # type: ignore[override]
        super().mark_as_loss(name, loss, **kwargs)  # type: ignore[arg-type]
        marked = self.losses[name]
        if marked.use_normalized_loss:
            marked.scale *= self.normalized_weight


def _buckets(tensors: list[torch.Tensor]) -> Iterator[list[int]]:
    """Indices of `tensors` grouped by (device, dtype) and cut into buckets of about BUCKET_BYTES."""
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault((t.device, t.dtype), []).append(i)
    for indices in groups.values():
        bucket: list[int] = []
        size = 0
        for i in indices:
            bucket.append(i)
            size += tensors[i].numel() * tensors[i].element_size()
            if size >= BUCKET_BYTES:
                yield bucket
                bucket, size = [], 0
        if bucket:
            yield bucket


def all_reduce_gradients(params: list[torch.nn.Parameter], *, group: dist.ProcessGroup | None = None) -> None:
    """Sums every parameter's gradient over all ranks; a parameter without a gradient on any rank keeps none.

    One flag per parameter travels in the same buffer, so a rank that had no data (all gradients None)
    or a branch that only some ranks used needs no extra collective.
    """
    pending = []
    for bucket in _buckets([p.detach() for p in params]):
        members = [params[i] for i in bucket]
        numel = sum(p.numel() for p in members)
        flat = torch.zeros(numel + len(members), dtype=members[0].dtype, device=members[0].device)
        offset = 0
        for j, p in enumerate(members):
            if p.grad is not None:
                if p.grad.is_sparse:
                    raise ConfigError("multi-process training does not support sparse gradients (sparse=True layers)")
                flat[offset : offset + p.numel()].copy_(p.grad.reshape(-1))
                flat[numel + j] = 1
            offset += p.numel()
        pending.append((members, flat, dist.all_reduce(flat, group=group, async_op=True)))
    for members, flat, work in pending:
        work.wait()
        has_grad = (flat[len(flat) - len(members) :] > 0).tolist()  # one device sync per bucket
        offset = 0
        for p, present in zip(members, has_grad):
            p.grad = flat[offset : offset + p.numel()].view_as(p) if present else None
            offset += p.numel()


@torch.no_grad()
def average_tensors(tensors: list[torch.Tensor], *, group: dist.ProcessGroup | None = None) -> None:
    """Replaces each tensor (in place) by its mean over all ranks."""
    world = dist.get_world_size(group)
    pending = []
    for bucket in _buckets(tensors):
        members = [tensors[i] for i in bucket]
        flat = torch.cat([t.reshape(-1) for t in members])
        pending.append((members, flat, dist.all_reduce(flat, group=group, async_op=True)))
    for members, flat, work in pending:
        work.wait()
        flat.div_(world)
        offset = 0
        for t in members:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()


def float_buffers(model: torch.nn.Module) -> list[torch.Tensor]:
    """Running statistics (BatchNorm and friends); integer counters stay as they are."""
    return [b for b in model.buffers() if b.is_floating_point()]


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[list[str], list[torch.Tensor]]:
    """The optimizer state's float tensors in a fixed order, and a description to check all ranks agree."""
    names, tensors = [], []
    for group_idx, group in enumerate(optimizer.param_groups):
        for param_idx, p in enumerate(group["params"]):
            for key, value in sorted(optimizer.state.get(p, {}).items()):
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    names.append(f"{group_idx}.{param_idx}.{key}{tuple(value.shape)}")
                    tensors.append(value)
    return names, tensors


def average_optimizer_state(optimizer: torch.optim.Optimizer, *, control: dist.ProcessGroup | None = None) -> bool:
    """Averages the optimizer's float state (moments, step counts); False (and nothing done) if the ranks'
    states have different shapes, e.g. a rank that never stepped yet has none. `control` carries the
    (CPU) shape check, the default group the tensors."""
    names, tensors = _optimizer_tensors(optimizer)
    gathered: list[object] = [None] * dist.get_world_size(control)
    dist.all_gather_object(gathered, hashlib.sha256(repr(names).encode()).hexdigest(), group=control)
    if len(set(gathered)) != 1:
        return False
    average_tensors(tensors)
    return True


def broadcast_optimizer_state(optimizer: torch.optim.Optimizer, *, group: dist.ProcessGroup | None = None) -> None:
    """Every rank takes rank 0's optimizer state (the fallback when the states cannot be averaged)."""
    holder: list[object] = [optimizer.state_dict() if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(holder, src=0, group=group)
    optimizer.load_state_dict(holder[0])  # type: ignore[arg-type]


@torch.no_grad()
def broadcast_tensors(tensors: Iterable[torch.Tensor], *, group: dist.ProcessGroup | None = None) -> None:
    """Every rank takes rank 0's values."""
    for t in tensors:
        dist.broadcast(t, src=dist.get_global_rank(group, 0) if group is not None else 0, group=group)


def replica_digest(model: torch.nn.Module) -> str:
    """A hash of all parameters' bytes: equal on all ranks exactly when the replicas are bitwise equal."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _sum_hook(group, bucket):  # type: ignore[no-untyped-def]
    """DDP communication hook: the bucket's gradients summed over the ranks (DDP's own hook averages).

    (No annotations: DDP checks them by value, and `from __future__ import annotations` makes them strings.)
    """
    work = dist.all_reduce(bucket.buffer(), group=group, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def _active(active_ranks: tuple[int, ...], step_in_epoch: int, world_size: int) -> int:
    return active_ranks[step_in_epoch] if step_in_epoch < len(active_ranks) else world_size


class DDPGradients:
    """The loop's ParallelStep for reduce_type "grad": the step runs in DistributedDataParallel."""

    update_seed_rank = 0  # every replica applies the same update, gradient noise included

    def __init__(self, ddp: torch.nn.Module, active_ranks: tuple[int, ...], world_size: int) -> None:
        self.step = ddp
        self.active_ranks = active_ranks
        self.world_size = world_size
        self.unused_checked = bool(getattr(ddp, "find_unused_parameters", True))  # DDP finds them itself

    def step_context(self, *, epoch: int, step: int, step_in_epoch: int) -> StepContext:
        active = _active(self.active_ranks, step_in_epoch, self.world_size)
        return RankStepContext(train=True, epoch=epoch, step=step, normalized_weight=1.0 / max(active, 1))

    def _explicit(self, step_in_epoch: int) -> bool:
        """A step in which some rank has no data: reduced after backward (see the module's docstring)."""
        return _active(self.active_ranks, step_in_epoch, self.world_size) < self.world_size

    def backward_sync(self, *, sync: bool, step_in_epoch: int) -> contextlib.AbstractContextManager[Any]:
        """DDP reduces in this backward only when it ends an update in which every rank has data."""
        if sync and not self._explicit(step_in_epoch):
            return contextlib.nullcontext()
        return self.step.no_sync()  # type: ignore[operator]

    def before_update(self, params: list[torch.nn.Parameter], *, step_in_epoch: int) -> bool:
        if self._explicit(step_in_epoch):
            all_reduce_gradients(params)
        elif not self.unused_checked:
            self._check_all_parameters_used()
        return True

    def _check_all_parameters_used(self) -> None:
        """DDP without find_unused_parameters waits for a gradient of every parameter and fails one step
        later with an error about the reduction; name the parameters now, before any update."""
        self.unused_checked = True
        module = self.step.module  # type: ignore[union-attr]
        unused = [name for name, p in module.named_parameters() if p.requires_grad and p.grad is None]
        if unused:
            names = ", ".join(n.removeprefix("model.") for n in unused[:5]) + (", ..." if len(unused) > 5 else "")
            raise ConfigError(
                f"multi-process training (DDP): {len(unused)} trainable parameters got no gradient in a step "
                f"({names}). Set torch_distributed = {{'options': {{'find_unused_parameters': True}}}}, "
                "or freeze them (trainable_params / frozen_params)"
            )

    def after_update(self, *, step_in_epoch: int) -> None:
        pass


class ExplicitGradients:
    """The loop's ParallelStep for reduce_type "grad_explicit": gradients summed after every backward."""

    update_seed_rank = 0

    def __init__(self, step: TrainStep, active_ranks: tuple[int, ...], world_size: int) -> None:
        self.step = step
        self.active_ranks = active_ranks
        self.world_size = world_size

    def step_context(self, *, epoch: int, step: int, step_in_epoch: int) -> StepContext:
        active = _active(self.active_ranks, step_in_epoch, self.world_size)
        return RankStepContext(train=True, epoch=epoch, step=step, normalized_weight=1.0 / max(active, 1))

    def backward_sync(self, *, sync: bool, step_in_epoch: int) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def before_update(self, params: list[torch.nn.Parameter], *, step_in_epoch: int) -> bool:
        all_reduce_gradients(params)
        return True

    def after_update(self, *, step_in_epoch: int) -> None:
        pass


class ParameterAveraging:
    """The loop's ParallelStep for reduce_type "param": local steps, parameters averaged every K steps."""

    def __init__(self, step: TrainStep, sync_every: int, rank: int, *, sync_on_cpu: bool = False) -> None:
        self.step = step
        self.model = step.model
        self.sync_on_cpu = sync_on_cpu
        self.sync_every = sync_every
        self.update_seed_rank = rank  # the replicas step apart until the next average

    def step_context(self, *, epoch: int, step: int, step_in_epoch: int) -> StepContext:
        return StepContext(train=True, epoch=epoch, step=step)

    def backward_sync(self, *, sync: bool, step_in_epoch: int) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def before_update(self, params: list[torch.nn.Parameter], *, step_in_epoch: int) -> bool:
        # A rank that had no data keeps its parameters and optimizer state as they are.
        return any(p.grad is not None for p in params)

    def after_update(self, *, step_in_epoch: int) -> None:
        if (step_in_epoch + 1) % self.sync_every == 0:
            tensors = [p.detach() for p in self.model.parameters()] + float_buffers(self.model)
            if not self.sync_on_cpu:
                average_tensors(tensors)
                return
            on_cpu = [t.cpu() for t in tensors]  # copies of GPU tensors; the CPU ones themselves
            average_tensors(on_cpu)
            for t, averaged in zip(tensors, on_cpu):
                if t is not averaged:
                    t.copy_(averaged)


def wrap_in_ddp(step: TrainStep, ddp_class: type | None, options: dict[str, Any]) -> torch.nn.Module:
    """DDP (or RETURNN's `class`) around the train step, with summed gradients.

    Buffers are not synchronized in the forward pass (`forward_sync_buffers=False`, torch 2.13's name for
    `broadcast_buffers=False`): they (BatchNorm statistics) are averaged at every checkpoint and epoch end
    instead, and a forward-time broadcast would pair with nothing on a rank without data.
    """
    cls = ddp_class or DistributedDataParallel
    try:
        ddp = cls(step, **{"forward_sync_buffers": False, **options})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"torch_distributed: {cls.__name__}(**options) failed with options {options!r}: {e}") from e
    if isinstance(ddp, DistributedDataParallel):
        ddp.register_comm_hook(None, _sum_hook)
    return ddp
