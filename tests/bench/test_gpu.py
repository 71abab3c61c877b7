"""The GPU benchmark (`bench.gpu`): its arithmetic, its plan and commands, the probe, and a tiny CPU run end to end.

The end-to-end test runs the CPU settings at the --quick size, so the benchmark keeps working on machines
without a GPU; what only a GPU shows (CUDA memory, several GPUs) is covered by the pure functions here.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.anchor import gen_data
from bench.gpu import cli, metrics, models, plain_loop, probe, run
from bench.gpu.cli import parse_args

REPO = Path(__file__).resolve().parents[2]

SUMMARY = "epoch 1/1: train ce 1.234 | lr 0.001 | 152.3 s (+0.0 s eval), 55 steps, 10500 frames/s, data wait 0.7%"


# ---------------------------------------------------------------------------- seqtrain's summary line


def test_summary_line_of_a_cpu_run() -> None:
    s = metrics.parse_epoch_summary(SUMMARY)
    assert s == metrics.EpochSummary(
        epoch=1, steps=55, seconds=152.3, frames_per_s=10500.0, data_wait_percent=0.7, train_scores={"ce": 1.234},
        peak_gpu_mem_gib=None, skipped_updates=0, compiled_graphs=None,
    )  # fmt: skip


def test_summary_line_with_device_details_dev_scores_and_a_step_schedule() -> None:
    line = (
        "epoch 2/16: train output 0.5213 aux_ctc 0.61 | dev output 0.7 | lr 0.0015 (steps 0.00012 -> 0.00075) | "
        "12.5 s (+1.5 s eval), 192 steps, 80123 frames/s, data wait 0.0%, peak GPU memory 3.25 GiB, "
        "2 updates skipped (inf/nan gradients, GradScaler), torch.compile: 41 graphs compiled"
    )
    s = metrics.parse_epoch_summary(line)
    assert s is not None
    assert (s.epoch, s.steps, s.seconds, s.frames_per_s) == (2, 192, 12.5, 80123.0)
    assert s.train_scores == {"output": 0.5213, "aux_ctc": 0.61}
    assert (s.peak_gpu_mem_gib, s.skipped_updates, s.compiled_graphs) == (3.25, 2, 41)


@pytest.mark.parametrize("line", ["epoch 1: 55 batches, 1000 seqs, lr 0.001", "device cuda:0, float32", ""])
def test_other_lines_are_no_summary(line: str) -> None:
    assert metrics.parse_epoch_summary(line) is None


# ---------------------------------------------------------------------------- arithmetic


def test_step_frames_deal_n_batches_per_step() -> None:
    assert metrics.step_frames([5, 6, 7, 8, 9]) == [5, 6, 7, 8, 9]
    assert metrics.step_frames([5, 6, 7, 8, 9], nproc=2) == [11, 15, 9]  # the last step: one rank has no data
    with pytest.raises(ValueError, match="nproc must be >= 1"):
        metrics.step_frames([1], nproc=0)


def test_frames_per_second_leaves_out_the_warmup() -> None:
    ends = [10.0, 11.0, 11.5, 12.5]
    assert metrics.frames_per_second(ends, [999, 100, 100, 200], warmup_steps=1) == 400 / 2.5
    assert metrics.frames_per_second(ends, [999, 999, 100, 200], warmup_steps=2) == 300 / 1.5
    with pytest.raises(ValueError, match="more steps"):
        metrics.frames_per_second(ends, [1, 1, 1, 1], warmup_steps=4)
    with pytest.raises(ValueError, match="do not increase"):
        metrics.frames_per_second([1.0, 1.0], [1, 1], warmup_steps=1)
    with pytest.raises(ValueError, match="2 step times but 1"):
        metrics.frames_per_second([1.0, 2.0], [1], warmup_steps=1)


def test_targets() -> None:
    line = {"device": "cuda", "model": "conformer", "ratio_seqtrain_vs_plain": 0.97,
            "speedup_vs_float32": {"plain": 1.7, "seqtrain": 1.6}}  # fmt: skip
    assert metrics.targets(line) == {
        "on_gpu": True,
        "seqtrain_vs_plain": {"value": 0.97, "target": 0.98, "met": False},
        "amp_vs_float32": {"value": 1.6, "target": 1.5, "met": True},
    }
    anchor = {"device": "cpu", "model": "anchor", "ratio_seqtrain_vs_plain": 1.0, "speedup_vs_float32": None}
    assert metrics.targets(anchor) == {
        "on_gpu": False,
        "seqtrain_vs_plain": {"value": 1.0, "target": 0.98, "met": True},
    }
    scaling = {"device": "cuda", "model": "anchor", "nproc": 2, "scaling_vs_1proc": 1.85}
    assert metrics.targets(scaling)["scaling"] == {"value": 1.85, "target": 1.8, "met": True}


# ---------------------------------------------------------------------------- probe


def _record(msg: str, *args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("seqtrain", level, __file__, 1, msg, args, None)


def test_records_of_two_ranks_on_one_line_are_both_read() -> None:
    """Two ranks write one log file; under load one's record can follow the other's text on the same line."""
    text = 'W warning\nGPUBENCH {"rank": 0, "x": [1]}GPUBENCH {"rank": 1, "x": [2]}\n\nnoise GPUBENCH {"rank": 0}\n'
    assert probe.parse_output(text) == [{"rank": 0, "x": [1]}, {"rank": 1, "x": [2]}, {"rank": 0}]


def test_seqtrain_probe_times_steps_and_reports_at_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    p = probe.SeqtrainProbe()
    assert p.filter(_record("device %s, %s%s", "cpu", "float32", "")) is True
    assert p.filter(_record("epoch %d: %d batches, %d seqs%s, lr %.4g%s", 1, 3, 10, "", 0.001, "")) is True
    for step in range(3):
        step_record = _record("epoch %d step %d: %s lr %.3g %s", 1, step + 1, "ce 1", 0.001, "", level=logging.DEBUG)
        assert p.filter(step_record) is False, "the per-step records are taken, not printed"
    assert p.filter(_record("replicas synchronized", level=logging.DEBUG)) is False
    assert p.filter(_record("epoch %d/%d: %s", 1, 1, SUMMARY.split(": ", 1)[1])) is True
    (rec,) = probe.parse_output(capsys.readouterr().out)
    assert rec["impl"] == "seqtrain" and rec["rank"] == 0 and rec["setup"] == "device cpu, float32"
    assert len(rec["step_end_s"]) == 3 and rec["step_end_s"] == sorted(rec["step_end_s"])
    assert rec["epoch_start_s"] <= rec["step_end_s"][0] <= rec["epoch_end_s"]
    assert rec["summary"]["steps"] == 55 and rec["summary"]["train_scores"] == {"ce": 1.234}
    assert rec["device"] == "cpu" and rec["peak_mem_kind"] == "peak_rss_main_process" and rec["peak_mem_gib"] > 0


# ---------------------------------------------------------------------------- plan, options, commands


def test_default_plans_and_explicit_ones() -> None:
    cuda = run.default_plan("cuda")
    assert len(cuda) == 7 and run.Setting("conformer", "bfloat16", True) in cuda
    assert {s.model for s in cuda} == {"anchor", "conformer"} and not any(s.compile for s in cuda[:6])
    assert run.default_plan("cpu") == [
        run.Setting("anchor", "float32", False),
        run.Setting("anchor", "bfloat16", False),
    ]
    plan = run.explicit_plan(["conformer"], ["bfloat16", "float32"], [False, True])
    assert [(s.precision, s.compile) for s in plan] == [
        ("float32", False), ("bfloat16", False), ("float32", True), ("bfloat16", True)
    ]  # fmt: skip


def test_cpu_default_plan_adds_float16_only_where_cpu_autocast_runs_the_lstm(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run.cpu_autocast_works(torch.bfloat16) is True
    assert isinstance(run.cpu_autocast_works(torch.float16), bool)  # oneDNN builds differ (no float16 LSTM here)
    monkeypatch.setattr(cli, "cpu_autocast_works", lambda dtype: True)
    assert [s.precision for s in parse_args(["--device", "cpu"]).plan] == ["float32", "bfloat16", "float16"]
    monkeypatch.setattr(cli, "cpu_autocast_works", lambda dtype: False)
    assert [s.precision for s in parse_args(["--device", "cpu"]).plan] == ["float32", "bfloat16"]


def test_options_quick_and_explicit(tmp_path: Path) -> None:
    opts = parse_args(["--quick", "--device", "cpu", "--precisions", "float32,bfloat16", "--no-compile"])
    assert (opts.num_seqs, opts.batch_size, opts.warmup_steps, opts.threads, opts.nproc) == (10, 600, 2, 1, 1)
    assert opts.plan == [run.Setting("anchor", "float32", False), run.Setting("anchor", "bfloat16", False)]
    opts = parse_args(["--device", "cpu", "--model", "anchor,conformer", "--compile"])
    assert len(opts.plan) == 8 and opts.num_seqs == 200 and opts.warmup_steps == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "gpt"], "--model: unknown or empty ['gpt']"),
        (["--precisions", "float8"], "--precisions: unknown or empty ['float8']"),
        (["--compile-modes", "max"], "--compile-modes: unknown"),
        (["--num-seqs", "5000"], "--num-seqs must be in [1, 1000]"),
    ],
)
def test_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--device", "cpu", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _prepared(name: str = "anchor") -> run.PreparedModel:
    spec = models.model_specs()[name]
    return run.PreparedModel(spec, Path("d"), 1000, 32, [100, 200, 300], True)


def test_commands_pass_precision_and_compile_to_both_sides() -> None:
    opts = argparse.Namespace(device="cuda", threads=2, seqtrain_arg=["random_seed=1"])
    setting = run.Setting("anchor", "bfloat16", True)
    argv, env = run.command("plain", setting, _prepared(), opts, 1)
    assert argv[1:3] == ["-m", "bench.gpu.plain_loop"] and env == {}
    assert argv[argv.index("--precision") + 1] == "bfloat16" and argv[-1] == "--compile"
    argv, env = run.command("seqtrain", setting, _prepared(), opts, 1)
    assert argv[1:5] == ["-m", "bench.gpu.launch_seqtrain", "train", str(REPO / "bench/anchor/seqtrain_bench.py")]
    assert argv[5:] == ["device=cuda", "log_verbosity=5", "batch_size=1000", "max_seqs=32", "torch_amp=bfloat16",
                        "grad_scaler=None", "torch_compile=True", "random_seed=1"]  # fmt: skip
    assert env == {"BENCH_DATA_DIR": "d", "BENCH_LOSS": "ce", "BENCH_THREADS": "2"}
    argv, _ = run.command("seqtrain", run.Setting("conformer", "float32", False), _prepared("conformer"), opts, 2)
    assert argv[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert "torch_amp" not in " ".join(argv) and "torch_compile" not in " ".join(argv)
    assert str(REPO / "bench/gpu/seqtrain_conformer.py") in argv


def _run(impl: str, fps: float, **extra: object) -> dict[str, object]:
    return {"impl": impl, "frames_per_s": fps, "first_step_s": 3.0, "peak_mem_gib": 1.0, "device": "cuda",
            "device_name": "H200", "peak_mem_kind": "cuda_max_memory_allocated", "loss": 3.9, "skipped_updates": 0,
            "compiled_graphs": None, "seqtrain_setup": "device cuda, float32", "seqtrain_summary": None,
            "steps": 3, **extra}  # fmt: skip


def test_result_lines_ratios_and_speedups() -> None:
    opts = argparse.Namespace(device="cuda", num_seqs=1000, warmup_steps=3, pairs=2)
    prepared = _prepared()
    f32 = run.Setting("anchor", "float32", False)
    runs = {"plain": [_run("plain", 100.0), _run("plain", 110.0)],
            "seqtrain": [_run("seqtrain", 99.0), _run("seqtrain", 121.0)]}  # fmt: skip
    lines = {f32: run.setting_line(f32, prepared, runs, opts)}
    line = lines[f32]
    assert (line["plain_frames_per_s"], line["seqtrain_frames_per_s"]) == (105.0, 110.0)
    assert line["per_pair_ratio"] == [0.99, 1.1] and line["ratio_seqtrain_vs_plain"] == 1.045
    assert line["frames"] == 600 and line["steps"] == 3 and "errors" not in line
    bf16 = run.Setting("anchor", "bfloat16", False)
    runs = {"plain": [_run("plain", 210.0), {"impl": "plain", "error": "exit 1"}],
            "seqtrain": [_run("seqtrain", 220.0), _run("seqtrain", 230.0)]}  # fmt: skip
    line = run.setting_line(bf16, prepared, runs, opts)
    run.add_speedups(line, lines, bf16)
    assert line["ratio_seqtrain_vs_plain"] == round(220 / 210, 4), "only complete pairs give a ratio"
    assert line["speedup_vs_float32"] == {"plain": 2.0, "seqtrain": round(225 / 110, 4)}
    assert line["errors"] == ["plain: exit 1"] and line["targets"]["on_gpu"] is True
    scaling = run.scaling_line(bf16, line, [_run("seqtrain", 400.0)], 2, opts)
    assert scaling["scaling_vs_1proc"] == round(400 / 225, 4) and scaling["steps_per_process"] == 2
    assert scaling["targets"]["scaling"]["met"] is False


def test_measure_checks_that_the_steps_match_the_batch_list() -> None:
    prepared = _prepared()
    plain = {"impl": "plain", "step_end_s": [5.0, 6.0, 7.0], "step_frames": [100, 200, 300], "loss": 3.9,
             "peak_mem_gib": 0.5, "peak_mem_kind": "rss", "device": "cpu", "device_name": "x"}  # fmt: skip
    m = run.measure(plain, prepared, 1, 1)
    assert m["frames_per_s"] == 250.0 and m["first_step_s"] == 5.0 and m["loss"] == 3.9
    with pytest.raises(ValueError, match="other batches"):
        run.measure({**plain, "step_frames": [100, 300, 200]}, prepared, 1, 1)
    seqtrain = {**plain, "impl": "seqtrain", "step_end_s": [5.0, 7.0], "summary": {"train_scores": {"ce": 3.8}}}
    assert run.measure(seqtrain, prepared, 1, 2)["frames_per_s"] == 150.0, "2 ranks: steps of 300 and 300 frames"
    with pytest.raises(ValueError, match="3 steps timed, the batch list has 2"):
        run.measure({**seqtrain, "step_end_s": [1.0, 2.0, 3.0]}, prepared, 1, 2)


# ---------------------------------------------------------------------------- models


def test_conformer_plain_loop_and_its_seqtrain_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain loop trains the recipe's net dict on its synthetic data; the seqtrain config loads."""
    from seqtrain.config import load_config

    spec = models.model_specs()["conformer"]
    path = spec.write_data(tmp_path, 4)
    args = argparse.Namespace(model="conformer", data=path, device="cpu", precision="bfloat16", compile=False,
                              batch_size=800, max_seqs=64)  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a busy 2-core machine spin-wait for each other
    try:
        result = plain_loop.train_epoch(args)
        monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path))
        config = load_config(spec.seqtrain_config, ["torch_amp=bfloat16"])
    finally:
        torch.set_num_threads(threads)  # the config sets the benchmark's thread count too
    assert sum(result["step_frames"]) == sum(gen_data.generate(4)[i].features.shape[0] for i in range(4))
    assert len(result["step_end_s"]) == len(result["step_frames"]) >= 2
    assert 0 < result["loss"] < 100 and result["skipped_updates"] == 0
    assert config.get("train")["files"] == [str(path)] and config.get("torch_amp") == "bfloat16"
    assert config.get("batch_size") == spec.batch_size == 8000 and config.get("network")["enc6"]


# ---------------------------------------------------------------------------- end to end on CPU


@pytest.mark.slow
def test_quick_cpu_benchmark_end_to_end(tmp_path: Path) -> None:
    """float32 and bfloat16 at the quick size (10 seqs, 6 batches): a line each, both sides measured, same loss."""
    out = tmp_path / "lines.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--quick", "--device", "cpu", "--precisions", "float32,bfloat16",
         "--no-compile", "--work-dir", str(tmp_path / "work"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [(ln["precision"], ln["compile"], ln["nproc"]) for ln in lines] == [
        ("float32", False, 1), ("bfloat16", False, 1)
    ]  # fmt: skip
    assert out.read_text().splitlines() == proc.stdout.strip().splitlines()
    for line in lines:
        assert "errors" not in line, line["errors"]
        assert line["bench"] == "gpu" and line["device"] == "cpu" and line["model"] == "anchor"
        assert line["same_batches"] is True and line["steps"] == 6 and line["frames"] == 2042
        assert line["plain_frames_per_s"] > 0 and line["seqtrain_frames_per_s"] > 0
        assert line["ratio_seqtrain_vs_plain"] == pytest.approx(
            line["seqtrain_frames_per_s"] / line["plain_frames_per_s"], rel=1e-3
        )
        for impl in run.IMPLS:
            assert 0 < line[f"{impl}_first_step_s"] < 120
            assert 0.05 < line[f"{impl}_peak_mem_gib"] < 8
        assert line["plain_loss"] == pytest.approx(line["seqtrain_loss"], abs=2e-3), "same batches, same model"
        assert line["targets"]["on_gpu"] is False
    assert lines[0]["seqtrain_setup"] == "device cpu, float32"
    assert "autocast bfloat16" in lines[1]["seqtrain_setup"]
    assert set(lines[1]["speedup_vs_float32"]) == {"plain", "seqtrain"}


@pytest.mark.slow
def test_quick_cpu_benchmark_with_two_processes(tmp_path: Path) -> None:
    """The torchrun path of the 1 vs N GPUs comparison, with 2 gloo processes on CPU: rank 0 is timed, a step
    trains 2 batches (3 steps instead of 6). On 2 shared cores this says nothing about scaling, only that it runs."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--quick", "--device", "cpu", "--precisions", "float32", "--nproc", "2",
         "--work-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    single, scaling = (json.loads(line) for line in proc.stdout.strip().splitlines())
    assert (single["nproc"], scaling["nproc"]) == (1, 2) and "errors" not in scaling
    assert scaling["steps_per_process"] == 3 and scaling["seqtrain_frames_per_s"] > 0
    assert scaling["scaling_vs_1proc"] == pytest.approx(
        scaling["seqtrain_frames_per_s"] / single["seqtrain_frames_per_s"], rel=1e-3
    )
    assert scaling["seqtrain_1proc_frames_per_s"] == single["seqtrain_frames_per_s"]
    assert set(scaling["targets"]) == {"on_gpu", "scaling"}
