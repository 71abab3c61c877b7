"""Multi-process training under torchrun: launch, rank-aware logging, agreement between ranks, teardown.

    torchrun --nproc_per_node=4 -m seqtrain train config.py                    # one node, 4 GPUs or CPU processes
    torchrun --nnodes=2 --node_rank=R --master_addr=HOST --nproc_per_node=8 -m seqtrain train config.py

The engine talks to a `DistributedRun`: a single process is one too (all operations are no-ops), so the
engine has no "if distributed" branches. The rules a multi-process run follows:

- Every rank computes the same global batch list and trains its share (`seqtrain.data.sharding`); every
  rank runs the same number of steps and the same collectives in the same order, so none can wait forever.
- Everything the ranks must agree on is checked or agreed, not assumed: the batch list, learning rate and
  global step at every epoch start (differing data files or checkpoints are an error naming the rank), and a
  stop request (SIGTERM reaches the ranks at different steps) or a due checkpoint after every step.
- Only rank 0 writes (checkpoints, scores file, log file, TensorBoard); all ranks read the checkpoint to
  resume from. Scores are summed over the ranks before anyone sees them, so LR control decides the same
  everywhere.
- A rank that fails stops all of them within seconds, with its message (`seqtrain.train.distributed.rank_failure`);
  collectives time out after `timeout_sec`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from seqtrain.data.batching import BatchSpec
from seqtrain.data.epoch import EpochPlan
from seqtrain.data.sharding import ShardedEpochPlan, Sharding, ShardOrigin, describe, rank_share, resume_origin
from seqtrain.data.sharding import shard_epoch as shard_plan
from seqtrain.device import pick_device
from seqtrain.errors import ConfigError, SeqtrainError
from seqtrain.train.determinism import determinism_summary
from seqtrain.train.distributed.data_parallel import (
    DDPGradients,
    ExplicitGradients,
    ParameterAveraging,
    average_optimizer_state,
    average_tensors,
    broadcast_optimizer_state,
    broadcast_tensors,
    float_buffers,
    replica_digest,
    wrap_in_ddp,
)
from seqtrain.train.distributed.options import DistributedOptions, parse_options
from seqtrain.train.distributed.rank_failure import FailureChannel, FailureWatcher, RankFailed, stop_message
from seqtrain.train.epoch_stats import EpochStats
from seqtrain.train.model_state import ModelState
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.step import ParallelStep, TrainStep

log = logging.getLogger("seqtrain")


@dataclass(frozen=True)
class Launch:
    """What torchrun (or any env:// launcher) tells a worker about its place in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    master_addr: str = ""
    master_port: int = 0
    run_id: str = ""

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Launch:
        world_size = int(env.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in env]
        if missing:
            raise ConfigError(
                f"WORLD_SIZE={world_size} but {missing} are not set; start multi-process runs with torchrun"
            )
        return cls(
            rank=int(env["RANK"]),
            world_size=world_size,
            local_rank=int(env.get("LOCAL_RANK", "0")),
            local_world_size=int(env.get("LOCAL_WORLD_SIZE", "1")),
            master_addr=env["MASTER_ADDR"],
            master_port=int(env["MASTER_PORT"]),
            run_id=f"{env.get('TORCHELASTIC_RUN_ID', 'run')}/{env.get('TORCHELASTIC_RESTART_COUNT', '0')}",
        )


def rank_device(spec: str | None, launch: Launch) -> torch.device:
    """The device of this rank: cuda:LOCAL_RANK when training on GPUs with several processes per node."""
    device = pick_device(spec)
    if device.type != "cuda" or launch.world_size == 1:
        return device
    if device.index is not None and launch.local_world_size > 1:
        raise ConfigError(
            f"device={spec!r}: with {launch.local_world_size} processes per node each one uses cuda:LOCAL_RANK; "
            "set device='cuda' (or leave it unset)"
        )
    if launch.local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"LOCAL_RANK {launch.local_rank} but only {torch.cuda.device_count()} GPUs are visible; "
            "start at most that many processes per node"
        )
    device = torch.device("cuda", launch.local_rank)
    torch.cuda.set_device(device)
    return device


class DistributedRun:
    """One process: every operation is the trivial one. `ProcessGroupRun` is the multi-process version."""

    def __init__(self, options: DistributedOptions, device: torch.device, launch: Launch | None = None) -> None:
        self.options = options
        self.device = device
        self.launch = launch or Launch()
        self.sharding = Sharding(self.launch.world_size, self.launch.rank, options.batch_size_is_global)

    @classmethod
    def single_process(cls, torch_distributed: dict[str, Any] | None, device_spec: str | None) -> DistributedRun:
        return cls(parse_options(torch_distributed), pick_device(device_spec))

    @property
    def rank(self) -> int:
        return self.launch.rank

    @property
    def world_size(self) -> int:
        return self.launch.world_size

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and logs at full verbosity."""
        return self.launch.rank == 0

    def start_logging(self, verbosity: int) -> None:
        """After the log handlers exist: ranks other than 0 log warnings and errors only (everything at
        verbosity 5), prefixed by their rank; rank 0 logs how the run is set up."""
        if self.is_main and (summary := determinism_summary()):
            log.info("deterministic_train: %s", summary)

    # ---- data

    def shard_train(self, plan: EpochPlan, *, resumed: dict[str, Any] | None, steps_done: int) -> ShardedEpochPlan:
        """This rank's steps of the epoch; `resumed` is the mid-epoch checkpoint the epoch continues from."""
        origin = ShardOrigin()
        if resumed is not None:
            saved = resumed.get("distributed", {}).get("sharding")
            origin = resume_origin(saved, self.sharding, steps_done=steps_done, num_global=len(plan.batches))
        sharded = shard_plan(plan, self.sharding, origin)
        if self.world_size > 1 or origin.batch:
            log.info("%s", describe(sharded))
        return sharded

    def eval_batches(self, batches: list[BatchSpec]) -> list[BatchSpec]:
        return rank_share(batches, self.sharding)

    # ---- agreement

    def check_agree(self, what: str, **values: object) -> None:
        """Raises if any rank has other `values` than rank 0 (differing data, config or checkpoint)."""

    def agree_on_stop(self, stop_signal: int | None, checkpoint_due: bool) -> tuple[int | None, bool]:
        """After every step: stop and checkpoint when any rank wants to (a signal reaches ranks at different steps)."""
        return stop_signal, checkpoint_due

    def reduce_scores(self, acc: ScoreAccumulator) -> ScoreAccumulator:
        """The scores of all ranks together (a new accumulator; `acc` is kept)."""
        return acc

    def reduce_epoch_stats(self, stats: EpochStats, acc: ScoreAccumulator) -> EpochStats:
        return stats

    def step_sync(self, plan: EpochPlan, step: TrainStep) -> ParallelStep | None:
        """How the training loop combines the ranks' steps; None in a single process."""
        return None

    def sync_replicas(self, state: ModelState, *, reason: str) -> None:
        """Makes all replicas equal before a checkpoint or an evaluation."""

    # ---- checkpoints

    def checkpoint_state(self, plan: EpochPlan, steps_done: int) -> dict[str, Any]:
        """What a checkpoint records about the processes, so a resume (also with another number) can continue."""
        sharding = plan.state_dict(steps_done) if isinstance(plan, ShardedEpochPlan) else None
        return {
            "world_size": self.world_size,
            "reduce_type": self.options.reduce_type,
            "sharding": sharding,
            "torch_version": str(torch.__version__),
            "num_threads": torch.get_num_threads(),
        }

    def log_resume(self, state: dict[str, Any]) -> None:
        """Says what differs from the run that wrote the checkpoint, and what that changes."""
        saved = state.get("distributed") or {}
        old_world = int(saved.get("world_size", 1))
        if old_world != self.world_size:
            log.warning(
                "WARNING: resuming a %d-process checkpoint with %d process(es): with batch_size per device a step "
                "now sees %d instead of %d batches (steps per epoch and step-based schedules change accordingly); "
                "an unfinished epoch continues at the first global batch not trained yet",
                old_world, self.world_size, self.world_size, old_world,
            )  # fmt: skip
        threads = saved.get("num_threads")
        if threads is not None and int(threads) != torch.get_num_threads():
            log.warning(
                "WARNING: the checkpoint was written with %s intra-op threads, this process has %d: CPU results may "
                "differ in the last bits from an uninterrupted run", threads, torch.get_num_threads(),
            )  # fmt: skip

    def close(self, *, failed: bool) -> None:
        pass


class ProcessGroupRun(DistributedRun):
    """Several processes joined by torch.distributed."""

    def __init__(self, options: DistributedOptions, device: torch.device, launch: Launch) -> None:
        super().__init__(options, device, launch)
        backend = options.backend or ("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")
        timeout = timedelta(seconds=options.timeout_sec)
        try:
            dist.init_process_group(backend=backend, timeout=timeout, rank=launch.rank, world_size=launch.world_size)
        except (RuntimeError, ValueError) as e:
            raise ConfigError(
                f"torch.distributed setup failed (backend {backend!r}, {launch.master_addr}:{launch.master_port}): {e}"
            ) from e
        self.backend = backend
        # Control messages (agreement, scores) are small CPU tensors: their own gloo group, whatever the backend.
        self.control = None if backend == "gloo" else dist.new_group(backend="gloo", timeout=timeout)
        self.failures = FailureChannel.connect(
            host=launch.master_addr, port=launch.master_port, prefix=f"seqtrain/{launch.run_id}/", rank=launch.rank
        )
        self.watcher = FailureWatcher(self.failures)
        self.watcher.start()
        self._ddp_module: torch.nn.Module | None = None
        self._ddp_key: tuple[int, tuple[str, ...]] | None = None

    def start_logging(self, verbosity: int) -> None:
        if self.is_main:
            o = self.options
            log.info(
                "torch.distributed: %d processes (%d per node), backend %s, device %s, reduce_type %s%s, batch_size %s",
                self.world_size, self.launch.local_world_size, self.backend, self.device, o.reduce_type,
                f" (param_sync_step {o.param_sync_step})" if o.reduce_type == "param" else "", self.sharding.mode,
            )  # fmt: skip
            super().start_logging(verbosity)
            return
        logger = logging.getLogger("seqtrain")
        for handler in logger.handlers:
            handler.setFormatter(logging.Formatter(f"[rank {self.rank}] %(message)s"))
        if verbosity < 5:
            logger.setLevel(logging.WARNING)

    def _gather(self, value: object) -> list[object]:
        gathered: list[object] = [None] * self.world_size
        dist.all_gather_object(gathered, value, group=self.control)
        return gathered

    def check_agree(self, what: str, **values: object) -> None:
        gathered = self._gather(values)
        for rank, other in enumerate(gathered):
            if other != gathered[0]:
                assert isinstance(other, dict) and isinstance(gathered[0], dict)
                diff = "; ".join(
                    f"{k}: {gathered[0].get(k)!r} on rank 0, {other.get(k)!r} on rank {rank}"
                    for k in values
                    if other.get(k) != gathered[0].get(k)
                )
                raise SeqtrainError(
                    f"{what}: the ranks disagree ({diff}). All ranks must see the same config, data files and "
                    "`model` directory (a shared filesystem when training on several nodes)."
                )

    def agree_on_stop(self, stop_signal: int | None, checkpoint_due: bool) -> tuple[int | None, bool]:
        flags = torch.tensor([stop_signal or 0, int(checkpoint_due)], dtype=torch.int64)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.control)
        return (int(flags[0]) or None), bool(flags[1])

    def reduce_scores(self, acc: ScoreAccumulator) -> ScoreAccumulator:
        """Sums the accumulators in rank order (the same float additions on every rank, in every run)."""
        total: dict[str, dict[str, float]] = {"sums": {}, "norms": {}}
        for state in self._gather(acc.state_dict()):
            assert isinstance(state, dict)
            for part in ("sums", "norms"):
                for name, value in state[part].items():
                    total[part][name] = total[part].get(name, 0.0) + float(value)
        reduced = ScoreAccumulator()
        reduced.load_state_dict(total)
        return reduced

    def reduce_epoch_stats(self, stats: EpochStats, acc: ScoreAccumulator) -> EpochStats:
        frames = sum(int(f) for f in self._gather(stats.frames))  # type: ignore[call-overload]
        return dataclasses.replace(stats, scores=self.reduce_scores(acc).scores(), frames=frames)

    def step_sync(self, plan: EpochPlan, step: TrainStep) -> ParallelStep | None:
        active = plan.active_ranks if isinstance(plan, ShardedEpochPlan) else ()
        if self.options.reduce_type == "param":
            o = self.options
            return ParameterAveraging(step, o.param_sync_step, self.rank, sync_on_cpu=o.sync_on_cpu)
        if self.options.reduce_type == "grad_explicit":
            return ExplicitGradients(step, active, self.world_size)
        return DDPGradients(self._ddp(step), active, self.world_size)

    def _ddp(self, step: TrainStep) -> torch.nn.Module:
        """The DDP module of this epoch: the previous one while the model and its trainable parameters are the
        same (pretraining rebuilds the model, a `trainable_params` schedule changes what DDP reduces).
        An old DDP module is released before a new one is made: its gradient hooks on shared parameters
        would otherwise reduce those gradients a second time."""
        key = (id(step.model), tuple(name for name, p in step.model.named_parameters() if p.requires_grad))
        if self._ddp_key != key:
            self._ddp_module = None
            gc.collect()
            self._ddp_module = wrap_in_ddp(step, self.options.ddp_class, self.options.ddp_options)
            self._ddp_key = key
        assert self._ddp_module is not None
        return self._ddp_module

    def sync_replicas(self, state: ModelState, *, reason: str) -> None:
        """grad: replicas must already be equal (checked; rank 0's wins if not); BatchNorm-like statistics
        are averaged. param: parameters, statistics and optimizer state are averaged."""
        model, optimizer = state.model, state.optimizer
        assert model is not None and optimizer is not None
        start = time.perf_counter()
        if self.options.reduce_type == "param":
            average_tensors([p.detach() for p in model.parameters()] + float_buffers(model))
            if not average_optimizer_state(optimizer, control=self.control):
                log.warning("WARNING: %s: optimizer states differ in shape between ranks; all take rank 0's", reason)
                broadcast_optimizer_state(optimizer, group=self.control)
        else:
            average_tensors(float_buffers(model))
            digests = self._gather(replica_digest(model))
            if len(set(digests)) != 1:
                log.warning(
                    "WARNING: %s: the parameters differ between ranks (non-deterministic kernels?); all take rank 0's",
                    reason,
                )
                broadcast_tensors(p.detach() for p in model.parameters())
        log.debug("%s: replicas synchronized in %.3f s", reason, time.perf_counter() - start)

    def close(self, *, failed: bool) -> None:
        self.watcher.stop()
        if not failed:
            dist.barrier(group=self.control)  # nobody leaves while rank 0 still writes and might need the others
        if not failed or "nccl" not in self.backend:  # a broken NCCL communicator can hang in destroy
            dist.destroy_process_group()

    def failure_error(self, error: BaseException) -> BaseException:
        """What this rank raises for `error`: another rank's failure if that is the cause, else `error`,
        which is then reported so that the other ranks stop as well."""
        collective = _is_collective_error(error)
        try:
            cause = self.failures.failure(wait_sec=1.0 if collective else 0.0)
        except Exception:  # the store is gone with the launcher: no message to find
            cause = None
        if cause is not None and cause.rank != self.rank:
            return RankFailed(stop_message(cause, self.rank))
        if collective:  # nobody reported: a rank died without a word, or the collective timed out
            error = RankFailed(
                f"rank {self.rank}: a collective operation failed ({str(error).splitlines()[0][:300]}); another "
                "rank probably died (killed, out of memory: see its log) or did not answer within timeout_sec"
            )
        try:
            self.failures.report(str(error) if isinstance(error, SeqtrainError) else f"{type(error).__name__}: {error}")
        except Exception as e:  # the store is gone (the launcher ended): nothing to tell anymore
            log.debug("could not report the failure to the other ranks: %s", e)
        return error


_COLLECTIVE_CODE = ("torch/distributed/", "seqtrain/train/distributed/")


# DDP reduces inside backward: a broken all-reduce surfaces from autograd, naming the communication hook.
_HOOK_FAILURE = "seqtrain/train/distributed/data_parallel.py"


def _is_collective_error(error: BaseException) -> bool:
    """A broken or timed-out collective (usually the symptom of another rank's failure), told apart from a
    RuntimeError of the user's code by where it was raised: gloo's errors are plain RuntimeErrors."""
    if isinstance(error, dist.DistError):
        return True
    if type(error) is not RuntimeError or error.__traceback__ is None:
        return False
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_code.co_filename.replace(os.sep, "/")
    if "torch/autograd/" in where and _HOOK_FAILURE in str(error).replace(os.sep, "/"):
        return True
    return any(part in where for part in _COLLECTIVE_CODE)


def _record_for_torchrun(error: BaseException) -> None:
    """torchrun's summary names the root cause from this file instead of "To enable traceback see ..."."""
    if not os.environ.get("TORCHELASTIC_ERROR_FILE"):
        return
    try:
        from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

        ErrorHandler().record_exception(error if isinstance(error, Exception) else RuntimeError(repr(error)))
    except Exception as e:  # reporting must never hide the error itself
        log.debug("could not write torchrun's error file: %s", e)


@contextmanager
def distributed_run(
    torch_distributed: dict[str, Any] | None,
    device_spec: str | None,
    *,
    coordinated: tuple[type[BaseException], ...] = (),
    environ: Mapping[str, str] | None = None,
) -> Iterator[DistributedRun]:
    """The run's processes, from the launcher's environment; a single process when torchrun did not start it.

    `coordinated` exceptions are raised by all ranks at the same step (a stop that was agreed on), so they
    are not reported as one rank's failure.
    """
    options = parse_options(torch_distributed)
    launch = Launch.from_environ(os.environ if environ is None else environ)
    device = rank_device(device_spec, launch)
    if launch.world_size == 1:
        yield DistributedRun(options, device)
        return
    run = ProcessGroupRun(options, device, launch)
    failed = True
    try:
        yield run
        failed = False
    except coordinated:
        failed = False
        raise
    except BaseException as e:
        # torchrun answers a failed rank with SIGTERM to the others; this rank is ending already and must live
        # the moment it takes to find and print the cause (the trainer's own handler is gone by now).
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        error = run.failure_error(e)
        if error is e:
            _record_for_torchrun(e)
            raise
        raise error from e
    finally:
        run.close(failed=failed)
