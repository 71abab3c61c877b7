"""Keeps DataLoader workers out of the way of a stop signal meant for the trainer.

torchrun passes SIGTERM on to each worker's whole process group, a terminal sends Ctrl-C's SIGINT to its
foreground group: the trainer and its loader workers get the signal at once. The trainer stops cleanly at
the next step boundary (checkpoint first); a worker dying of it first (PyTorch's worker handler re-raises
a SIGTERM that its parent did not send) would turn that into a crash. So a worker moves into a process
group of its own as its first act; the parent blocks the signals while it forks the workers, so one that
arrives before that move stays pending, and the worker drops it. The DataLoader still ends its workers by
pid with SIGTERM, which PyTorch's handler turns into a quiet exit.

A worker's death is the other direction: PyTorch installs (once per process, when the first workers start)
a SIGCHLD handler in the trainer that raises "DataLoader worker ... is killed" wherever the trainer happens
to be, mid forward pass, naming no batch. `without_torch_sigchld_handler` puts the previous handler back;
the loader then notices the death at the next batch it waits for (PyTorch checks its workers every 5 s
while waiting), where seqtrain names the batch the worker was loading.
"""

from __future__ import annotations

import os
import signal
import threading
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


@contextmanager
def without_torch_sigchld_handler() -> Iterator[None]:
    """Around starting the workers: whatever SIGCHLD handler PyTorch installs meanwhile is replaced by the one
    that was there before (see the module doc). Only the main thread can set handlers; elsewhere a no-op."""
    if not hasattr(signal, "SIGCHLD") or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGCHLD)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, before if before is not None else signal.SIG_DFL)
