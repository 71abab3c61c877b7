"""`seqtrain train CONFIG [key=value ...]`: train, or resume where the last run stopped."""

from __future__ import annotations

import argparse

from seqtrain.cli.openmp_policy import apply_wait_policy
from seqtrain.config import load_config
from seqtrain.config.settings import DataSettings, RunSettings
from seqtrain.errors import ConfigError
from seqtrain.pipeline.run import train

# What RETURNN's other tasks are in seqtrain; `seqtrain train` only trains (and evaluates every epoch).
_OTHER_TASKS = {
    "forward": "write the model outputs to HDF with `seqtrain forward CONFIG --data NAME` (to output_file, or "
    "--output-hdf FILE)",
    "recog": "decode with `seqtrain recog CONFIG --data NAME`",
    "align": "write alignments with `seqtrain align CONFIG --data NAME --output-hdf FILE`",
    "eval": "`seqtrain train` evaluates dev/eval after every epoch (scores in the learning-rate file); to decode a "
    "trained model use `seqtrain recog CONFIG --data NAME`",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train (resumes from the newest checkpoint if there is one)")
    p.add_argument("config", help="Python config file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys (Python literals)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    task = RunSettings.from_config(config).task
    if task != "train":
        raise ConfigError(f"config {args.config}: task={task!r}, but `seqtrain train` trains; {_OTHER_TASKS[task]}")
    apply_wait_policy(DataSettings.from_config(config).openmp_wait_policy, getattr(args, "command_line", None))
    train(config)
    return 0
