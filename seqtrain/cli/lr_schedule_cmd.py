"""`seqtrain lr-schedule CONFIG [k=v ...] [--scores FILE] [--epochs N] [--plot lr.png]`: rates without training.

Prints one line per epoch (its rate, why it has that rate, the rate of its first and last step) and,
with `--plot`, draws the rate per epoch and per step. Newbob needs dev scores to decide anything:
`--scores` takes them from a learning-rate file (RETURNN's or seqtrain's); by default the run's own
file is used when it exists, so the output is what resuming that run would do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seqtrain.checkpoint.run_files import RunFiles
from seqtrain.config import load_config
from seqtrain.config.settings import OptimizerSettings, RunSettings
from seqtrain.train.optim.lr_preview import EpochRates, preview

MAX_PLOT_POINTS = 200_000


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lr-schedule", help="print (and plot) the learning rate per epoch and per step, without training"
    )
    p.add_argument("config", help="Python config file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys (Python literals)")
    p.add_argument("--scores", type=Path, default=None, help="learning-rate file with the scores of past epochs")
    p.add_argument("--recompute", action="store_true", help="ignore the rates stored in the scores file")
    p.add_argument("--epochs", type=int, default=None, help="number of epochs (default: num_epochs)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="instead of counting the batches of the data")
    p.add_argument("--per-step", action="store_true", help="also print the rate of every step")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG", help="draw the rates with matplotlib")
    p.set_defaults(run=run)


def _default_scores(config_model: str | None, lr_file: str | None) -> Path | None:
    if config_model is None and lr_file is None:
        return None
    path = Path(lr_file) if lr_file else RunFiles(Path(config_model or "")).learning_rates(None)
    return path if path.is_file() else None


def format_table(rows: list[EpochRates]) -> str:
    lines = [f"{'epoch':>5}  {'steps':>15}  {'epoch lr':>11}  {'first step':>11}  {'last step':>11}  why"]
    for r in rows:
        steps = f"{r.first_step}-{r.first_step + r.num_steps - 1}" if r.num_steps else "-"
        first = f"{r.step_rates[0]:.5g}" if r.step_rates else "-"
        last = f"{r.step_rates[-1]:.5g}" if r.step_rates else "-"
        note = r.reason
        if r.file_rate is not None and r.file_rate != r.learning_rate:
            note += f" (the file has {r.file_rate:.6g})"
        lines.append(f"{r.epoch:>5}  {steps:>15}  {r.learning_rate:>11.6g}  {first:>11}  {last:>11}  {note}")
    return "\n".join(lines) + "\n"


def plot_rates(rows: list[EpochRates], output: Path, *, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_epoch, ax_step) = plt.subplots(2, 1, figsize=(9, 6.5))
    ax_epoch.step([r.epoch for r in rows], [r.learning_rate for r in rows], where="mid", marker="o", markersize=3)
    ax_epoch.set_xlabel("epoch")
    ax_epoch.set_ylabel("epoch learning rate")
    ax_epoch.set_title(title)
    steps = [s for r in rows for s in range(r.first_step, r.first_step + r.num_steps)]
    rates = [x for r in rows for x in r.step_rates]
    stride = max(1, len(steps) // MAX_PLOT_POINTS)
    ax_step.plot(steps[::stride], rates[::stride], linewidth=1)
    if len(rows) <= 100:
        for r in rows[1:]:
            ax_step.axvline(r.first_step, color="grey", alpha=0.2, linewidth=0.8)
    ax_step.set_xlabel("global step (batch)")
    ax_step.set_ylabel("learning rate of the step")
    for ax in (ax_epoch, ax_step):
        ax.grid(alpha=0.3)
        if all(x > 0 for x in (rates or [r.learning_rate for r in rows])):
            ax.set_yscale("log")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    run_settings = RunSettings.from_config(config)
    scores = args.scores or _default_scores(run_settings.model, run_settings.learning_rate_file)
    num_epochs = args.epochs if args.epochs is not None else run_settings.num_epochs
    rows = preview(
        config,
        num_epochs=num_epochs,
        scores_path=scores,
        recompute=args.recompute,
        steps_per_epoch=args.steps_per_epoch,
    )
    source = f"scores from {scores}" + (", rates recomputed" if args.recompute else "") if scores else "no scores"
    control = OptimizerSettings.from_config(config).learning_rate_control
    print(f"# {args.config}: learning_rate_control={control!r}, {source}")
    print(format_table(rows), end="")
    if args.per_step:
        print("# epoch step lr")
        for r in rows:
            for i, rate in enumerate(r.step_rates):
                print(f"{r.epoch} {r.first_step + i} {rate:.8g}")
    if args.plot is not None:
        print(f"wrote {plot_rates(rows, args.plot, title=f'{args.config} ({source})')}")
    return 0
