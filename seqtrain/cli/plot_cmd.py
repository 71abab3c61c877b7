"""`seqtrain plot MODEL_OR_SCORES_FILE [-o curves.png]`: learning curves and LR from the scores file."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqtrain.errors import ConfigError
from seqtrain.train.optim.lr_file import EpochData, read_scores


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="draw learning curves (scores and LR per epoch) with matplotlib")
    p.add_argument("source", help="a model prefix (exp/x/model) or a learning-rate/scores file")
    p.add_argument("-o", "--output", type=Path, default=None, help="PNG file (default: <scores file>.png)")
    p.set_defaults(run=run)


def scores_path(source: str) -> Path:
    path = Path(source)
    if path.is_file():
        return path
    candidate = Path(f"{source}.learning_rates")
    if candidate.is_file():
        return candidate
    raise ConfigError(f"{source} is neither a scores file nor a model prefix with {candidate.name}")


def plot_scores(data: dict[int, EpochData], output: Path, *, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = sorted(data)
    names = sorted({k for d in data.values() for k in d.error if not k.startswith(":meta:")})
    fig, (ax_scores, ax_lr) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, height_ratios=[3, 1.3])
    for name in names:
        xs = [e for e in epochs if name in data[e].error]
        style = "--" if name.startswith("train_") else "-"
        ax_scores.plot(xs, [data[e].error[name] for e in xs], style, marker="o", markersize=3, label=name)
    ax_scores.set_ylabel("score")
    ax_scores.set_title(title)
    ax_scores.grid(alpha=0.3)
    if names:
        ax_scores.legend(fontsize=8)
    lr_epochs = [e for e in epochs if data[e].learning_rate is not None]
    ax_lr.plot(lr_epochs, [data[e].learning_rate for e in lr_epochs], marker="o", markersize=3, color="black")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("epoch")
    ax_lr.set_yscale("log")
    ax_lr.grid(alpha=0.3)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output


def run(args: argparse.Namespace) -> int:
    path = scores_path(args.source)
    data = read_scores(path)
    if not data:
        raise ConfigError(f"{path} holds no epochs yet")
    output = args.output or path.with_name(path.name + ".png")
    plot_scores(data, output, title=str(path))
    print(f"wrote {output} ({len(data)} epochs)")
    return 0
