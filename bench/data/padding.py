"""Padding per `seq_ordering` at one batch budget, on the speech corpus and the synthetic anchor data.

    python -m bench.data.padding [--batch-size 20000] [--max-seqs -1] [--epochs 3]

Prints one JSON line: per corpus and ordering the padding fraction (padded frames of "data" that are
padding), the number of batches and the mean batch fill (padded frames / batch_size), averaged over
epochs 1..N; the baseline is RETURNN's `laplace:.100`, computed in the same run. Needs no training: batch
lists depend on lengths only, so this takes seconds.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from bench.data.sources import corpora
from seqtrain.data.batching import padding_fraction
from seqtrain.data.epoch import plan_epoch

ORDERINGS = (
    "default", "random", "sorted", "sorted_reverse", "laplace:.100", "laplace:.1000", "sort_bin_shuffle:.100",
    "sort_bin_shuffle_x2:.100", "bucket", "bucket:0.02",
)  # fmt: skip
BASELINE = "laplace:.100"


def measure(ordering: str, *, batch_size: int, max_seqs: int, epochs: int) -> dict[str, dict[str, float]]:
    results = {}
    for name, setup in corpora(ordering).items():
        lengths = setup.dataset.seq_lengths()["data"]
        pads, counts, fills = [], [], []
        for epoch in range(1, epochs + 1):
            plan = plan_epoch(setup, epoch, random_seed=42, batch_size=batch_size, max_seqs=max_seqs)
            pads.append(padding_fraction(plan.batches, lengths))
            counts.append(len(plan.batches))
            fills.append(np.mean([lengths[list(b.seq_indices)].max() * len(b) / batch_size for b in plan.batches]))
        results[name] = {
            "padding": round(float(np.mean(pads)), 4),
            "batches": round(float(np.mean(counts)), 1),
            "mean_fill": round(float(np.mean(fills)), 3),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=20000)
    parser.add_argument("--max-seqs", type=int, default=-1)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    table = {o: measure(o, batch_size=args.batch_size, max_seqs=args.max_seqs, epochs=args.epochs) for o in ORDERINGS}
    by_corpus = {c: {o: table[o][c] for o in ORDERINGS} for c in table[BASELINE]}
    summary = {
        c: {"bucket_padding": rows["bucket"]["padding"], "baseline_padding": rows[BASELINE]["padding"],
            "bucket_below_5pct": rows["bucket"]["padding"] < 0.05}
        for c, rows in by_corpus.items()
    }  # fmt: skip
    print(json.dumps({
        "bench": "data_padding", "batch_size": args.batch_size, "max_seqs": args.max_seqs, "epochs": args.epochs,
        "baseline": BASELINE, "summary": summary, "results": by_corpus,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
