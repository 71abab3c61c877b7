"""`seqtrain COMMAND ...`: dispatches to the subcommand modules; user errors print one clear line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from seqtrain.cli import (
    align_cmd,
    config_cmd,
    data_cmd,
    forward_cmd,
    lm_cmd,
    lr_schedule_cmd,
    pipeline_cmd,
    plot_cmd,
    recog_cmd,
    train_cmd,
)
from seqtrain.errors import SeqtrainError

COMMANDS = [
    train_cmd,
    config_cmd,
    recog_cmd,
    lm_cmd,
    forward_cmd,
    align_cmd,
    plot_cmd,
    lr_schedule_cmd,
    data_cmd,
    pipeline_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqtrain", description="Train sequence models on PyTorch from one Python config file."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def parse_command_line(argv: Sequence[str] | None) -> argparse.Namespace:
    """Like `parse_args`, but `key=value` overrides may also come after options (`recog CONFIG --epoch 6 k=v`).

    argparse ends a `nargs="*"` positional at the first option and cannot mix them with subcommands
    (`parse_intermixed_args`), so overrides left over after the options join the others here.
    """
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    late = [item for item in rest if "=" in item and not item.startswith("-")]
    unknown = [item for item in rest if item not in late]
    if unknown or (late and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(unknown or late)}")
    if late:
        args.overrides = [*args.overrides, *late]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(argv)
    # the arguments that restart this very command (openmp_wait_policy); None when called in-process
    args.command_line = list(sys.argv[1:]) if argv is None else None
    try:
        return int(args.run(args) or 0)
    except SeqtrainError as e:
        exit_code = getattr(e, "exit_code", 1)
        print(f"seqtrain {args.command}: error: {e}", file=sys.stderr)
        return exit_code
    except OSError as e:
        if e.filename is None:  # not about a file: a bug or the machine, keep the traceback
            raise
        print(f"seqtrain {args.command}: error: {e.strerror or e}: {e.filename}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"seqtrain {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
