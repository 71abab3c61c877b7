"""The benchmark harness: options, a failing run, and a real (tiny) end-to-end benchmark in subprocesses."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.anchor import run

REPO = Path(__file__).resolve().parents[3]


def test_quick_and_defaults() -> None:
    quick = run.parse_args(["--quick"])
    assert (quick.num_seqs, quick.pairs, quick.losses) == (50, 1, ["ce", "ctc"])
    full = run.parse_args([])
    assert (full.num_seqs, full.pairs, full.impls) == (1000, 3, ["seqtrain", "plain", "returnn"])
    assert run.parse_args(["--quick", "--pairs", "2"]).pairs == 2
    assert run.parse_impl("seqtrain-w0") == run.ImplSpec("seqtrain", 0, False)
    assert run.parse_impl("plain+malloc") == run.ImplSpec("plain", None, True)
    opts = run.parse_args(["--impls", "seqtrain-w0+malloc,plain,plain+malloc"])
    argv, env = run.command_for("plain+malloc", "ce", Path("d"), opts)
    assert argv[-4:] == ["--loss", "ce", "--threads", "2"] and env == run.TUNED_MALLOC_ENV
    argv, env = run.command_for("seqtrain-w0+malloc", "ctc", Path("d"), opts)
    assert argv[-2:] == ["train", str(run.ANCHOR / "seqtrain_bench.py")]
    assert env == {"BENCH_LOSS": "ctc", "BENCH_DATA_DIR": "d", "BENCH_THREADS": "2", "BENCH_NUM_WORKERS": "0",
                   **run.TUNED_MALLOC_ENV}  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--impls", "seqtrain,fairseq"], "unknown implementation 'fairseq'"),
        (["--impls", "seqtrain,plain-w0"], "unknown implementation 'plain-w0'"),
        (["--impls", "seqtrain+jemalloc,plain"], "unknown implementation 'seqtrain+jemalloc'"),
        (["--impls", "seqtrain,returnn"], "must include plain"),
        (["--losses", "mse"], "unknown loss 'mse'"),
        (["--num-seqs", "5000"], "--num-seqs in [1, 1000]"),
    ],
)
def test_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _opts(**overrides: object) -> argparse.Namespace:
    return argparse.Namespace(**{"num_workers": None, "with_checkpoint": False, "returnn_python": None, "threads": 1,
                                 "timeout": 120.0, **overrides})  # fmt: skip


@pytest.mark.slow
def test_failing_run_is_recorded_with_its_error(tmp_path: Path) -> None:
    """seqtrain on a missing data file: the user error is the process's last word and ends up in the record."""
    record = run.run_one("seqtrain", "ce", 0, tmp_path / "missing", tmp_path / "work", _opts())
    assert record["returncode"] == 1 and record["metrics"] is None
    assert "seqtrain train: error: HDF file" in record["error"] and "does not exist" in record["error"]
    assert Path(record["log"]).read_text().count("Traceback") == 0


@pytest.mark.slow
def test_tiny_benchmark_end_to_end(tmp_path: Path) -> None:
    """16 seqs (2 batches), both losses, seqtrain vs. plain: same batches, same loss, every number present.

    One torch thread each, so that the test stays fast on a busy 2-core machine.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "bench.anchor.run", "--num-seqs", "16", "--pairs", "1", "--impls", "seqtrain,plain",
         "--work-dir", str(tmp_path), "--with-checkpoint", "--threads", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, "exactly one JSON line on stdout"
    report = json.loads(lines[0])
    assert report["ok"] is True
    for loss in ("ce", "ctc"):
        assert report["batch_check"][loss] == {
            "num_batches": 2,
            "padding_fraction": 0.3978,
            "seqtrain_equals_plain": True,
        }
        result = report["results"][loss]
        assert result["failed_runs"] == []
        assert result["loss_check"]["seqtrain"]["same_batches_and_arithmetic"] is True
        assert result["impls"]["seqtrain"]["steps"] == result["impls"]["plain"]["steps"] == [2]
        ratio = result["ratios"]["seqtrain/plain"]
        assert ratio["median_frames_per_s"] > 0 and len(ratio["per_pair"]) == 1
    records = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [(r["loss"], r["impl"]) for r in records] == [
        ("ce", "seqtrain"), ("ce", "plain"), ("ctc", "seqtrain"), ("ctc", "plain")
    ]  # fmt: skip
    for r in (r for r in records if r["impl"] == "seqtrain"):
        b = r["bench"]
        assert b["epoch_start"] < b["first_step_start"] < b["last_update_end"] <= b["checkpoint_saved"] < b["epoch_end"]
        assert r["metrics"]["checkpoint_write_s"] > 0
        assert b["exited_children"]["peak_rss_mib"] > 0, "the DataLoader worker was joined and measured"
        assert r["tree"]["children"], "the monitor saw the DataLoader worker"
    assert not list(tmp_path.glob("model-*")), "checkpoint directories are removed after each run"
