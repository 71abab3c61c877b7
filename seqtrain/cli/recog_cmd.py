"""`seqtrain recog CONFIG --epoch N --data dev[,test...] [--tune KEY=V1,V2,...]`: decode and print the WER."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seqtrain.config import load_config
from seqtrain.config.settings import RunSettings
from seqtrain.errors import ConfigError
from seqtrain.log import setup_logging
from seqtrain.model.pipeline_stages import config_for_command
from seqtrain.recog.run import Forwarded, Recognizer, write_hypotheses
from seqtrain.recog.tune import TuneResult, parse_grid, tune_grid


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recog", help="decode datasets with a trained model and print the WER, or tune the decoder")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.add_argument("--epoch", type=int, default=None, help="checkpoint epoch (default: the last finished one)")
    p.add_argument(
        "--data",
        default="dev",
        help="dataset names, comma-separated: dev, train, keys of eval_datasets or test_datasets",
    )
    p.add_argument("--output", type=Path, default=None, help="write references and hypotheses to this file")
    p.add_argument(
        "--tune",
        nargs="+",
        action="extend",
        metavar="KEY=V1,V2",
        help="decode every combination of these recog_* values from one forward pass, print each WER and the best, "
        "and write them to {model}.recog_tune.{data}.json (e.g. recog_lm_weight=0,0.5,1 recog_word_penalty=0,-1)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    run_settings = RunSettings.from_config(config)
    setup_logging(run_settings.log_verbosity)
    names = [name.strip() for name in args.data.split(",") if name.strip()]
    if args.output is not None and len(names) > 1:
        raise ConfigError(f"--output names one file, --data {len(names)} datasets; leave --output out")
    config, epoch = config_for_command(config, args.epoch)  # a pipeline: the config of that epoch's stage
    grid = parse_grid(args.tune, config) if args.tune else None
    recognizer = Recognizer(config, epoch)
    for name in names:
        forwarded = recognizer.forward(name)
        if grid is None:
            output = args.output or (Path(f"{run_settings.model}.recog.{name}.txt") if run_settings.model else None)
            _decode(recognizer, forwarded, output)
        else:
            where = Path(f"{run_settings.model}.recog_tune.{name}.json") if run_settings.model else None
            _tune(recognizer, forwarded, grid, where)
    return 0


def _decode(recognizer: Recognizer, forwarded: Forwarded, output: Path | None) -> None:
    result = recognizer.decode(forwarded)
    if output is not None:
        write_hypotheses(output, result)
    print(f"epoch {result.epoch} {forwarded.dataset}: {result.wer}" + (f"; hypotheses in {output}" if output else ""))
    for name, wer in result.groups.items():  # recog_score_groups
        score = str(wer) if wer.num_seqs else "no sequence tag matches the group's regular expression"
        print(f"epoch {result.epoch} {forwarded.dataset} [{name}]: {score}")


def _tune(recognizer: Recognizer, forwarded: Forwarded, grid: dict[str, list[Any]], where: Path | None) -> None:
    points = []
    for point in tune_grid(recognizer, forwarded, grid):
        print(f"epoch {recognizer.epoch} {forwarded.dataset}: {point}", flush=True)
        points.append(point)
    tuned = TuneResult(forwarded.dataset, recognizer.epoch, grid, points)
    if where is not None:
        tuned.write_json(where)
    print(f"best on {forwarded.dataset}: {tuned.best}" + (f"; grid in {where}" if where else ""))
