"""The anchor benchmark: seqtrain vs. a plain PyTorch loop (vs. RETURNN) on one model, data set and batch list.

    python -m bench.anchor.run                      # 3 alternated pairs per loss (ce, ctc): ~2 h on 2 cores
    python -m bench.anchor.run --pairs 1 --losses ce  # ~10 min
    python -m bench.anchor.run --quick               # 50 seqs, 1 pair: checks that everything works

Each implementation trains one epoch in its own process; the runs of a pair follow each other, and the
order inside a pair alternates, so slow drifts of a shared machine hit both sides alike. Ratios are
taken pair by pair and their median reported. Before any timing, the batch lists of all implementations
are compared (`batch_check.py`); after it, the epoch losses (equal to float32 rounding = same batches and
same arithmetic). Prints one JSON line on stdout; progress goes to stderr, every run's full output to
WORK_DIR/logs/ and all run records to WORK_DIR/runs.jsonl. Exit status 1 if a seqtrain or plain run
failed or the batches/losses differ.

RETURNN runs when its Python (`--returnn-python`, else $RETURNN_PYTHON, else /work/.venv-returnn/bin/python)
can import `returnn.frontend`; otherwise the report says why it was left out.
"""

from __future__ import annotations

import argparse
import json
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

from bench.anchor import gen_data, summary
from bench.anchor.batch_check import check_batches
from bench.anchor.monitor import TreeMonitor

REPO = Path(__file__).resolve().parents[2]
ANCHOR = Path(__file__).resolve().parent
DEFAULT_RETURNN_PYTHON = "/work/.venv-returnn/bin/python"
IMPLS = ("seqtrain", "plain", "returnn")
QUICK_NUM_SEQS = 50
# glibc's malloc hands large freed blocks back to the kernel (munmap, heap trim) and gets fresh zeroed pages
# for the next step's activations: ~0.3-0.6 million page faults per anchor step, 10-25 % of the CPU time on
# this machine. A fixed mmap threshold of 32 MiB and no trimming keep the memory in the process.
TUNED_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1)}


def find_returnn_python(explicit: str | None) -> tuple[str | None, str]:
    """(python, why): the Python that runs RETURNN, or None and the reason it is left out."""
    candidate = explicit or os.environ.get("RETURNN_PYTHON") or DEFAULT_RETURNN_PYTHON
    if not Path(candidate).exists():
        return None, f"{candidate} does not exist (set RETURNN_PYTHON or --returnn-python)"
    check = subprocess.run(
        [candidate, "-c", "import returnn, returnn.frontend, torch; print(returnn.__version__, torch.__version__)"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if check.returncode != 0:
        return None, f"{candidate} cannot import returnn.frontend: {check.stderr.strip().splitlines()[-1:]}"
    return candidate, f"returnn {check.stdout.strip()}"


@dataclass(frozen=True)
class ImplSpec:
    """An implementation and a diagnostic variant of it, run beside the default one."""

    name: str
    workers: int | None = None  # DataLoader workers (seqtrain, RETURNN); None = the framework's default
    tuned_malloc: bool = False  # TUNED_MALLOC_ENV


def parse_impl(spec: str) -> ImplSpec:
    """ "seqtrain", "seqtrain-w0" (no DataLoader worker), "plain+malloc" (glibc's malloc tuned), or both."""
    rest, plus, suffix = spec.partition("+")
    name, dash, workers = rest.partition("-w")
    if name not in IMPLS or (plus and suffix != "malloc") or (dash and (not workers.isdigit() or name == "plain")):
        raise ValueError(f"unknown implementation {spec!r}; known: {', '.join(IMPLS)}, NAME-wN, NAME+malloc")
    return ImplSpec(name, int(workers) if dash else None, bool(plus))


def command_for(impl: str, loss: str, data_dir: Path, opts: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    spec = parse_impl(impl)
    env = {"BENCH_LOSS": loss, "BENCH_DATA_DIR": str(data_dir), "BENCH_THREADS": str(opts.threads)}
    workers = spec.workers if spec.workers is not None else opts.num_workers
    if workers is not None:
        env["BENCH_NUM_WORKERS"] = str(workers)
    if spec.tuned_malloc:
        env.update(TUNED_MALLOC_ENV)
    if spec.name == "seqtrain":
        return [sys.executable, "-m", "seqtrain", "train", str(ANCHOR / "seqtrain_bench.py")], env
    if spec.name == "plain":
        argv = [sys.executable, str(ANCHOR / "plain_torch.py"), "--data-dir", str(data_dir), "--loss", loss]
        return [*argv, "--threads", str(opts.threads)], {k: v for k, v in env.items() if k.startswith("MALLOC_")}
    return [opts.returnn_python, "-m", "returnn", str(ANCHOR / "returnn_bench.config")], env


def run_one(impl: str, loss: str, pair: int, data_dir: Path, work: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """One training process: its BENCH line, wall time and the memory of its process tree."""
    argv, extra_env = command_for(impl, loss, data_dir, opts)
    model_dir = None
    if impl.startswith("seqtrain") and opts.with_checkpoint:  # a fresh directory, or seqtrain would resume
        model_dir = Path(tempfile.mkdtemp(prefix="model-", dir=work))
        extra_env["BENCH_MODEL_DIR"] = str(model_dir)
    env = {
        **os.environ,
        **extra_env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    log_path = work / "logs" / f"{loss}-{impl}-pair{pair}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = work / "cwd"  # RETURNN's helpers drop faulthandler files into the working directory
    scratch.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "impl": impl,
        "loss": loss,
        "pair": pair,
        "argv": argv,
        "env": extra_env,
        "log": str(log_path),
        "loadavg_before": os.getloadavg(),  # other load on the machine makes a run slower: look here first
    }
    start = time.monotonic()
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            argv, cwd=scratch, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        with TreeMonitor(proc.pid) as monitor:
            try:
                proc.wait(timeout=opts.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the whole session: DataLoader workers too
                proc.wait()
            tree = monitor.stop()
    wall = time.monotonic() - start
    if model_dir is not None:
        shutil.rmtree(model_dir, ignore_errors=True)
    output = log_path.read_text(errors="replace")
    bench_lines = [ln for ln in output.splitlines() if ln.startswith("BENCH ")]
    record.update(returncode=proc.returncode, tree=tree, metrics=None, error=None)
    if proc.returncode != 0 or not bench_lines:
        record["error"] = f"exit {proc.returncode}, {len(bench_lines)} BENCH lines; last output: {output[-1500:]}"
        return record
    record["bench"] = json.loads(bench_lines[-1][len("BENCH ") :])
    record["metrics"] = summary.run_metrics(record["bench"], tree, process_wall_s=wall)
    return record


def prepare_data(work: Path, num_seqs: int) -> Path:
    """Writes the data once per size; HDFWriter renames complete files into place, so existing ones are whole."""
    data_dir = work / "data" / f"n{num_seqs}"
    if not all(gen_data.data_path(data_dir, loss).exists() for loss in gen_data.LOSSES):
        gen_data.write_all(data_dir, num_seqs)
    return data_dir


def _progress(message: str) -> None:
    print(f"[anchor {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _describe(rec: dict[str, Any]) -> str:
    m = rec["metrics"]
    if m is None:
        return f"{rec['impl']:8s} FAILED: {rec['error'][:300]}"
    return (
        f"{rec['impl']:8s} epoch {m['epoch_s']:.1f} s, {m['frames_per_s']:.0f} frames/s, first step at "
        f"{m['time_to_first_step_s']:.2f} s, peak RSS main {m['peak_rss_main_mib']:.0f} MiB, "
        f"loss {m['loss_per_frame']:.8f}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=None, help="alternated runs per implementation and loss (3)")
    parser.add_argument("--losses", default="ce,ctc", help="comma-separated: ce, ctc")
    parser.add_argument(
        "--impls",
        default=",".join(IMPLS),
        help="comma-separated: seqtrain, plain, returnn; variants: NAME-w0 = 0 workers, NAME+malloc = tuned malloc",
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_NUM_SEQS} seqs and 1 pair unless given")
    parser.add_argument("--num-seqs", type=int, default=None, help=f"a prefix of the {gen_data.NUM_SEQS} sequences")
    parser.add_argument("--work-dir", type=Path, default=REPO / "bench" / "out" / "anchor")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of every implementation (anchor: 2)")
    parser.add_argument("--num-workers", type=int, default=None, help="diagnostic: seqtrain's/RETURNN's workers")
    parser.add_argument("--with-checkpoint", action="store_true", help="seqtrain writes its epoch checkpoint")
    parser.add_argument("--returnn-python", default=None)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    opts = parser.parse_args(argv)
    opts.pairs = opts.pairs if opts.pairs is not None else (1 if opts.quick else 3)
    opts.num_seqs = opts.num_seqs or (QUICK_NUM_SEQS if opts.quick else gen_data.NUM_SEQS)
    opts.losses = [x for x in opts.losses.split(",") if x]
    opts.impls = [x for x in opts.impls.split(",") if x]
    for loss in opts.losses:
        if loss not in gen_data.LOSSES:
            parser.error(f"--losses: unknown loss {loss!r}; known: {', '.join(gen_data.LOSSES)}")
    for impl in opts.impls:
        try:
            parse_impl(impl)
        except ValueError as e:
            parser.error(f"--impls: {e}")
    if "plain" not in opts.impls:
        parser.error("--impls must include plain: it is the baseline every ratio is taken against")
    if opts.pairs < 1 or opts.threads < 1 or not 1 <= opts.num_seqs <= gen_data.NUM_SEQS:
        parser.error(f"--pairs and --threads must be >= 1 and --num-seqs in [1, {gen_data.NUM_SEQS}]")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    report: dict[str, Any] = {"bench": "anchor", "settings": _settings(opts), "machine": _machine()}
    if any(i.startswith("returnn") for i in opts.impls):
        opts.returnn_python, why = find_returnn_python(opts.returnn_python)
        report["returnn"] = why
        if opts.returnn_python is None:
            opts.impls = [i for i in opts.impls if not i.startswith("returnn")]
            _progress(f"RETURNN left out: {why}")
    opts.work_dir.mkdir(parents=True, exist_ok=True)
    data_dir = prepare_data(opts.work_dir, opts.num_seqs)
    report["batch_check"] = {}
    for loss in opts.losses:
        report["batch_check"][loss] = check_batches(gen_data.data_path(data_dir, loss), opts.returnn_python)
        _progress(f"batch check {loss}: {report['batch_check'][loss]}")
        if "returnn_error" in report["batch_check"][loss]:
            opts.impls = [i for i in opts.impls if not i.startswith("returnn")]
            _progress("RETURNN left out: it could not read/batch the data (see batch_check)")
    records = []
    runs_file = opts.work_dir / "runs.jsonl"
    with runs_file.open("a") as runs_out:
        for loss in opts.losses:
            for pair in range(opts.pairs):
                order = opts.impls if pair % 2 == 0 else list(reversed(opts.impls))
                for impl in order:
                    record = run_one(impl, loss, pair, data_dir, opts.work_dir, opts)
                    records.append(record)
                    runs_out.write(json.dumps(record) + "\n")
                    runs_out.flush()
                    _progress(f"{loss} pair {pair + 1}/{opts.pairs}: {_describe(record)}")
    report["results"] = {
        loss: summary.summarize_loss([r for r in records if r["loss"] == loss]) for loss in opts.losses
    }
    report["target_seqtrain_over_plain_frames_per_s"] = {
        "target": summary.TARGET_SEQTRAIN_OVER_PLAIN,
        **{loss: summary.target_met(report["results"][loss]) for loss in opts.losses},
    }
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["runs_file"] = str(runs_file)
    report["ok"] = _all_ok(report, records)
    print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


def _all_ok(report: dict[str, Any], records: list[dict[str, Any]]) -> bool:
    """Failed runs of seqtrain or plain, differing batch lists or differing losses invalidate the comparison."""
    if any(r["error"] is not None and not r["impl"].startswith("returnn") for r in records):
        return False
    for check in report["batch_check"].values():
        if not all(v for k, v in check.items() if k.startswith(("seqtrain_equals", "returnn_reads"))):
            return False
    return all(
        c["same_batches_and_arithmetic"] for res in report["results"].values() for c in res["loss_check"].values()
    )


def _settings(opts: argparse.Namespace) -> dict[str, Any]:
    return {
        "pairs": opts.pairs, "losses": opts.losses, "impls": opts.impls, "num_seqs": opts.num_seqs,
        "threads": opts.threads, "num_workers": opts.num_workers, "with_checkpoint": opts.with_checkpoint,
    }  # fmt: skip


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "torch": torch.__version__, "python": sys.version.split()[0],
            "loadavg_start": os.getloadavg()}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
