"""Loads and pads the batches of one epoch, in background worker processes.

The batch list is fixed before the epoch starts (`seqtrain.data.epoch`); the loader maps batch
number -> padded tensors (`seqtrain.data.collate`). Resuming at batch k is therefore just starting the
list at k, and a worker never decides what comes next, so the result does not depend on the number
of workers. A bad sequence in a worker comes back as one clear `DataError` naming it (no worker
traceback); a worker that dies (killed, out of memory) is an error naming the batch it was loading, and
so is a worker that hangs (a stuck network file system, a deadlock in native code) once `timeout` passed.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.utils.data

from seqtrain.data.batching import BatchSpec
from seqtrain.data.collate import Batch, SeqChecker, collate, pad
from seqtrain.data.dataset import Dataset, DataSpec
from seqtrain.data.worker_signals import (
    leave_trainer_process_group,
    stop_signals_blocked,
    without_torch_sigchld_handler,
)
from seqtrain.errors import DataError, SeqtrainError
from seqtrain.rng import derive_seed, seed_all

__all__ = ["Batch", "collate", "iterate_batches", "pad"]


@dataclass
class _LoadFailure:
    """A user-facing error raised in a worker, sent back as data so the main process re-raises it cleanly."""

    error_type: type[SeqtrainError]
    message: str


class _WorkerTracker:
    """Shared memory: each worker's pid and the batch it is loading, so a dead worker's batch can be named."""

    def __init__(self, context: multiprocessing.context.BaseContext, num_workers: int) -> None:
        self.pids = context.Array("q", num_workers, lock=False)
        self.loading = context.Array("q", [-1] * num_workers, lock=False)

    def batches_of_dead(self, message: str, exit_codes: Sequence[int | None] = ()) -> list[int]:
        """The batches held by the workers that died: those PyTorch's message names, and those with an exit code.

        PyTorch words it two ways: "DataLoader worker (pid(s) 123, 456) exited unexpectedly" when the main
        process notices while waiting, and "DataLoader worker (pid 123) is killed by signal" when its SIGCHLD
        handler does first; and a worker killed while the main process fetches a batch it sent shows up as
        a reset connection, naming no worker at all: then only the exit codes tell.
        """
        listed = re.search(r"pid(?:\(s\))? ([\d, ]+)", message)
        pids = {int(p) for p in re.findall(r"\d+", listed.group(1))} if listed else set()
        died = {w for w, code in enumerate(exit_codes) if code not in (None, 0)}
        return [
            self.loading[w]
            for w in range(len(self.pids))
            if (self.pids[w] in pids or w in died) and self.loading[w] >= 0
        ]


class _BatchList(torch.utils.data.Dataset):
    """Batch number -> padded Batch; what DataLoader workers execute.

    The global generators are seeded per batch from (random_seed, epoch, batch number, rank) before it is
    loaded, so randomness in a dataset's `get_seq` (augmentation) depends on which batch it is, not on
    which worker loads it: 0, 1 or 4 workers give bitwise the same batches, also after a resume.
    """

    def __init__(
        self,
        dataset: Dataset,
        batches: Sequence[BatchSpec],
        dtypes: dict[str, str],
        *,
        seed_parts: tuple[int, ...],
        tracker: _WorkerTracker | None = None,
        specs: Mapping[str, DataSpec] | None = None,
    ) -> None:
        self.dataset = dataset
        self.specs = specs
        self.batches = list(batches)
        self.dtypes = dtypes
        self.seed_parts = seed_parts  # (random_seed, epoch, number of the first batch, rank)
        self.tracker = tracker
        self._checker: SeqChecker | None = None

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> Batch | _LoadFailure:
        info = torch.utils.data.get_worker_info()
        if self.tracker is not None and info is not None:
            self.tracker.loading[info.id] = i
        try:
            if self._checker is None:
                self._checker = SeqChecker(self.dataset, list(self.dtypes), self.specs)
            random_seed, epoch, first, rank = self.seed_parts
            seed_all(derive_seed(random_seed, "data-batch", epoch, first + i, rank))
            return collate(self.dataset, self.batches[i], self.dtypes, self._checker)
        except SeqtrainError as e:
            return _LoadFailure(type(e), str(e))


class _WorkerSeeder:
    """Seeds each worker from (random_seed, epoch, worker id), so augmentation in datasets is reproducible."""

    def __init__(self, random_seed: int, epoch: int, tracker: _WorkerTracker | None = None) -> None:
        self.random_seed = random_seed
        self.epoch = epoch
        self.tracker = tracker

    def __call__(self, worker_id: int) -> None:
        if self.tracker is not None:
            self.tracker.pids[worker_id] = os.getpid()
        leave_trainer_process_group()  # a stop signal for the trainer must not kill its workers first
        seed_all(derive_seed(self.random_seed, "data-worker", self.epoch, worker_id))
        torch.set_num_threads(1)


def _unwrap(item: Batch | _LoadFailure) -> Batch:
    if isinstance(item, _LoadFailure):
        raise item.error_type(item.message)
    return item


def _describe_batch(dataset: Dataset, todo: _BatchList, start: int, position: int) -> str:
    """ "batch 7 of the epoch (sequences 'a', 'b', ...)": what a worker error names."""
    seqs = todo.batches[position].seq_indices
    tags = ", ".join(repr(dataset.seq_tag(i)) for i in seqs[:5]) + (", ..." if len(seqs) > 5 else "")
    return f"batch {start + position} of the epoch (sequences {tags})"


def _dead_worker_error(dataset: Dataset, todo: _BatchList, start: int, positions: list[int], e: Exception) -> DataError:
    """Names the batches (and their sequences) the dead workers were loading."""
    what = [_describe_batch(dataset, todo, start, position) for position in positions]
    return DataError(
        f"dataset {dataset.name!r}: a data loading worker died while loading {' and '.join(what) or 'a batch'}: "
        f"{type(e).__name__}: {e}. Out of memory, or a crash in native code (h5py, audio decoding)? Run with "
        "num_workers=0 to see the error in the main process."
    )


def _worker_exit_codes(iterator: object, *, wait_s: float = 1.0) -> list[int | None]:
    """Exit codes of the loader's worker processes (None = running); waits up to `wait_s` for one to show,
    since a worker's broken pipe can reach the main process a moment before the worker is reaped."""
    workers = getattr(iterator, "_workers", [])
    deadline = time.monotonic() + wait_s
    while True:
        codes = [w.exitcode for w in workers]
        if any(code not in (None, 0) for code in codes) or time.monotonic() >= deadline:
            return codes
        try:
            time.sleep(0.05)
        except RuntimeError as report:  # PyTorch's SIGCHLD handler says what we are waiting to see
            if "DataLoader worker" not in str(report):
                raise


def _loader_error(
    dataset: Dataset, todo: _BatchList, start: int, position: int, timeout: float, iterator: object, e: Exception
) -> DataError | None:
    """The DataError for what went wrong while waiting for the next batch, or None if it was no worker failure."""
    if isinstance(e, RuntimeError) and "DataLoader timed out" in str(e):
        return _hung_worker_error(dataset, todo, start, position, timeout)
    if todo.tracker is None:
        return None
    named_by_message = isinstance(e, RuntimeError) and "DataLoader worker" in str(e)
    if not (named_by_message or isinstance(e, (ConnectionError, EOFError, OSError))):
        return None
    codes = _worker_exit_codes(iterator, wait_s=0.0 if named_by_message else 1.0)
    positions = todo.tracker.batches_of_dead(str(e), codes)
    if positions or named_by_message or any(code not in (None, 0) for code in codes):
        return _dead_worker_error(dataset, todo, start, positions, e)
    return None


def _hung_worker_error(dataset: Dataset, todo: _BatchList, start: int, position: int, timeout: float) -> DataError:
    """Names the batch the main process waited for (the next in order; a worker loads it)."""
    return DataError(
        f"dataset {dataset.name!r}: no data loading worker delivered {_describe_batch(dataset, todo, start, position)} "
        f"within data_loader_timeout={timeout:g} s. A hung read (network file system, a lock in native code)? "
        "Run with num_workers=0 to see where it blocks, or raise data_loader_timeout if batches are just slow."
    )


def iterate_batches(
    dataset: Dataset,
    batches: Sequence[BatchSpec],
    *,
    dtypes: dict[str, str],
    num_workers: int,
    random_seed: int,
    epoch: int,
    start: int = 0,
    pin_memory: bool = False,
    rank: int = 0,
    timeout: float = 0.0,
    specs: Mapping[str, DataSpec] | None = None,
) -> Iterator[Batch]:
    """Yields the padded batches `start`, `start`+1, ... of the list; `timeout` seconds per batch from the workers
    (0 = wait forever); `specs`: the data keys as `extern_data` declares them (label ranges are checked)."""
    dataset = dataset.for_epoch(epoch, random_seed=random_seed)
    if start < 0 or start > len(batches):
        raise DataError(f"dataset {dataset.name!r}: cannot start at batch {start}, the epoch has {len(batches)}")
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    tracker = _WorkerTracker(context, num_workers) if num_workers > 0 else None
    todo = _BatchList(
        dataset, batches[start:], dtypes, seed_parts=(random_seed, epoch, start, rank), tracker=tracker, specs=specs
    )
    if len(todo) == 0:
        return
    if num_workers <= 0:
        seed_all(derive_seed(random_seed, "data-worker", epoch, 0))
        for i in range(len(todo)):
            yield _unwrap(todo[i])
        return
    loader = torch.utils.data.DataLoader(
        todo,
        batch_size=None,
        shuffle=False,
        num_workers=num_workers,
        worker_init_fn=_WorkerSeeder(random_seed, epoch, tracker),
        multiprocessing_context=context,
        pin_memory=pin_memory,
        prefetch_factor=2,
        timeout=max(timeout, 0.0),
    )
    with stop_signals_blocked(), without_torch_sigchld_handler():  # starts the workers
        iterator = iter(loader)
    position = 0  # of the next batch in `todo`
    failed = False
    try:
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except Exception as e:  # a dead worker surfaces as RuntimeError, ConnectionResetError, EOFError, ...
                failed = True
                error = _loader_error(dataset, todo, start, position, timeout, iterator, e)
                if error is None:
                    raise
                raise error from e
            yield _unwrap(item)
            position += 1
    finally:
        # Stop the workers now, not when the error's traceback (which holds this frame) is freed: that can be
        # at interpreter exit, where waiting for blocked workers costs seconds.
        _stop_workers(iterator, failed=failed)


def _stop_workers(iterator: object, *, failed: bool) -> None:
    """Shuts the workers down; after a failure, PyTorch's own report of the dead worker (raised again from its
    SIGCHLD handler while joining) must not replace the error that names the batch."""
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if shutdown is None:
        return
    try:
        shutdown()
    except RuntimeError:
        if not failed:
            raise
