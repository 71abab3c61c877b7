"""Peak memory of the main process: training with the whole train.hdf read vs. training without any data file.

    python -m bench.data.peak_rss [--steps 3] [--workers 0 1]

Each measurement is its own process (peak RSS, VmHWM, is per process and only grows): "model" trains the
recipe's model for a few steps on random batches of the epoch's first batch shapes, reading no file;
"data" trains the same steps on the real batches and then loads every other batch of the epoch, i.e.
reads all of train.hdf (~200 MB of float16 features). The requirement: data - model <= ~50 MB.
Prints one JSON line with both peaks and the growth per num_workers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

from bench.data.workload import REPO, recipe, train_steps
from seqtrain.data.loader import Batch, iterate_batches
from seqtrain.data.setup import plan_for


def _peak_mib() -> float:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1]) / 1024


def _random_like(shapes: list[tuple[int, list[int], list[int]]]) -> list[Batch]:
    """Batches of the given (max frames, data lengths, label lengths) without reading any file."""
    out = []
    for frames, data_lens, label_lens in shapes:
        data = torch.randn(len(data_lens), frames, 80)
        labels = torch.randint(0, 27, (len(label_lens), max(label_lens)), dtype=torch.int32)
        lengths = {
            "data": torch.tensor(data_lens, dtype=torch.int32),
            "classes": torch.tensor(label_lens, dtype=torch.int32),
        }
        out.append(
            Batch({"data": data, "classes": labels}, lengths, [""] * len(data_lens), list(range(len(data_lens))))
        )
    return out


def child(mode: str, workers: int, steps: int) -> dict[str, float]:
    torch.set_num_threads(2)
    config, data, builder = recipe([f"num_workers={workers}"])
    assert data.train is not None
    plan = plan_for(config, data.train, 1)
    lengths = data.train.dataset.seq_lengths()
    batches_read = 0
    if mode == "model":
        shapes = []
        for spec in plan.batches[:steps]:
            idx = list(spec.seq_indices)
            shapes.append(
                (int(lengths["data"][idx].max()), lengths["data"][idx].tolist(), lengths["classes"][idx].tolist())
            )
        stream = iter(_random_like(shapes))
        for _ in train_steps(builder, stream, steps):
            pass
    else:
        stream = iterate_batches(data.train.dataset, plan.batches, dtypes=data.dtypes, num_workers=workers,
                                 random_seed=42, epoch=1)  # fmt: skip
        for _ in train_steps(builder, stream, steps):
            batches_read += 1
        for _ in stream:
            batches_read += 1
    return {"peak_rss_mib": round(_peak_mib(), 1), "batches_read": batches_read, "batches": len(plan.batches)}


def measure(mode: str, workers: int, steps: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "bench.data.peak_rss",
        "--child",
        mode,
        "--workers",
        str(workers),
        "--steps",
        str(steps),
    ]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 0])
    parser.add_argument("--child", choices=["model", "data"], default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workers[0], args.steps)))
        return
    model = measure("model", args.workers[0], args.steps)
    result = {
        "bench": "data_peak_rss",
        "steps": args.steps,
        "model_only_peak_mib": model["peak_rss_mib"],
        "with_data": {},
    }
    for workers in args.workers:
        run = measure("data", workers, args.steps)
        growth = round(run["peak_rss_mib"] - model["peak_rss_mib"], 1)
        result["with_data"][workers] = {**run, "growth_mib": growth, "within_50_mib": growth <= 50}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
