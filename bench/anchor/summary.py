"""Turns the runs of the anchor benchmark into medians, per-pair ratios and the loss check.

Pure functions over plain dicts, so the arithmetic of the report is testable without training.
A run record is what `run.py` collects for one process: the BENCH line it printed, what the harness
measured from outside (wall time, the process tree's memory) and which pair it belongs to.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

BASELINE = "plain"
TARGET_SEQTRAIN_OVER_PLAIN = 0.98  # frames/s, issue 3
LOSS_REL_TOL = 1e-6  # same batches + same arithmetic agree to float32 rounding; another order differs by ~1e-3


def run_metrics(bench: dict[str, Any], tree: dict[str, Any], *, process_wall_s: float) -> dict[str, Any]:
    """The numbers of one run; times in seconds, memory in MiB."""
    epoch_s = bench["epoch_end"] - bench["epoch_start"]
    children = tree.get("children", [])
    metrics = {
        "epoch_s": round(epoch_s, 3),
        "frames_per_s": round(bench["frames"] / epoch_s, 2),
        "time_to_first_step_s": round(bench["first_step_start"], 3),
        "epoch_start_s": round(bench["epoch_start"], 3),
        "process_wall_s": round(process_wall_s, 3),
        "peak_rss_main_mib": bench["main_proc"]["peak_rss_mib"],
        "peak_rss_children_mib": [c["peak_rss_mib"] for c in children],
        "peak_rss_sum_mib": tree.get("sum_of_peak_rss_mib"),
        "peak_pss_total_mib": tree.get("peak_total_pss_mib"),
        "cpu_main_s": bench["main_proc"]["cpu_s"],
        "epoch_cpu_main_s": round(bench["epoch_end_cpu"] - bench["epoch_start_cpu"], 2),
        "cpu_children_s": round(sum(c["cpu_s"] for c in children), 2),
        "steps": bench["steps"],
        "frames": bench["frames"],
        "loss_per_frame": bench["loss_per_frame"],
    }
    if "checkpoint_saved" in bench and "last_update_end" in bench:
        metrics["checkpoint_write_s"] = round(bench["checkpoint_saved"] - bench["last_update_end"], 3)
    return metrics


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 4) if present else None


_MEDIAN_KEYS = (
    "epoch_s", "frames_per_s", "time_to_first_step_s", "process_wall_s", "peak_rss_main_mib", "peak_rss_sum_mib",
    "peak_pss_total_mib", "cpu_main_s", "epoch_cpu_main_s", "cpu_children_s", "checkpoint_write_s",
)  # fmt: skip


def impl_summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one implementation and loss, plus the per-run values that matter most."""
    out: dict[str, Any] = {"runs": len(runs)}
    for key in _MEDIAN_KEYS:
        if any(key in r for r in runs):
            out[f"median_{key}"] = _median([r.get(key) for r in runs])
    out["epoch_s_per_run"] = [r["epoch_s"] for r in runs]
    out["loss_per_frame"] = sorted({r["loss_per_frame"] for r in runs})
    out["steps"] = sorted({r["steps"] for r in runs})
    return out


def pair_ratios(by_pair: dict[int, dict[str, dict[str, Any]]], impl: str) -> dict[str, Any] | None:
    """impl/plain per pair: frames/s ratio, time-to-first-step difference, peak-memory ratios; and their medians."""
    pairs = sorted(p for p, runs in by_pair.items() if impl in runs and BASELINE in runs)
    if not pairs:
        return None
    rows = []
    for p in pairs:
        mine, base = by_pair[p][impl], by_pair[p][BASELINE]
        rows.append(
            {
                "pair": p,
                "frames_per_s": round(mine["frames_per_s"] / base["frames_per_s"], 4),
                "time_to_first_step_diff_s": round(mine["time_to_first_step_s"] - base["time_to_first_step_s"], 3),
                "peak_rss_sum": _ratio(mine.get("peak_rss_sum_mib"), base.get("peak_rss_sum_mib")),
                "peak_pss_total": _ratio(mine.get("peak_pss_total_mib"), base.get("peak_pss_total_mib")),
                "cpu_total": _ratio(_cpu_total(mine), _cpu_total(base)),
                "epoch_cpu_main": _ratio(mine["epoch_cpu_main_s"], base["epoch_cpu_main_s"]),
            }
        )
    medians = {f"median_{k}": _median([r[k] for r in rows]) for k in rows[0] if k != "pair"}
    return {**medians, "per_pair": rows}


def _cpu_total(metrics: dict[str, Any]) -> float:
    return metrics["cpu_main_s"] + metrics["cpu_children_s"]


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def loss_check(impls: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Every implementation's epoch loss against plain's: equal to float32 rounding means the same batches."""
    base = {r["loss_per_frame"] for r in impls.get(BASELINE, [])}
    out: dict[str, Any] = {}
    if not base:
        return out
    reference = statistics.median(base)
    for impl, runs in impls.items():
        if impl == BASELINE or not runs:
            continue
        worst = max(abs(r["loss_per_frame"] - reference) / abs(reference) for r in runs)
        out[impl] = {
            "max_rel_diff_to_plain": worst,
            "agreeing_digits": round(-math.log10(worst), 1) if worst > 0 else "all",
            "same_batches_and_arithmetic": worst <= LOSS_REL_TOL,
        }
    return out


def summarize_loss(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """All runs of one loss: per-implementation medians, per-pair ratios against plain, the loss check."""
    impls: dict[str, list[dict[str, Any]]] = {}
    by_pair: dict[int, dict[str, dict[str, Any]]] = {}
    for rec in records:
        if rec.get("metrics") is None:
            continue
        impls.setdefault(rec["impl"], []).append(rec["metrics"])
        by_pair.setdefault(rec["pair"], {})[rec["impl"]] = rec["metrics"]
    ratios = {f"{impl}/{BASELINE}": pair_ratios(by_pair, impl) for impl in impls if impl != BASELINE}
    return {
        "impls": {impl: impl_summary(runs) for impl, runs in impls.items()},
        "ratios": {k: v for k, v in ratios.items() if v is not None},
        "loss_check": loss_check(impls),
        "failed_runs": [
            {"impl": r["impl"], "pair": r["pair"], "error": r["error"]} for r in records if r.get("error") is not None
        ],
    }


def target_met(loss_summary: dict[str, Any]) -> bool | None:
    """seqtrain/plain frames/s (median of the per-pair ratios) >= the target; None if not measured."""
    ratio = loss_summary["ratios"].get(f"seqtrain/{BASELINE}")
    if ratio is None or ratio["median_frames_per_s"] is None:
        return None
    return ratio["median_frames_per_s"] >= TARGET_SEQTRAIN_OVER_PLAIN
