"""What both implementations measure inside their process, the same way: step end times, peak memory, one line.

Times are seconds since the process started (`bench.anchor.proc_stats`), so start-up, imports, data set-up,
CUDA initialization and compilation all count in the time to the first step, whichever side runs. On a GPU
the host runs ahead of the device; the device is synchronized at the end of the first and of the last step
(and nowhere else, so the timed steps overlap as they would in training), which makes those two times
include the device's work.

seqtrain is measured from outside its code: `install_seqtrain_probe` puts a filter on seqtrain's logger that
takes the time at the per-step debug record (written after every update, skipped or not, in both the
`get_model` and the net-dict style) and at the epoch's summary line, and drops the debug records again, so
the log looks as usual. The run needs `log_verbosity=5` for the per-step records to exist.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import torch

from bench.anchor import proc_stats
from bench.gpu import metrics

MARKER = "GPUBENCH "


def synchronize() -> None:
    """Waits for the current CUDA device (seqtrain sets cuda:LOCAL_RANK current in every rank); no-op on CPU."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class StepClock:
    """End time of every step of one epoch; `expected_steps` tells which step is the last one to synchronize."""

    def __init__(self, expected_steps: int | None) -> None:
        self.expected_steps = expected_steps
        self.step_end_s: list[float] = []

    def step_done(self) -> None:
        index = len(self.step_end_s)
        if index == 0 or (self.expected_steps is not None and index == self.expected_steps - 1):
            synchronize()
        self.step_end_s.append(round(proc_stats.seconds_since_process_start(), 6))


def device_info() -> dict[str, Any]:
    """Which device ran, and its peak memory: allocated by PyTorch on CUDA (the same number seqtrain's summary
    reports), the process's peak resident set on CPU (there PyTorch does not count its allocations)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        index = torch.cuda.current_device()
        return {
            "device": "cuda",
            "device_name": torch.cuda.get_device_name(index),
            "peak_mem_gib": round(torch.cuda.max_memory_allocated(index) / 2**30, 4),
            "peak_mem_kind": "cuda_max_memory_allocated",
        }
    return {
        "device": "cpu",
        "device_name": cpu_name(),
        "peak_mem_gib": round(proc_stats.peak_rss_mib() / 1024, 4),
        "peak_mem_kind": "peak_rss_main_process",
    }


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


def emit(record: dict[str, Any]) -> None:
    print(MARKER + json.dumps(record), flush=True)


def parse_output(text: str) -> list[dict[str, Any]]:
    """The records the processes emitted, in order. Several ranks share one output stream, so a record may
    follow another rank's text on the same line (seen under load): each marker starts one JSON object."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(chunk)[0] for chunk in text.split(MARKER)[1:]]


class SeqtrainProbe(logging.Filter):
    """Takes seqtrain's epoch from its log records; see the module doc."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = StepClock(None)
        self.epoch_start_s: float | None = None
        self.setup: str | None = None  # seqtrain's "device cuda:0, autocast bfloat16 (...), torch.compile" line

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg if isinstance(record.msg, str) else ""
        if msg.startswith("epoch %d step %d"):
            self.clock.step_done()
            return False
        if msg.startswith("device %s"):
            self.setup = record.getMessage()
        elif msg.startswith("epoch %d: %d batches") and isinstance(record.args, tuple):
            self.clock = StepClock(int(record.args[1]))  # this rank's batches = its steps
            self.epoch_start_s = proc_stats.seconds_since_process_start()
        elif msg.startswith("epoch %d/%d: "):
            self._report(record.getMessage())
        return record.levelno > logging.DEBUG  # other debug records exist only because of log_verbosity=5

    def _report(self, summary_line: str) -> None:
        synchronize()
        summary = metrics.parse_epoch_summary(summary_line)
        emit(
            {
                "impl": "seqtrain",
                "rank": int(os.environ.get("RANK", "0")),
                "setup": self.setup,
                "epoch_start_s": self.epoch_start_s,
                "epoch_end_s": round(proc_stats.seconds_since_process_start(), 6),
                "step_end_s": self.clock.step_end_s,
                "summary": None if summary is None else summary.__dict__,
                **device_info(),
            }
        )


def install_seqtrain_probe() -> SeqtrainProbe:
    probe = SeqtrainProbe()
    logging.getLogger("seqtrain").addFilter(probe)  # seqtrain's setup_logging replaces handlers, not filters
    return probe
