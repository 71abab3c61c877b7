"""The report's arithmetic: per-run metrics, medians, per-pair ratios, the loss check, the target."""

from __future__ import annotations

from typing import Any

import pytest

from bench.anchor import summary


def _bench(*, start: float, end: float, first: float, frames: int, loss: float, cpu: float = 10.0) -> dict[str, Any]:
    return {
        "epoch_start": start, "epoch_end": end, "first_step_start": first, "frames": frames, "steps": 5,
        "loss_per_frame": loss, "main_proc": {"peak_rss_mib": 800.0, "cpu_s": cpu},
        "epoch_start_cpu": 3.0, "epoch_end_cpu": 3.0 + 0.9 * (end - start),
    }  # fmt: skip


def _tree(children_rss: list[float], total_pss: float) -> dict[str, Any]:
    children = [{"command": "w", "peak_rss_mib": r, "peak_pss_mib": r / 2, "cpu_s": 1.5} for r in children_rss]
    return {"children": children, "sum_of_peak_rss_mib": 800.0 + sum(children_rss), "peak_total_pss_mib": total_pss}


def test_run_metrics() -> None:
    bench = _bench(start=2.0, end=12.0, first=2.5, frames=5000, loss=3.9)
    bench.update(last_update_end=11.9, checkpoint_saved=12.3)
    m = summary.run_metrics(bench, _tree([250.0], 900.0), process_wall_s=13.0)
    assert m["epoch_s"] == 10.0 and m["frames_per_s"] == 500.0
    assert m["time_to_first_step_s"] == 2.5 and m["epoch_start_s"] == 2.0
    assert (m["peak_rss_main_mib"], m["peak_rss_children_mib"], m["peak_rss_sum_mib"]) == (800.0, [250.0], 1050.0)
    assert m["peak_pss_total_mib"] == 900.0
    assert m["cpu_children_s"] == 1.5 and m["epoch_cpu_main_s"] == 9.0
    assert m["checkpoint_write_s"] == 0.4


def _record(impl: str, pair: int, *, epoch_s: float, first: float, loss: float, rss: list[float]) -> dict[str, Any]:
    bench = _bench(start=1.0, end=1.0 + epoch_s, first=first, frames=10_000, loss=loss)
    metrics = summary.run_metrics(bench, _tree(rss, 1000.0 + sum(rss)), process_wall_s=epoch_s + 3)
    return {"impl": impl, "pair": pair, "metrics": metrics, "error": None}


def test_pairs_medians_and_ratios() -> None:
    records = [
        _record("seqtrain", 0, epoch_s=100.0, first=3.0, loss=3.9, rss=[250.0]),
        _record("plain", 0, epoch_s=98.0, first=2.5, loss=3.9, rss=[]),
        _record("plain", 1, epoch_s=110.0, first=2.0, loss=3.9, rss=[]),
        _record("seqtrain", 1, epoch_s=100.0, first=2.6, loss=3.9, rss=[250.0]),
        _record("seqtrain", 2, epoch_s=125.0, first=2.7, loss=3.9, rss=[250.0]),
        _record("plain", 2, epoch_s=100.0, first=2.4, loss=3.9, rss=[]),
    ]
    result = summary.summarize_loss(records)
    st, plain = result["impls"]["seqtrain"], result["impls"]["plain"]
    assert st["runs"] == 3 and st["epoch_s_per_run"] == [100.0, 100.0, 125.0]
    assert st["median_epoch_s"] == 100.0 and st["median_frames_per_s"] == 100.0  # 10,000 frames / 100 s
    assert plain["median_epoch_s"] == 100.0 and plain["median_time_to_first_step_s"] == 2.4
    ratios = result["ratios"]["seqtrain/plain"]
    # frames/s ratio per pair = plain epoch / seqtrain epoch: 0.98, 1.1, 0.8 -> median 0.98
    assert [r["frames_per_s"] for r in ratios["per_pair"]] == [0.98, 1.1, 0.8]
    assert ratios["median_frames_per_s"] == 0.98
    assert [r["time_to_first_step_diff_s"] for r in ratios["per_pair"]] == [0.5, 0.6, 0.3]
    assert ratios["median_time_to_first_step_diff_s"] == 0.5
    assert ratios["median_peak_rss_sum"] == round(1050 / 800, 4)
    assert summary.target_met(result) is True
    assert result["loss_check"]["seqtrain"]["same_batches_and_arithmetic"] is True
    assert result["loss_check"]["seqtrain"]["agreeing_digits"] == "all"


def test_slower_than_target() -> None:
    records = [
        _record("seqtrain", 0, epoch_s=103.0, first=3.0, loss=3.9, rss=[]),
        _record("plain", 0, epoch_s=100.0, first=2.5, loss=3.9, rss=[]),
    ]
    result = summary.summarize_loss(records)
    assert result["ratios"]["seqtrain/plain"]["median_frames_per_s"] == round(100 / 103, 4)
    assert summary.target_met(result) is False


@pytest.mark.parametrize(("loss", "same"), [(3.9 * (1 + 5e-8), True), (3.9 * (1 + 1e-3), False)])
def test_loss_check_tells_rounding_from_other_batches(loss: float, same: bool) -> None:
    records = [
        _record("seqtrain", 0, epoch_s=100.0, first=3.0, loss=loss, rss=[]),
        _record("plain", 0, epoch_s=100.0, first=2.5, loss=3.9, rss=[]),
    ]
    check = summary.summarize_loss(records)["loss_check"]["seqtrain"]
    assert check["same_batches_and_arithmetic"] is same
    assert check["max_rel_diff_to_plain"] == pytest.approx(abs(loss - 3.9) / 3.9)


def test_failed_runs_are_listed_and_left_out_of_the_ratios() -> None:
    records = [
        {"impl": "seqtrain", "pair": 0, "metrics": None, "error": "exit 1, 0 BENCH lines"},
        _record("plain", 0, epoch_s=100.0, first=2.5, loss=3.9, rss=[]),
    ]
    result = summary.summarize_loss(records)
    assert result["failed_runs"] == [{"impl": "seqtrain", "pair": 0, "error": "exit 1, 0 BENCH lines"}]
    assert result["ratios"] == {} and "seqtrain" not in result["impls"]
    assert summary.target_met(result) is None
