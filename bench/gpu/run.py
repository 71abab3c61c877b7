"""The GPU benchmark's harness: plans the settings, prepares data and batches, runs the pairs, prints the lines.

Every run is its own process (plain loop: `bench.gpu.plain_loop`; seqtrain: `seqtrain train` through
`bench.gpu.launch_seqtrain`), like the anchor's. Runs of a setting alternate plain/seqtrain, and which one goes
first alternates from pair to pair and setting to setting, so slow drifts hit both. Each run's output goes to
WORK_DIR/logs/, every result line also to WORK_DIR/results.jsonl (and --out). A compiled run gets an empty
inductor/triton cache, so both sides pay the same compilation (a shared cache would favour whichever runs second).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.anchor.batch_check import RANDOM_SEED, seqtrain_setup
from bench.gpu import metrics, models, probe
from bench.gpu.plain_loop import PRECISIONS

REPO = models.REPO
IMPLS = ("plain", "seqtrain")
QUICK = {"num_seqs": 10, "batch_size": 600, "warmup_steps": 2, "threads": 1}


@dataclass(frozen=True)
class Setting:
    model: str
    precision: str
    compile: bool

    def describe(self) -> str:
        return f"{self.model} {self.precision}{' compiled' if self.compile else ''}"


def default_plan(device: str) -> list[Setting]:
    """CUDA: every precision for both models without compile; compile where it compiles something (the anchor's
    LSTM is left to eager mode by torch.compile, the conformer gives 71 graphs on CPU), in bfloat16 only, since
    compiling the conformer takes minutes per process. CPU: the anchor in float32 and bfloat16 (float16 added
    by the caller when CPU autocast supports it)."""
    if device == "cuda":
        eager = [Setting(m, p, False) for m in ("anchor", "conformer") for p in PRECISIONS]
        return [*eager, Setting("conformer", "bfloat16", True)]
    return [Setting("anchor", p, False) for p in ("float32", "bfloat16")]


def explicit_plan(models_: list[str], precisions: list[str], compile_modes: list[bool]) -> list[Setting]:
    """The cross product, float32 first in each (model, compile) group: the AMP lines need its frames/s."""
    ordered = sorted(precisions, key=lambda p: p != "float32")
    return [Setting(m, p, c) for m in models_ for c in compile_modes for p in ordered]


def cpu_autocast_works(dtype: torch.dtype) -> bool:
    """A tiny packed BLSTM (the anchor's layers) forward/backward under CPU autocast with a GradScaler: float16 on
    CPU depends on the build, and oneDNN may have no float16 LSTM even where float16 matmuls work."""
    try:
        lstm, linear = torch.nn.LSTM(4, 4, bidirectional=True, batch_first=True), torch.nn.Linear(8, 3)
        packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(2, 3, 4), torch.tensor([3, 2]), batch_first=True)
        with torch.autocast("cpu", dtype=dtype):
            out = linear(lstm(packed)[0].data).float().sum()
        torch.amp.GradScaler("cpu").scale(out).backward()
        return all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in lstm.parameters())
    except (RuntimeError, TypeError):
        return False


# ---------------------------------------------------------------------------- data and batches


@dataclass(frozen=True)
class PreparedModel:
    spec: models.ModelSpec
    data_dir: Path
    batch_size: int
    max_seqs: int
    batch_frames: list[int]  # frames of every batch of seqtrain's epoch-1 list
    same_batches: bool  # seqtrain's list == the plain loop's


def prepare_model(spec: models.ModelSpec, opts: argparse.Namespace) -> PreparedModel:
    """Writes the data once per size (HDFWriter renames complete files into place) and compares the batch lists."""
    from seqtrain.data.epoch import plan_epoch

    data_dir = opts.work_dir / "data" / f"{spec.name}-n{opts.num_seqs}"
    path = spec.data_file(data_dir)
    if not path.exists():
        spec.write_data(data_dir, opts.num_seqs)
    batch_size, max_seqs = opts.batch_size or spec.batch_size, opts.max_seqs or spec.max_seqs
    setup = seqtrain_setup(path)
    plan = plan_epoch(setup, 1, random_seed=RANDOM_SEED, batch_size=batch_size, max_seqs=max_seqs)
    ours = [list(b.seq_indices) for b in plan.batches]
    lengths = setup.dataset.seq_lengths()
    theirs = models.plain_batches(lengths["data"], lengths["classes"], batch_size=batch_size, max_seqs=max_seqs)
    frames = [int(lengths["data"][b].sum()) for b in ours]
    return PreparedModel(spec, data_dir, batch_size, max_seqs, frames, ours == theirs)


# ---------------------------------------------------------------------------- one run


def command(
    impl: str, setting: Setting, prepared: PreparedModel, opts: argparse.Namespace, nproc: int
) -> tuple[list[str], dict[str, str]]:
    spec = prepared.spec
    if impl == "plain":
        argv = [
            sys.executable, "-m", "bench.gpu.plain_loop", "--model", spec.name,
            "--data", str(spec.data_file(prepared.data_dir)), "--device", opts.device,
            "--precision", setting.precision, "--batch-size", str(prepared.batch_size),
            "--max-seqs", str(prepared.max_seqs), "--threads", str(opts.threads),
        ]  # fmt: skip
        return [*argv, "--compile"] if setting.compile else argv, {}
    overrides = [f"device={opts.device}", "log_verbosity=5", f"batch_size={prepared.batch_size}"]
    overrides.append(f"max_seqs={prepared.max_seqs}")
    if setting.precision != "float32":
        overrides.append(f"torch_amp={setting.precision}")
    if setting.precision == "bfloat16":  # like the plain loop: no loss scaling in bfloat16 (RETURNN adds a scaler)
        overrides.append("grad_scaler=None")
    if setting.compile:
        overrides.append("torch_compile=True")
    launcher = ["-m", "bench.gpu.launch_seqtrain", "train", str(spec.seqtrain_config), *overrides, *opts.seqtrain_arg]
    if nproc > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *launcher]
    return [sys.executable, *launcher], spec.seqtrain_env(prepared.data_dir, opts.threads)


def run_process(argv: list[str], env: dict[str, str], log_path: Path, timeout: float) -> tuple[int, str, float]:
    """(exit status, output, wall seconds); on timeout the whole session is killed (DataLoader workers, ranks)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = log_path.parent.parent / "cwd"
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            argv, cwd=scratch, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, log_path.read_text(errors="replace"), time.monotonic() - start


def run_one(
    impl: str, setting: Setting, prepared: PreparedModel, opts: argparse.Namespace, *, pair: int, nproc: int = 1
) -> dict[str, Any]:
    """One training process and what it measured, or the reason it measured nothing."""
    argv, extra_env = command(impl, setting, prepared, opts, nproc)
    cache = None
    if setting.compile and not opts.warm_compile_cache:
        cache = Path(tempfile.mkdtemp(prefix="compile-cache-", dir=opts.work_dir))
        extra_env = {**extra_env, "TORCHINDUCTOR_CACHE_DIR": str(cache), "TRITON_CACHE_DIR": str(cache / "triton")}
    env = {
        **os.environ,
        **extra_env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    compiled = "-compiled" if setting.compile else ""
    name = f"{setting.model}-{opts.num_seqs}seqs-{setting.precision}{compiled}-{impl}-x{nproc}-pair{pair}"
    try:
        code, output, wall = run_process(argv, env, opts.work_dir / "logs" / f"{name}.log", opts.timeout)
    finally:
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
    found = [r for r in probe.parse_output(output) if r["impl"] == impl and r.get("rank", 0) == 0]
    if code != 0 or not found:
        return {"impl": impl, "error": f"exit {code}, {len(found)} result lines; output ends: {output[-1500:]}"}
    try:
        return {"impl": impl, "wall_s": round(wall, 2), **measure(found[-1], prepared, opts.warmup_steps, nproc)}
    except ValueError as e:
        return {"impl": impl, "error": f"{e}; log {name}.log"}


def measure(record: dict[str, Any], prepared: PreparedModel, warmup: int, nproc: int) -> dict[str, Any]:
    """The numbers of one run, computed the same way for both implementations."""
    frames = metrics.step_frames(prepared.batch_frames, nproc)
    if record["impl"] == "plain" and record["step_frames"] != frames:
        raise ValueError("the plain loop trained other batches than seqtrain's batch list")
    if len(record["step_end_s"]) != len(frames):
        raise ValueError(f"{len(record['step_end_s'])} steps timed, the batch list has {len(frames)}")
    summary = record.get("summary") or {}
    scores = summary.get("train_scores", {})
    loss = record["loss"] if record["impl"] == "plain" else scores.get(prepared.spec.report_loss)
    return {
        "frames_per_s": metrics.frames_per_second(record["step_end_s"], frames, warmup),
        "first_step_s": record["step_end_s"][0],
        "peak_mem_gib": record["peak_mem_gib"],
        "peak_mem_kind": record["peak_mem_kind"],
        "device": record["device"],
        "device_name": record["device_name"],
        "loss": loss,
        "steps": len(frames),
        "skipped_updates": record.get("skipped_updates", summary.get("skipped_updates")),
        "compiled_graphs": record.get("compiled_graphs", summary.get("compiled_graphs")),
        "seqtrain_setup": record.get("setup"),
        "seqtrain_summary": summary or None,
    }


# ---------------------------------------------------------------------------- result lines


def setting_line(
    setting: Setting, prepared: PreparedModel, runs: dict[str, list[dict[str, Any]]], opts: argparse.Namespace
) -> dict[str, Any]:
    """One JSON line: medians per implementation, the median of the per-pair ratios, and what went wrong."""
    ok = {impl: [r for r in runs[impl] if "error" not in r] for impl in IMPLS}
    first = next((r for impl in IMPLS for r in ok[impl]), {})
    line: dict[str, Any] = {
        "bench": "gpu",
        "device": first.get("device", opts.device),
        "device_name": first.get("device_name"),
        "model": setting.model,
        "precision": setting.precision,
        "compile": setting.compile,
        "nproc": 1,
        "num_seqs": opts.num_seqs,
        "frames": sum(prepared.batch_frames),
        "steps": len(prepared.batch_frames),
        "warmup_steps": opts.warmup_steps,
        "pairs": opts.pairs,
        "same_batches": prepared.same_batches,
    }
    for impl in IMPLS:
        line[f"{impl}_frames_per_s"] = metrics.rounded(metrics.median([r["frames_per_s"] for r in ok[impl]]), 1)
    pair_ratios = [
        metrics.ratio(s["frames_per_s"], p["frames_per_s"])
        for p, s in zip(runs["plain"], runs["seqtrain"])
        if "error" not in p and "error" not in s
    ]
    line["ratio_seqtrain_vs_plain"] = metrics.rounded(metrics.median(pair_ratios), 4)
    for impl in IMPLS:
        line[f"{impl}_first_step_s"] = metrics.rounded(metrics.median([r["first_step_s"] for r in ok[impl]]), 2)
    for impl in IMPLS:
        line[f"{impl}_peak_mem_gib"] = metrics.rounded(metrics.median([r["peak_mem_gib"] for r in ok[impl]]), 3)
    line["peak_mem_kind"] = first.get("peak_mem_kind")
    line["loss_name"] = prepared.spec.report_loss
    for impl in IMPLS:
        line[f"{impl}_loss"] = metrics.rounded(metrics.median([r["loss"] for r in ok[impl]]), 4)
    line["skipped_updates"] = {impl: [r["skipped_updates"] for r in ok[impl]] for impl in IMPLS}
    if setting.compile:
        line["compiled_graphs"] = {impl: [r["compiled_graphs"] for r in ok[impl]] for impl in IMPLS}
    line["seqtrain_setup"] = next((r["seqtrain_setup"] for r in ok["seqtrain"]), None)
    line["seqtrain_reported_frames_per_s"] = next(
        (r["seqtrain_summary"]["frames_per_s"] for r in ok["seqtrain"] if r["seqtrain_summary"]), None
    )
    if opts.pairs > 1:
        line["per_pair_ratio"] = pair_ratios
    errors = [f"{r['impl']}: {r['error']}" for impl in IMPLS for r in runs[impl] if "error" in r]
    if not prepared.same_batches:
        errors.append("seqtrain's batch list differs from the plain loop's: frames/s are not comparable")
    if errors:
        line["errors"] = errors
    return line


def add_speedups(line: dict[str, Any], lines: dict[Setting, dict[str, Any]], setting: Setting) -> None:
    """AMP over float32 (same model and compile) and compiled over eager (same model and precision), per side."""
    if setting.precision != "float32":
        base = lines.get(Setting(setting.model, "float32", setting.compile))
        line["speedup_vs_float32"] = _speedups(line, base)
    if setting.compile:
        line["speedup_vs_eager"] = _speedups(line, lines.get(Setting(setting.model, setting.precision, False)))
    line["targets"] = metrics.targets(line)


def _speedups(line: dict[str, Any], base: dict[str, Any] | None) -> dict[str, float | None] | None:
    if base is None:
        return None
    return {impl: metrics.ratio(line[f"{impl}_frames_per_s"], base[f"{impl}_frames_per_s"]) for impl in IMPLS}


def scaling_line(
    setting: Setting, base: dict[str, Any], runs: list[dict[str, Any]], nproc: int, opts: argparse.Namespace
) -> dict[str, Any]:
    """seqtrain with N processes (per-device batch size: N batches per step) against its 1-process run."""
    ok = [r for r in runs if "error" not in r]
    fps = metrics.rounded(metrics.median([r["frames_per_s"] for r in ok]), 1)
    line: dict[str, Any] = {
        "bench": "gpu",
        "device": base["device"],
        "device_name": base["device_name"],
        "model": setting.model,
        "precision": setting.precision,
        "compile": setting.compile,
        "nproc": nproc,
        "num_seqs": opts.num_seqs,
        "seqtrain_frames_per_s": fps,
        "seqtrain_1proc_frames_per_s": base["seqtrain_frames_per_s"],
        "scaling_vs_1proc": metrics.ratio(fps, base["seqtrain_frames_per_s"]),
        "seqtrain_first_step_s": metrics.rounded(metrics.median([r["first_step_s"] for r in ok]), 2),
        "seqtrain_peak_mem_gib": metrics.rounded(metrics.median([r["peak_mem_gib"] for r in ok]), 3),
        "steps_per_process": len(metrics.step_frames([0] * base["steps"], nproc)),
    }
    errors = [f"seqtrain x{nproc}: {r['error']}" for r in runs if "error" in r]
    if errors:
        line["errors"] = errors
    line["targets"] = metrics.targets(line)
    return line
