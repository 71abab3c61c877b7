"""`python -m bench.gpu`: options, the order of the runs, and the JSON lines (see the package doc)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import torch

from bench.gpu import models
from bench.gpu.plain_loop import PRECISIONS
from bench.gpu.run import (
    IMPLS,
    QUICK,
    REPO,
    PreparedModel,
    Setting,
    add_speedups,
    cpu_autocast_works,
    default_plan,
    explicit_plan,
    prepare_model,
    run_one,
    scaling_line,
    setting_line,
)

COMPILE_MODES = {"off": False, "on": True}


def _csv(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__)
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto", help="auto: CUDA when available")
    parser.add_argument("--model", default=None, help="comma-separated: anchor, conformer (default: a plan)")
    parser.add_argument("--precisions", default=None, help=f"comma-separated: {', '.join(PRECISIONS)}")
    parser.add_argument("--compile-modes", default=None, help="comma-separated: off, on")
    parser.add_argument("--compile", dest="compile_modes", action="store_const", const="off,on", help="= off,on")
    parser.add_argument("--no-compile", dest="compile_modes", action="store_const", const="off", help="= off")
    parser.add_argument("--num-seqs", type=int, default=None, help="data size (default: 1000 on CUDA, 200 on CPU)")
    parser.add_argument("--batch-size", type=int, default=None, help="padded frames per batch (default: the model's)")
    parser.add_argument("--max-seqs", type=int, default=None, help="default: the model's")
    parser.add_argument("--pairs", type=int, default=1, help="alternated plain/seqtrain runs per setting")
    parser.add_argument("--warmup-steps", type=int, default=None, help="steps left out of frames/s (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of every process (default 2)")
    parser.add_argument("--nproc", type=int, default=None, help="also seqtrain with N processes (default: #GPUs)")
    parser.add_argument("--quick", action="store_true", help=f"tiny size, for tests: {QUICK}")
    parser.add_argument("--seqtrain-arg", action="append", default=[], help="extra KEY=VALUE for seqtrain runs")
    parser.add_argument("--warm-compile-cache", action="store_true", help="share one inductor cache by all runs")
    parser.add_argument("--work-dir", type=Path, default=REPO / "bench" / "out" / "gpu")
    parser.add_argument("--out", type=Path, default=None, help="also append the JSON lines to this file")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    opts = parser.parse_args(argv)
    _resolve(opts, parser)
    return opts


def _resolve(opts: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Device-dependent defaults, --quick, the plan; errors name the option."""
    if opts.device == "auto":
        opts.device = "cuda" if torch.cuda.is_available() else "cpu"
    if opts.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available here")
    quick = QUICK if opts.quick else {}
    opts.num_seqs = opts.num_seqs or quick.get("num_seqs") or (1000 if opts.device == "cuda" else 200)
    opts.batch_size = opts.batch_size or quick.get("batch_size")
    opts.warmup_steps = opts.warmup_steps or quick.get("warmup_steps") or 3
    opts.threads = opts.threads or quick.get("threads") or 2
    if opts.nproc is None:
        opts.nproc = torch.cuda.device_count() if opts.device == "cuda" else 1
    if not 1 <= opts.num_seqs <= 1000 or opts.pairs < 1 or opts.warmup_steps < 1 or opts.threads < 1:
        parser.error("--num-seqs must be in [1, 1000], --pairs, --warmup-steps and --threads >= 1")
    try:
        opts.plan = _plan(opts)
    except ValueError as e:
        parser.error(str(e))


def _plan(opts: argparse.Namespace) -> list[Setting]:
    if opts.model is None and opts.precisions is None and opts.compile_modes is None and not opts.quick:
        plan = default_plan(opts.device)
        if opts.device == "cpu" and cpu_autocast_works(torch.float16):
            plan.append(Setting("anchor", "float16", False))
        return plan
    names = _csv(opts.model or "anchor")
    precisions = _csv(opts.precisions or ("float32,bfloat16" if opts.device == "cpu" else ",".join(PRECISIONS)))
    modes = _csv(opts.compile_modes or "off")
    for value, known, what in ((names, ("anchor", "conformer"), "--model"), (precisions, PRECISIONS, "--precisions"),
                               (modes, COMPILE_MODES, "--compile-modes")):  # fmt: skip
        unknown = [v for v in value if v not in known]
        if unknown or not value:
            raise ValueError(f"{what}: unknown or empty {unknown or value}; known: {', '.join(known)}")
    return explicit_plan(names, precisions, [COMPILE_MODES[m] for m in modes])


def progress(message: str) -> None:
    print(f"[bench.gpu {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _describe(run: dict[str, Any]) -> str:
    if "error" in run:
        return f"{run['impl']:8s} FAILED: {run['error'][:400]}"
    return (
        f"{run['impl']:8s} {run['frames_per_s']:.0f} frames/s, first step at {run['first_step_s']:.2f} s, "
        f"peak {run['peak_mem_gib']:.3f} GiB, loss {run['loss']}, wall {run['wall_s']:.1f} s"
    )


class Writer:
    """Prints each line to stdout at once (a long run shows its results as they come) and appends it to files."""

    def __init__(self, paths: list[Path]) -> None:
        self.files: list[TextIO] = []
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.files.append(path.open("a"))

    def write(self, line: dict[str, Any]) -> None:
        text = json.dumps(line)
        print(text, flush=True)
        for f in self.files:
            f.write(text + "\n")
            f.flush()

    def close(self) -> None:
        for f in self.files:
            f.close()


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    opts.work_dir.mkdir(parents=True, exist_ok=True)
    progress(f"device {opts.device}, {opts.num_seqs} seqs, {opts.pairs} pair(s), {len(opts.plan)} settings: "
             + "; ".join(s.describe() for s in opts.plan))  # fmt: skip
    specs = models.model_specs()
    prepared: dict[str, PreparedModel] = {}
    for name in dict.fromkeys(s.model for s in opts.plan):
        prepared[name] = prepare_model(specs[name], opts)
        p = prepared[name]
        progress(f"{name}: {len(p.batch_frames)} batches, {sum(p.batch_frames)} frames, same batches {p.same_batches}")
    writer = Writer([opts.work_dir / "results.jsonl", *([opts.out] if opts.out else [])])
    lines: dict[Setting, dict[str, Any]] = {}
    turn = 0
    ok = True
    try:
        for setting in opts.plan:
            runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in IMPLS}
            for pair in range(opts.pairs):
                for impl in IMPLS if turn % 2 == 0 else reversed(IMPLS):
                    run = run_one(impl, setting, prepared[setting.model], opts, pair=pair)
                    runs[impl].append(run)
                    progress(f"{setting.describe()} pair {pair + 1}/{opts.pairs}: {_describe(run)}")
                turn += 1
            line = setting_line(setting, prepared[setting.model], runs, opts)
            add_speedups(line, lines, setting)
            lines[setting] = line
            ok = ok and "errors" not in line
            writer.write(line)
        if opts.nproc > 1:
            ok = _scaling(opts, prepared, lines, writer) and ok
    finally:
        writer.close()
    return 0 if ok else 1


def _scaling(
    opts: argparse.Namespace, prepared: dict[str, PreparedModel], lines: dict[Setting, dict[str, Any]], writer: Writer
) -> bool:
    """seqtrain in N processes for each model's first eager setting (bfloat16 where measured), against the
    1-process run of the same setting measured above."""
    ok = True
    for name in prepared:
        eager = [s for s in lines if s.model == name and not s.compile and lines[s]["seqtrain_frames_per_s"]]
        if not eager:
            continue
        setting = next((s for s in eager if s.precision == "bfloat16"), eager[0])
        runs = []
        for pair in range(opts.pairs):
            run = run_one("seqtrain", setting, prepared[name], opts, pair=pair, nproc=opts.nproc)
            runs.append(run)
            progress(f"{setting.describe()} x{opts.nproc} processes, pair {pair + 1}/{opts.pairs}: {_describe(run)}")
        line = scaling_line(setting, lines[setting], runs, opts.nproc, opts)
        ok = ok and "errors" not in line
        writer.write(line)
    return ok
