"""When one rank fails, every rank stops within seconds, and all of them say why.

A rank that raises leaves its message in the rendezvous store (torchrun's key-value store, which every
rank reaches and which outlives any single worker) and exits. The others learn of it in one of two ways:
a collective they are waiting in breaks (gloo notices a closed connection at once), or a watcher thread
that polls the store sees the message. Either way they stop with the failed rank's message instead of
waiting for a collective timeout (NCCL notices nothing by itself) or printing a bare socket error.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import torch.distributed as dist

from seqtrain.errors import SeqtrainError

log = logging.getLogger("seqtrain")

_COUNT_KEY = "failures"
_MESSAGE_KEY = "first_failure"


class RankFailed(SeqtrainError):
    """Another rank of this multi-process run failed; this one stopped because of it."""


@dataclass(frozen=True)
class Failure:
    rank: int
    message: str


class FailureChannel:
    """The first failure of the run, in a store all ranks share."""

    def __init__(self, store: dist.Store, rank: int) -> None:
        self._store = store
        self.rank = rank

    @classmethod
    def connect(cls, *, host: str, port: int, prefix: str, rank: int) -> FailureChannel:
        """A connection of its own to the rendezvous store (the watcher thread must not share the main one)."""
        client = dist.TCPStore(host, port, is_master=False, timeout=timedelta(seconds=30), wait_for_workers=False)
        return cls(dist.PrefixStore(prefix, client), rank)

    def report(self, message: str) -> None:
        """Records this rank's failure unless another rank's came first (only the root cause is kept)."""
        if self._store.add(_COUNT_KEY, 1) == 1:
            self._store.set(_MESSAGE_KEY, f"{self.rank}\n{message}")

    def failure(self, *, wait_sec: float = 0.0) -> Failure | None:
        """The recorded failure; waits up to `wait_sec` for one that was counted but not written yet."""
        deadline = time.monotonic() + wait_sec
        while True:
            if self._store.check([_MESSAGE_KEY]):
                rank, _, message = self._store.get(_MESSAGE_KEY).decode(errors="replace").partition("\n")
                return Failure(int(rank), message)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


class FailureWatcher:
    """A daemon thread that ends this process soon after another rank reported a failure.

    The main thread usually stops by itself first (its next collective breaks); the watcher covers a
    main thread that computes for long or waits in a collective that never breaks (NCCL), and then
    exits the process hard after `grace_sec`, as nothing of this rank needs saving (only rank 0 writes,
    and its writes are atomic).
    """

    def __init__(self, channel: FailureChannel, *, poll_sec: float = 0.2, grace_sec: float = 3.0) -> None:
        self.channel = channel
        self.poll_sec = poll_sec
        self.grace_sec = grace_sec
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="seqtrain-failure-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self.poll_sec + 1)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_sec):
            try:
                failure = self.channel.failure()
            except Exception:  # the store went away: the run is ending anyway, collectives will tell
                continue
            if failure is not None and failure.rank != self.channel.rank:
                self._end_process(failure)
                return

    def _end_process(self, failure: Failure) -> None:
        text = stop_message(failure, self.channel.rank)
        log.error("%s", text)
        if self._stop.wait(self.grace_sec):  # the main thread finished by itself
            return
        for handler in logging.getLogger("seqtrain").handlers:
            handler.flush()
        print(f"seqtrain: error: {text}", file=sys.stderr, flush=True)
        os._exit(1)


def stop_message(failure: Failure, this_rank: int) -> str:
    return f"rank {failure.rank} failed: {failure.message} (rank {this_rank} stopped because of it)"
