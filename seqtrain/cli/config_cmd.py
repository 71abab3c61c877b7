"""`seqtrain config --list` (every key) and `seqtrain config CONFIG [--epoch N] [key=value ...]`: the typed settings,
concern by concern (seqtrain.config.settings), with schedules and the epoch's own config (a net dict's `#config`,
a pipeline stage's `config`) resolved for epoch N, as training sees them."""

from __future__ import annotations

import argparse

from seqtrain.config import all_keys, load_config
from seqtrain.config.config import describe_value
from seqtrain.config.settings import Settings
from seqtrain.config.types import type_name
from seqtrain.errors import ConfigError
from seqtrain.model.make_builder import make_model_builder
from seqtrain.model.pipeline_stages import with_pipeline_epochs


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="list all config keys, or print a config with every value resolved")
    p.add_argument("config", nargs="?", help="Python config file")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.add_argument("--list", action="store_true", help="print every key with type, default and doc; marks RETURNN's")
    p.add_argument("--epoch", type=int, default=None, help="resolve schedules for this epoch")
    p.set_defaults(run=run)


def list_keys() -> str:
    """Every key by group; `(RETURNN)` marks the keys RETURNN has with the same meaning (docs/returnn.md lists
    RETURNN's names seqtrain ignores or rejects)."""
    lines = ["Keys marked (RETURNN) are RETURNN's, with RETURNN's meaning; docs/returnn.md has the rest of RETURNN's."]
    group = None
    for key in all_keys():
        if key.group != group:
            group = key.group
            lines.append(f"\n[{group}]")
        flags = "".join([" (schedulable)" if key.schedulable else "", " (RETURNN)" if key.returnn else ""])
        lines.append(f"{key.name}: {type_name(key.type)} = {describe_value(key.default)}{flags}\n    {key.doc}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(list_keys(), end="")
        return 0
    if not args.config:
        raise ConfigError("give a config file, or --list to see all keys")
    config = load_config(args.config, args.overrides)
    if args.epoch is not None:
        if args.epoch < 1:
            raise ConfigError(f"--epoch {args.epoch}: epochs count from 1")
        config = with_pipeline_epochs(config)
        config = config.with_values(make_model_builder(config).epoch_config(args.epoch))
    print(Settings.from_config(config).describe(config, epoch=args.epoch), end="")
    return 0
