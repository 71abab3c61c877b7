"""Cost of seqtrain's per-step update machinery, next to the plain torch step it wraps, same model and data.

    python -m bench.update_overhead [--hidden 256 --layers 2 --batch 8 --frames 200 --steps 8 --repeats 3 --threads 1]

A training step of a BLSTM (recipe-sized) is timed three ways, each the fastest of `repeats` runs of
`steps` steps after a warm-up (the three take turns, so background load hits them alike):
  baseline  forward, backward, `optimizer.step()`, `zero_grad()` with a constant rate (plain torch);
  seqtrain  the same forward/backward, then the per-step rate (`learning_rate_step_schedule` warmup ->
            cosine + `dynamic_learning_rate`, param groups with weight-decay exclusions and a multiplier),
            `clip_and_update` with clipping by value and global norm and the logged gradient norm;
  + noise   as seqtrain, plus `gradient_noise` (one truncated-normal sample per weight and step).
Prints one JSON line with seconds per step and the ratios to the baseline. All three must end with
finite parameters that moved; the line says whether they did.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import torch

from bench.timing import interleaved_fastest
from seqtrain.train.optim.lr_schedule import StepLearningRate, parse_step_shape
from seqtrain.train.optim.optimizers import make_optimizer, set_learning_rate
from seqtrain.train.step import ClipOptions, GradientNoise, clip_and_update


class Blstm(torch.nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int, labels: int) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(dim)
        self.lstm = torch.nn.LSTM(dim, hidden, num_layers=layers, bidirectional=True, batch_first=True)
        self.out = torch.nn.Linear(2 * hidden, labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(self.norm(x))[0]).log_softmax(-1)


def make_run(args: argparse.Namespace, mode: str) -> tuple[Callable[[], None], torch.nn.Module]:
    torch.manual_seed(0)
    model = Blstm(args.dim, args.hidden, args.layers, args.labels)
    x = torch.randn(args.batch, args.frames, args.dim)
    y = torch.randint(0, args.labels, (args.batch, args.frames))
    params = [p for p in model.parameters() if p.requires_grad]
    if mode == "baseline":
        optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    else:
        spec = {
            "class": "adamw",
            "weight_decay": 0.01,
            "param_groups": [{"params": "out.*", "learning_rate_multiplier": 2}],
        }
        optimizer = make_optimizer(spec, model, learning_rate=1e-3)
    shape = parse_step_shape({"warmup_steps": 100, "decay": "cosine", "decay_steps": 1000})
    rate = StepLearningRate(1, 1e-3, 0, 1000, shape=shape, dynamic=lambda *, learning_rate, **_: learning_rate * 0.5)
    step = [0]

    def run() -> None:
        for _ in range(args.steps):
            loss = torch.nn.functional.nll_loss(model(x).transpose(1, 2), y, reduction="sum")
            loss.backward()
            if mode == "baseline":
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            else:
                set_learning_rate(optimizer, rate(step[0]))
                noise = GradientNoise(0.01, step[0]) if mode == "noise" else None
                clip_and_update(params=params, optimizer=optimizer, clip=ClipOptions(5.0, 20.0), noise=noise)
            step[0] += 1

    return run, model


def _ignoring_round(run: Callable[[], None]) -> Callable[[int], None]:
    return lambda _round: run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, default in (
        ("dim", 320),
        ("hidden", 256),
        ("layers", 2),
        ("labels", 28),
        ("batch", 8),
        ("frames", 200),
        ("steps", 8),
        ("repeats", 3),
        ("threads", 1),
    ):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    built = {mode: make_run(args, mode) for mode in ("baseline", "seqtrain", "noise")}
    before = {mode: [p.detach().clone() for p in model.parameters()] for mode, (_, model) in built.items()}
    best = interleaved_fastest({mode: _ignoring_round(run) for mode, (run, _) in built.items()}, args.repeats)
    seconds = {mode: t / args.steps for mode, t in best.items()}
    healthy = all(
        all(torch.isfinite(p).all() for p in model.parameters())
        and any(not torch.equal(a, b) for a, b in zip(before[mode], model.parameters()))
        for mode, (_, model) in built.items()
    )
    num_params = sum(p.numel() for p in Blstm(args.dim, args.hidden, args.layers, args.labels).parameters())
    print(
        json.dumps(
            {
                "bench": "update_overhead",
                "params": num_params,
                "threads": args.threads,
                "baseline_s_per_step": round(seconds["baseline"], 5),
                "seqtrain_s_per_step": round(seconds["seqtrain"], 5),
                "seqtrain_with_noise_s_per_step": round(seconds["noise"], 5),
                "seqtrain_vs_baseline": round(seconds["seqtrain"] / seconds["baseline"], 3),
                "noise_vs_baseline": round(seconds["noise"] / seconds["baseline"], 3),
                "all_trained": bool(healthy),
            }
        )
    )


if __name__ == "__main__":
    main()
