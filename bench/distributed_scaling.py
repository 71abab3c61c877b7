"""Multi-process scaling of real `seqtrain train` runs: 1 process vs `torchrun --nproc_per_node=N`, same config.

    python -m bench.distributed_scaling [--nproc 2 --partition 20 --device cpu]

Trains one sub-epoch of the tts_digits ctc_blstm recipe (its model, batch_size 5000 padded frames per
process) on 1/partition of the corpus (TTS_DIGITS_DATA, else data/tts_digits, else /work/shared/...; else a
random corpus of the same shape) in four runs, each started as its own process:

  one_process        1 process, all cores (torch's default thread count)     <- the baseline
  one_process_1thr   1 process, 1 intra-op thread (what each torchrun worker gets on CPU)
  per_device         N processes, batch_size per process: N times the data per step (DDP)
  per_device_explicit  the same with reduce_type "grad_explicit": gradients summed after backward, no DDP
  global_batch       N processes, batch_size_is_global: the baseline's batches, split across the ranks

and prints one JSON line: train frames per second of each (from the epoch's log line: all ranks' frames
over rank 0's epoch time, without startup and evaluation) and the speedups over the baseline. On a CPU
machine N processes share its cores with each other: a speedup needs at least N free cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from seqtrain.data.dataset import DataSpec
from seqtrain.data.hdf import HDFWriter

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes/tts_digits/ctc_blstm.py"
CANDIDATES = [os.environ.get("TTS_DIGITS_DATA", ""), "data/tts_digits", "/work/shared/data/tts_digits_sentences"]
SUMMARY = re.compile(r"epoch 1/1: .* \| ([\d.]+) s(?: \(\+[\d.]+ s eval\))?, (\d+) steps, (\d+) frames/s")


def corpus_dir(scratch: Path) -> tuple[Path, str]:
    found = next((Path(c) for c in CANDIDATES if c and (Path(c) / "train.hdf").is_file()), None)
    if found is not None:
        return found, "tts_digits"
    rng = np.random.RandomState(0)
    specs = {
        "data": DataSpec(dim=80, dtype="float32", feature_shape=(80,)),
        "classes": DataSpec(dim=27, dtype="int32", sparse=True, vocab=tuple(" abcdefghijklmnopqrstuvwxyz")),
    }
    writer = HDFWriter(scratch / "train.hdf", specs)
    for i in range(6000):
        frames = int(rng.randint(50, 460))
        labels = rng.randint(0, 27, size=max(1, frames // 8))
        writer.add(f"random-{i}", {"data": rng.randn(frames, 80).astype("float32"), "classes": labels})
    writer.close()
    return scratch, "random (tts_digits not found)"


def run(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    output = result.stdout + result.stderr
    match = SUMMARY.search(output)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output[-3000:]}")
    seconds, steps, fps = float(match.group(1)), int(match.group(2)), float(match.group(3))
    return {"seconds": seconds, "steps": steps, "frames_per_s": fps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--partition", type=int, default=20, help="train on 1/partition of the corpus")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--reduce-pairs", type=int, default=1, help="more alternated DDP / grad_explicit pairs for their ratio"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        data, corpus = corpus_dir(scratch)
        train = {
            "class": "HDFDataset", "files": [str(data / "train.hdf")], "seq_ordering": "laplace:.100",
            "partition_epoch": args.partition,
        }  # fmt: skip
        common = [f"train={train!r}", "dev=None", "num_epochs=1", "tensorboard=False", f"device={args.device!r}"]
        env = {**os.environ, "PYTHONPATH": str(REPO), "TTS_DIGITS_DATA": str(data)}
        seqtrain = [sys.executable, "-m", "seqtrain", "train", str(RECIPE)]
        torchrun = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={args.nproc}", "--standalone"]
        torchrun += ["-m", "seqtrain", "train", str(RECIPE)]

        def model(name: str) -> str:
            return f"model={str(scratch / name / 'model')!r}"

        runs = {
            "one_process": run([*seqtrain, *common, model("one")], env),
            "one_process_1thr": run([*seqtrain, *common, model("one1")], {**env, "OMP_NUM_THREADS": "1"}),
            "per_device": run([*torchrun, *common, model("per_device"), "torch_distributed={}"], env),
            "per_device_explicit": run(
                [*torchrun, *common, model("explicit"), "torch_distributed={'reduce_type': 'grad_explicit'}"], env
            ),
            "global_batch": run(
                [*torchrun, *common, model("global"), "torch_distributed={'batch_size_is_global': True}"], env
            ),
        }
        ratios = [runs["per_device"]["frames_per_s"] / runs["per_device_explicit"]["frames_per_s"]]
        for i in range(1, args.reduce_pairs):  # alternated order: a drift of the machine hits both alike
            pair = {}
            for reduce_type in ("grad_explicit", "grad") if i % 2 else ("grad", "grad_explicit"):
                options = f"torch_distributed={{'reduce_type': {reduce_type!r}}}"
                pair[reduce_type] = run([*torchrun, *common, model(f"pair{i}{reduce_type}"), options], env)
            ratios.append(pair["grad"]["frames_per_s"] / pair["grad_explicit"]["frames_per_s"])
    base = runs["one_process"]["frames_per_s"]
    best_single = max(base, runs["one_process_1thr"]["frames_per_s"])  # on a loaded machine 1 thread can win
    print(
        json.dumps(
            {
                "bench": "distributed_scaling",
                "corpus": corpus,
                "nproc": args.nproc,
                "device": args.device,
                "cpu_count": os.cpu_count(),
                **{f"{name}_{k}": v for name, r in runs.items() for k, v in r.items()},
                **{
                    f"speedup_{name}": round(r["frames_per_s"] / base, 3)
                    for name, r in runs.items()
                    if name != "one_process"
                },
                "speedup_per_device_vs_best_single": round(runs["per_device"]["frames_per_s"] / best_single, 3),
                "speedup_global_batch_vs_best_single": round(runs["global_batch"]["frames_per_s"] / best_single, 3),
                "ddp_vs_explicit_pairs": [round(r, 3) for r in ratios],
                "ddp_vs_explicit_median": round(statistics.median(ratios), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
