"""`seqtrain data CONFIG [key=value ...] [--dataset NAME] [--epoch N] --seqs|--batches|--stats [--plot FILE.png]`.

Shows what training will see, from the same epoch plan the engine builds (ordering, partition, filters,
chunking, batching as configured for that epoch), as JSON lines: one per sequence, one per batch plus a
summary, or statistics (one line for the corpus, one per data key).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from seqtrain.config import load_config
from seqtrain.config.settings import RunSettings
from seqtrain.data.report import batch_rows, corpus_stats, plan_summary, plot_stats, seq_rows
from seqtrain.data.setup import build_data, plan_for
from seqtrain.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect a dataset as training sees it: sequences, batches, statistics")
    p.add_argument("config", help="Python config file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys (Python literals)")
    p.add_argument(
        "--dataset", default="train", help="train, dev, or a name of eval_datasets or test_datasets (default: train)"
    )
    p.add_argument("--epoch", type=int, default=1, help="the (sub-)epoch whose order and batches to show")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--seqs", action="store_true", help="one JSON line per sequence, in epoch order")
    what.add_argument("--batches", action="store_true", help="one JSON line per batch, then a summary line")
    what.add_argument("--stats", action="store_true", help="lengths histogram, total frames/hours, label counts")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="with --stats: draw histograms into FILE.png")
    p.add_argument("--key", default=None, help="data key for frames/chunks (default: 'data' or the first key)")
    p.add_argument("--frame-shift-ms", type=float, default=10.0, help="for hours in --stats (default: 10)")
    p.add_argument("--no-label-counts", action="store_true", help="--stats without reading the label sequences")
    p.set_defaults(run=run)


def _print(row: dict) -> None:
    sys.stdout.write(json.dumps(row) + "\n")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BrokenPipeError:  # `seqtrain data ... | head`: the reader has what it wants
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stdout stays open until exit)
        return 0


def _run(args: argparse.Namespace) -> int:
    if args.epoch < 1:
        raise ConfigError(f"--epoch must be >= 1, got {args.epoch}")
    if args.plot and not args.stats:
        raise ConfigError("--plot draws the statistics; use it with --stats")
    config = load_config(args.config, args.overrides)
    data = build_data(config, need_train=False)
    setup = data.by_name(args.dataset)
    keys = [k for k in data.specs if data.specs[k].time_axis]
    key = args.key or ("data" if "data" in keys else keys[0])
    if key not in keys:
        raise ConfigError(f"--key {key!r} is not a batched data key; the batches carry {keys}")
    plan = plan_for(config, setup, args.epoch, chunking=True)
    random_seed = RunSettings.from_config(config).random_seed
    dataset = setup.dataset.for_epoch(args.epoch, random_seed=random_seed)  # generated tasks, augmentation: per epoch
    if args.seqs:
        for row in seq_rows(dataset, plan, keys):
            _print(row)
    elif args.batches:
        for row in batch_rows(dataset, plan, key):
            _print(row)
        _print(plan_summary(dataset, plan, key))
    else:
        used = np.array(sorted({i for b in plan.batches for i in b.seq_indices}), dtype=np.int64)
        stats = corpus_stats(
            dataset, used, keys, frame_shift_ms=args.frame_shift_ms, count_labels=not args.no_label_counts
        )
        per_key = stats.pop("keys")
        _print(stats)
        for name, entry in per_key.items():
            _print({"key": name, **entry})
        stats["keys"] = per_key
        if args.plot:
            print(f"wrote {plot_stats(stats, args.plot)}", file=sys.stderr)
    return 0
