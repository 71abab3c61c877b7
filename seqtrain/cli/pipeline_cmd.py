"""`seqtrain pipeline CONFIG [k=v ...] [--json]`: the stages of a pipeline, their status and results."""

from __future__ import annotations

import argparse

from seqtrain.config import load_config
from seqtrain.pipeline.report import format_status, pipeline_status, status_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="show a pipeline's stages: what is done and what each gave (WER, ...)")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.add_argument("--json", action="store_true", help="one JSON object per stage instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    rows = pipeline_status(config)
    for line in status_json(rows) if args.json else format_status(rows):
        print(line)
    return 0
