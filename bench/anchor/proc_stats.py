"""Timing and memory instrumentation shared by the three implementations of the anchor benchmark.

Times are seconds since the measured process started (from /proc, 10 ms resolution), so start-up
(interpreter, imports, data set-up) counts the same way whichever framework runs. Memory is the
kernel's peak resident set (VmHWM) per process. Only the standard library is used here, because the
RETURNN config imports this module in RETURNN's environment.
"""

from __future__ import annotations

import os
import resource
import time

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    """Fields of /proc/PID/stat after the command name (which may contain spaces and parentheses)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def seconds_since_process_start(pid: int | str = "self") -> float:
    start_ticks = int(_stat_fields(pid)[19])
    return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / _CLK_TCK


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of one process (its threads included, its children not)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def peak_rss_mib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM line")


def process_info(pid: int | str = "self") -> dict[str, float]:
    """Peak RSS (MiB) and CPU seconds of one live process."""
    return {"peak_rss_mib": peak_rss_mib(pid), "cpu_s": cpu_seconds(pid)}


def _children(pid: int) -> list[int]:
    """Direct children of a process: the kernel lists them per thread (/proc/PID/task/TID/children)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # the process is gone
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(c) for c in f.read().split())
        except OSError:
            continue  # the thread ended meanwhile
    return found


def descendants(pid: int) -> list[int]:
    """All live processes below `pid` (DataLoader workers, spawn helpers, ...).

    Walks down from `pid` instead of scanning all of /proc, so that sampling it twice a second costs the
    measured processes nothing noticeable.
    """
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def live_children_info(pid: int | None = None) -> list[dict[str, float]]:
    """`process_info` of every live descendant; processes that exit meanwhile are left out."""
    infos = []
    for child in descendants(os.getpid() if pid is None else pid):
        try:
            infos.append(process_info(child))
        except (OSError, RuntimeError):
            continue
    return infos


def exited_children_info() -> dict[str, float]:
    """Children that already exited and were waited for (e.g. a DataLoader worker joined at the epoch's end).

    The kernel keeps the largest peak RSS among them and the sum of their CPU seconds.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}
