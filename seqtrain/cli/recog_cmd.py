"""`seqtrain recog CONFIG --epoch N --data dev`: decode and print the WER."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqtrain.config import load_config
from seqtrain.config.settings import RunSettings
from seqtrain.log import setup_logging
from seqtrain.model.pipeline_stages import config_for_command
from seqtrain.recog.run import recognize


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recog", help="decode a dataset with a trained model and print the WER")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.add_argument("--epoch", type=int, default=None, help="checkpoint epoch (default: the last finished one)")
    p.add_argument("--data", default="dev", help="dataset name: dev, train, or a key of eval_datasets")
    p.add_argument("--output", type=Path, default=None, help="write references and hypotheses to this file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    run_settings = RunSettings.from_config(config)
    setup_logging(run_settings.log_verbosity)
    output = args.output
    if output is None and run_settings.model:
        output = Path(f"{run_settings.model}.recog.{args.data}.txt")
    config, epoch = config_for_command(config, args.epoch)  # a pipeline: the config of that epoch's stage
    result = recognize(config, dataset_name=args.data, epoch=epoch, output=output)
    print(f"epoch {result.epoch} {args.data}: {result.wer}" + (f"; hypotheses in {output}" if output else ""))
    return 0
