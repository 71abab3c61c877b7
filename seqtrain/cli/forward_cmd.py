"""`seqtrain forward CONFIG [--data NAME] [--epoch N] [--output-hdf FILE]`: model outputs to HDF (RETURNN's
`task = "forward"`; the file defaults to the config's `output_file`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqtrain.align.forward_hdf import forward_dataset, output_path
from seqtrain.config import load_config
from seqtrain.config.settings import RunSettings
from seqtrain.log import setup_logging
from seqtrain.model.pipeline_stages import config_for_command


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forward", help="write a trained model's outputs for a dataset to HDF (RETURNN's forward)")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.add_argument(
        "--data", default="dev", help="dataset name: dev, train, eval, or a key of eval_datasets or test_datasets"
    )
    p.add_argument("--epoch", type=int, default=None, help="checkpoint epoch (default: the last finished one)")
    p.add_argument("--output-hdf", type=Path, default=None, help="HDF file to write (default: output_file)")
    p.add_argument("--output-name", default=None, help="which output forward_step marks (default: the only one)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    setup_logging(RunSettings.from_config(config).log_verbosity)
    output = output_path(config, args.output_hdf)
    config, epoch = config_for_command(config, args.epoch)  # a pipeline: the config of that epoch's stage
    print(forward_dataset(config, dataset_name=args.data, output=output, epoch=epoch, output_name=args.output_name))
    return 0
