"""Memory and time measurement of real processes: in-process (`proc_stats`) and from outside (`TreeMonitor`)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.anchor import proc_stats
from bench.anchor.monitor import TreeMonitor

# A parent that forks a child; the child touches 96 MiB (fresh pages, not shared with the parent), then both
# wait, so the monitor samples them; the parent reports what proc_stats sees after joining the child.
_FORKING_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {repo!r})
    from bench.anchor import proc_stats
    pid = os.fork()
    if pid == 0:
        block = bytearray(96 * 1024 * 1024)
        time.sleep(1.5)
        os._exit(0)
    time.sleep(0.5)
    live = proc_stats.live_children_info()
    os.waitpid(pid, 0)
    print(json.dumps({{"live": live, "exited": proc_stats.exited_children_info(),
                      "since_start": proc_stats.seconds_since_process_start(), "self": proc_stats.process_info()}}))
    """
)


def _run_forking_script(monitor_interval: float = 0.1) -> tuple[dict, dict, int]:
    repo = str(Path(__file__).resolve().parents[3])
    proc = subprocess.Popen(
        [sys.executable, "-c", _FORKING_SCRIPT.format(repo=repo)], stdout=subprocess.PIPE, text=True
    )
    with TreeMonitor(proc.pid, interval=monitor_interval, pss_interval=0.3) as monitor:
        out, _ = proc.communicate(timeout=60)
        tree = monitor.stop()
    return json.loads(out), tree, proc.returncode


def test_child_memory_seen_inside_and_outside() -> None:
    inside, tree, returncode = _run_forking_script()
    assert returncode == 0
    # In-process: the live child while it holds its block, and the kernel's record after it was joined.
    assert len(inside["live"]) == 1 and inside["live"][0]["peak_rss_mib"] >= 96
    assert inside["exited"]["peak_rss_mib"] >= 96
    assert 0.5 <= inside["since_start"] < 30
    assert inside["self"]["peak_rss_mib"] < inside["exited"]["peak_rss_mib"]
    # From outside: one child with the block, its own (unshared) pages count fully in PSS too.
    assert len(tree["children"]) == 1
    child = tree["children"][0]
    assert child["peak_rss_mib"] >= 96 and child["peak_pss_mib"] >= 90
    assert tree["sum_of_peak_rss_mib"] >= tree["main_peak_rss_mib"] + 96
    assert tree["peak_total_pss_mib"] >= 96
    assert tree["samples"] >= 5 and 1 <= tree["pss_samples"] < tree["samples"]


def test_own_process() -> None:
    info = proc_stats.process_info()
    assert info["peak_rss_mib"] > 10 and info["cpu_s"] > 0
    with open("/proc/uptime") as f:
        assert 0 < proc_stats.seconds_since_process_start() < float(f.read().split()[0])
    assert proc_stats.descendants(2**22 + 12345) == []  # no such process: no children, no error
