"""Keeps DataLoader workers out of the way of a stop signal meant for the trainer.

torchrun passes SIGTERM on to each worker's whole process group, a terminal sends Ctrl-C's SIGINT to its
foreground group: the trainer and its loader workers get the signal at once. The trainer stops cleanly at
the next step boundary (checkpoint first); a worker dying of it first (PyTorch's worker handler re-raises
a SIGTERM that its parent did not send) would turn that into a crash. So a worker moves into a process
group of its own as its first act; the parent blocks the signals while it forks the workers, so one that
arrives before that move stays pending, and the worker drops it. The DataLoader still ends its workers by
pid with SIGTERM, which PyTorch's handler turns into a quiet exit.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Around starting the workers (forking them): they begin life with the stop signals blocked."""
    if os.name != "posix":
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a pending one reaches the trainer now


def leave_trainer_process_group() -> None:
    """In a worker, first thing: own process group, drop stop signals sent to the old one, unblock."""
    if os.name != "posix":
        return
    os.setpgid(0, 0)
    while signal.sigtimedwait(STOP_SIGNALS, 0) is not None:
        pass
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
