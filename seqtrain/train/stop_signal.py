"""SIGTERM/SIGINT during training: finish the step, save a checkpoint, stop; a second signal stops at once.

Clusters preempt jobs with SIGTERM; treating it as "checkpoint now" means a preempted run loses at
most one step. DataLoader workers inherit the handler and must ignore it (only the trainer decides).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger("seqtrain")


class StopRequests:
    """Context manager that records the first stop signal in `received` while training runs."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._old: dict[int, Any] = {}
        self._pid = os.getpid()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != self._pid:  # a DataLoader worker that inherited this handler: not its business
            return
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum
        log.warning("signal %d: saving a checkpoint after the current step, then stopping", signum)

    def __enter__(self) -> StopRequests:
        self._pid = os.getpid()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not the main thread: signals stay with the default handler
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()
