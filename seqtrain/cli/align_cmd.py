"""`seqtrain align CONFIG --epoch N --data train --output-hdf ali.hdf [--mode ctc|hmm|linear]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqtrain.align.dump import align_dataset
from seqtrain.config import load_config
from seqtrain.config.settings import AlignmentSettings, RunSettings
from seqtrain.log import setup_logging
from seqtrain.model.pipeline_stages import config_for_command


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("align", help="force-align a dataset (CTC, HMM or linear) and write frame labels to HDF")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.add_argument(
        "--epoch",
        type=int,
        default=None,
        help="checkpoint epoch (default: the last finished one; linear mode: no model, frames from the input)",
    )
    p.add_argument(
        "--data", default="train", help="dataset name: train, dev, or a key of eval_datasets or test_datasets"
    )
    p.add_argument("--output-hdf", type=Path, required=True, help="HDF file to write (replaced atomically)")
    p.add_argument("--mode", choices=["ctc", "hmm", "linear"], default=None, help="default: align_mode of the config")
    p.add_argument("--compare-to", type=Path, default=None, help="an earlier alignment: report how many frames changed")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    setup_logging(RunSettings.from_config(config).log_verbosity)
    if args.epoch is not None or (args.mode or AlignmentSettings.from_config(config).align_mode) != "linear":
        config, args.epoch = config_for_command(config, args.epoch)  # a pipeline: the config of that epoch's stage
    report = align_dataset(
        config,
        dataset_name=args.data,
        output=args.output_hdf,
        epoch=args.epoch,
        mode=args.mode,
        compare_to=args.compare_to,
    )
    print(report)
    return 0
