"""`seqtrain train CONFIG [key=value ...]`: train, or resume where the last run stopped."""

from __future__ import annotations

import argparse

from seqtrain.config import load_config
from seqtrain.pipeline.run import train


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train (resumes from the newest checkpoint if there is one)")
    p.add_argument("config", help="Python config file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys (Python literals)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    train(config)
    return 0
