"""Loader throughput vs what training consumes, and the data wait of training, per `num_workers`.

    python -m bench.data.loader_throughput [--steps 12] [--loader-batches 150]

On the tts_digits recipe (its model, batching and corpus; a synthetic stand-in when the corpus is absent):
(1) the loader alone, frames/s of padded batches delivered, for num_workers 0, 1, 2;
(2) training fed from memory: frames/s the recipe's steps consume (the baseline, same run);
(3) training fed by the loader, for num_workers 0, 1, 2: frames/s and the share of time spent waiting
for data. Prints one JSON line. The first step of each run is not timed (allocation warm-up).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from bench.data.workload import recipe, train_steps
from seqtrain.data.loader import iterate_batches
from seqtrain.data.setup import plan_for

WORKERS = (0, 1, 2)


def loader_alone(setup, batches, dtypes, workers: int) -> float:
    start, frames = time.perf_counter(), 0
    for batch in iterate_batches(setup.dataset, batches, dtypes=dtypes, num_workers=workers, random_seed=42, epoch=1):
        frames += batch.num_frames()
    return frames / (time.perf_counter() - start)


def training(builder, batches, steps: int) -> dict[str, float]:
    frames = waited = busy = 0.0
    for i, (batch, wait, step) in enumerate(train_steps(builder, batches, steps + 1)):
        if i == 0:
            continue
        frames += batch.num_frames()
        waited += wait
        busy += step
    total = waited + busy
    return {"frames_per_s": round(frames / total, 1), "data_wait_fraction": round(waited / total, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--loader-batches", type=int, default=150)
    args = parser.parse_args()
    torch.set_num_threads(2)
    config, data, builder = recipe()
    assert data.train is not None
    plan = plan_for(config, data.train, 1)
    subset = plan.batches[: args.loader_batches]
    loader = {w: round(loader_alone(data.train, subset, data.dtypes, w), 1) for w in WORKERS}
    in_memory = list(iterate_batches(data.train.dataset, plan.batches[: args.steps + 1], dtypes=data.dtypes,
                                     num_workers=0, random_seed=42, epoch=1))  # fmt: skip
    baseline = training(builder, iter(in_memory), args.steps)
    fed = {}
    for w in WORKERS:
        stream = iterate_batches(data.train.dataset, plan.batches, dtypes=data.dtypes, num_workers=w, random_seed=42,
                                 epoch=1)  # fmt: skip
        fed[w] = training(builder, stream, args.steps)
    best = max(WORKERS, key=lambda w: fed[w]["frames_per_s"])
    print(json.dumps({
        "bench": "data_loader_throughput", "corpus": str(config.get("train")["files"][0]), "steps": args.steps,
        "loader_frames_per_s": loader, "train_from_memory_frames_per_s": baseline["frames_per_s"],
        "loader_over_training": {w: round(loader[w] / baseline["frames_per_s"], 1) for w in WORKERS},
        "train_fed_by_loader": fed, "best_num_workers": best,
        "slowdown_vs_memory": {w: round(baseline["frames_per_s"] / fed[w]["frames_per_s"], 3) for w in WORKERS},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
