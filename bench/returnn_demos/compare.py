"""Learning curves of RETURNN's demos: RETURNN's own runs next to seqtrain's, same config files, 3 seeds each.

    python -m bench.returnn_demos.compare RETURNN_LOG_DIR SEQTRAIN_DIR   # prints one JSON line per demo

RETURNN_LOG_DIR holds `<demo>.seed<N>.log` of `python -m returnn <demo>.config ++num_epochs 5 ++random_seed N`
(TensorFlow demos: the "dev: score X error Y" lines) or `<demo>.seed<N>.lr` (its learning-rate file, PyTorch
demos); SEQTRAIN_DIR holds `<demo>.seed<N>.lr` of `seqtrain train <demo>.config num_epochs=5 random_seed=N`.
The JSON line per demo: per epoch the mean and spread (min..max over seeds) of the dev score and dev error for
both, and whether seqtrain's mean lies within RETURNN's seed range widened by its own spread ("within noise").
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from seqtrain.train.optim.lr_file import read_scores

SEEDS = (42, 43, 44)
_DEV = re.compile(r"^dev: score (\S+) error (\S+)", re.M)


def returnn_curve(directory: Path, demo: str, seed: int) -> list[tuple[float, float]] | None:
    lr_file, log = directory / f"{demo}.seed{seed}.lr", directory / f"{demo}.seed{seed}.log"
    if lr_file.is_file():
        scores = read_scores(lr_file)
        return [(scores[e].error["dev_loss_ce"], scores[e].error["dev_loss_fer"]) for e in sorted(scores)]
    if log.is_file():
        found = _DEV.findall(log.read_text())
        return [(float(a), float(b)) for a, b in found] or None
    return None


def seqtrain_curve(directory: Path, demo: str, seed: int) -> list[tuple[float, float]] | None:
    path = directory / f"{demo}.seed{seed}.lr"
    if not path.is_file():
        return None
    scores = read_scores(path)
    out = []
    for epoch in sorted(scores):
        error = scores[epoch].error
        score_key = next(k for k in ("dev_loss_ce", "dev_loss_output") if k in error)
        error_key = next(k for k in ("dev_loss_fer", "dev_loss_output_error") if k in error)
        out.append((error[score_key], error[error_key]))
    return out


def summary(curves: list[list[tuple[float, float]]], epoch: int, which: int) -> tuple[float, float, float]:
    values = [c[epoch][which] for c in curves]
    return sum(values) / len(values), min(values), max(values)


def compare(returnn_dir: Path, seqtrain_dir: Path, demo: str) -> dict:
    theirs = [c for s in SEEDS if (c := returnn_curve(returnn_dir, demo, s))]
    ours = [c for s in SEEDS if (c := seqtrain_curve(seqtrain_dir, demo, s))]
    if not theirs or not ours:
        return {"demo": demo, "returnn_runs": len(theirs), "seqtrain_runs": len(ours)}
    epochs = min(len(c) for c in theirs + ours)
    rows = []
    for epoch in range(epochs):
        row = {"epoch": epoch + 1}
        for which, name in ((0, "dev_score"), (1, "dev_error")):
            r, s = summary(theirs, epoch, which), summary(ours, epoch, which)
            row[name] = {"returnn": [round(v, 4) for v in r], "seqtrain": [round(v, 4) for v in s]}
        rows.append(row)
    last = rows[-1]["dev_error"]
    _, r_lo, r_hi = last["returnn"]
    s_mean, s_lo, s_hi = last["seqtrain"]
    widened = (r_lo - (s_hi - s_lo), r_hi + (s_hi - s_lo))
    return {
        "demo": demo, "returnn_runs": len(theirs), "seqtrain_runs": len(ours), "epochs": rows,
        "final_dev_error_within_noise": widened[0] <= s_mean <= widened[1],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("returnn_dir", type=Path)
    parser.add_argument("seqtrain_dir", type=Path)
    parser.add_argument("--demos", nargs="*", default=None)
    args = parser.parse_args()
    demos = args.demos or sorted({p.name.split(".seed")[0] for p in args.seqtrain_dir.glob("*.seed*.lr")})
    for demo in demos:
        print(json.dumps(compare(args.returnn_dir, args.seqtrain_dir, demo)))


if __name__ == "__main__":
    main()
