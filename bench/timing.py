"""Wall-time measurement shared by the micro-benchmarks: warm up first, report the fastest (least disturbed by
other load on a shared machine) and, where useful, the median."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def fastest_and_median(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(fastest, median) wall time of `fn` over `repeats` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def interleaved_fastest(runs: Mapping[str, Callable[[int], object]], repeats: int) -> dict[str, float]:
    """Fastest time of each run, the runs taking turns so a change in machine load hits all alike. Each call gets
    its round number (0 = the warm-up, not timed), e.g. to number its training steps."""
    best = dict.fromkeys(runs, float("inf"))
    for round_number in range(repeats + 1):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn(round_number)
            if round_number > 0:
                best[name] = min(best[name], time.perf_counter() - start)
    return best
