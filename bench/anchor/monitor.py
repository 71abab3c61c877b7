"""Watches the memory of a benchmarked process and all its descendants from the outside.

The in-process numbers (`proc_stats`) see a process only while it lives; seqtrain's DataLoader worker
exits at the end of the epoch, RETURNN's lives on. Sampling the whole tree from the harness measures
all three implementations the same way. Two totals are kept because they answer different questions:

- the sum of the per-process peak RSS (as the RETURNN anchor reports it), which counts memory that a
  *forked* worker shares with its parent twice;
- the peak of the summed PSS (proportional set size: shared pages split between the processes that
  map them), which is what the tree really occupies.

The peak RSS is cheap to read (the kernel keeps it: VmHWM) and is read twice a second. PSS is not: the
kernel walks every page table of the process for it (~60 ms for a 750 MiB torch process, under the
process's memory-map lock), so it is sampled only every `PSS_SAMPLE_SECONDS`; it is a steady-state
number here, not an exact peak.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bench.anchor.proc_stats import cpu_seconds, descendants

SAMPLE_SECONDS = 0.5
PSS_SAMPLE_SECONDS = 15.0


def _pss_mib(pid: int) -> float:
    """Current PSS of one process, from /proc/PID/smaps_rollup (expensive, see the module doc)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _command(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        args = f.read().split(b"\0")
    return " ".join(a.decode(errors="replace") for a in args[:4] if a)[:120]


@dataclass
class _ProcessPeak:
    command: str
    peak_rss_mib: float = 0.0
    peak_pss_mib: float = 0.0
    cpu_s: float = 0.0


@dataclass
class TreeMemory:
    """Peaks of the process tree; `processes[0]` is the root."""

    processes: dict[int, _ProcessPeak] = field(default_factory=dict)
    peak_total_pss_mib: float = 0.0
    samples: int = 0
    pss_samples: int = 0

    def summary(self, root: int) -> dict[str, object]:
        children = [p for pid, p in self.processes.items() if pid != root]
        main = self.processes.get(root, _ProcessPeak(""))
        return {
            "main_peak_rss_mib": round(main.peak_rss_mib, 1),
            "children": [
                {
                    "command": p.command,
                    "peak_rss_mib": round(p.peak_rss_mib, 1),
                    "peak_pss_mib": round(p.peak_pss_mib, 1),
                    "cpu_s": round(p.cpu_s, 2),
                }
                for p in children
            ],
            "sum_of_peak_rss_mib": round(sum(p.peak_rss_mib for p in self.processes.values()), 1),
            "peak_total_pss_mib": round(self.peak_total_pss_mib, 1) if self.pss_samples else None,
            "samples": self.samples,
            "pss_samples": self.pss_samples,
        }


class TreeMonitor:
    """Samples a process tree every `interval` seconds in a daemon thread until `stop()`."""

    def __init__(
        self, root_pid: int, *, interval: float = SAMPLE_SECONDS, pss_interval: float = PSS_SAMPLE_SECONDS
    ) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.pss_interval = pss_interval
        self.memory = TreeMemory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"monitor-{root_pid}", daemon=True)

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> dict[str, object]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.memory.summary(self.root_pid)

    def _run(self) -> None:
        next_pss = time.monotonic() + self.pss_interval / 3  # the first once start-up is over
        while not self._stop.is_set():
            with_pss = time.monotonic() >= next_pss
            self.sample(with_pss=with_pss)
            if with_pss:
                next_pss += self.pss_interval
            self._stop.wait(self.interval)

    def sample(self, *, with_pss: bool = False) -> None:
        total_pss = 0.0
        for pid in [self.root_pid, *descendants(self.root_pid)]:
            try:
                peak = self.memory.processes.get(pid) or _ProcessPeak(_command(pid))
                peak.peak_rss_mib = max(peak.peak_rss_mib, _peak_rss_mib(pid))
                peak.cpu_s = cpu_seconds(pid)
                pss = _pss_mib(pid) if with_pss else 0.0
            except (OSError, IndexError, ValueError):
                continue  # the process exited between listing and reading; its last sample stands
            peak.peak_pss_mib = max(peak.peak_pss_mib, pss)
            self.memory.processes[pid] = peak
            total_pss += pss
        self.memory.samples += 1
        if with_pss:
            self.memory.pss_samples += 1
            self.memory.peak_total_pss_mib = max(self.memory.peak_total_pss_mib, total_pss)
