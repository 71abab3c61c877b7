"""What seqtrain's training loop does per step beyond the plain loop, in ms and in % of the anchor's step.

    python -m bench.anchor.step_overhead [--steps 3]

Baseline (measured in the same run): one plain training step of the anchor model (forward, CE loss,
backward, Adam update) on an average anchor batch (20 seqs x 250 frames = 5000 padded frames, 2 threads).
On a machine shared with other work, use `--threads 1`: two OpenMP threads on two busy cores spin-wait
at every barrier of the LSTM and a step takes 10x longer (measured: 3.6 s with 1 thread, 25-35 s with 2).
Extras, each timed alone on the same model and gradients, as `seqtrain.train.loop.train_epoch` and
`seqtrain.train.step.clip_and_update` run them in the main process:

- reseed: `seed_all(derive_seed(random_seed, "train-step", epoch, step, rank))`, once per step;
- grad_norm: `clip_grad_norm_(grads, inf)`, computed every step for the log even when clipping is off;
- losses: `StepContext.mark_as_loss` (summing the per-frame loss) + `total_loss` + `ScoreAccumulator.add`;
- set_lr: `set_learning_rate` on the optimizer;
- batch_transfer: pickling a padded batch as the DataLoader's queue does (tensors into shared memory) and
  unpickling it; an upper bound of what the main process pays to get a batch from the worker, which does
  the first half. The plain loop pads in the main process instead: `plain_padding`.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import time
from collections.abc import Callable
from multiprocessing.reduction import ForkingPickler

import torch
import torch.multiprocessing  # (registers how tensors cross process boundaries: shared memory)
from torch import nn

from bench.anchor.plain_torch import NUM_CLASSES, Model
from seqtrain.model.context import StepContext
from seqtrain.rng import derive_seed, seed_all
from seqtrain.train.optim.optimizers import set_learning_rate
from seqtrain.train.scores import ScoreAccumulator

BATCH_SEQS, BATCH_FRAMES = 20, 250


def _time_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `fn` in ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _batch() -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    lens = torch.randint(BATCH_FRAMES // 2, BATCH_FRAMES + 1, (BATCH_SEQS,), generator=gen, dtype=torch.int32)
    lens[0] = BATCH_FRAMES
    feats = [torch.randn(int(t), 40, generator=gen) for t in lens]
    labels = [torch.randint(0, NUM_CLASSES, (int(t),), generator=gen, dtype=torch.int32) for t in lens]
    return feats, labels, lens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="plain training steps for the baseline")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the anchor: 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    model = Model(NUM_CLASSES)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    feats, labels, lens = _batch()
    losses: list[torch.Tensor] = []

    def plain_padding() -> tuple[torch.Tensor, torch.Tensor]:
        return nn.utils.rnn.pad_sequence(feats, batch_first=True), nn.utils.rnn.pad_sequence(labels, batch_first=True)

    def plain_step() -> None:
        x, y = plain_padding()
        logits = model(x, lens)
        tgt = nn.utils.rnn.pack_padded_sequence(y, lens, batch_first=True, enforce_sorted=False)
        loss = nn.functional.cross_entropy(logits.data, tgt.data.long(), reduction="none")
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        losses[:] = [loss.detach()]

    step_ms = _time_ms(plain_step, args.steps)
    params = [p for p in model.parameters() if p.grad is not None]  # with the last step's gradients
    padded = dict(zip(("data", "classes"), plain_padding()))
    accumulator = ScoreAccumulator()

    def losses_bookkeeping() -> None:
        ctx = StepContext(train=True, epoch=1, step=0)
        ctx.mark_as_loss("ce", losses[0])
        ctx.total_loss()
        accumulator.add(ctx.losses)

    def batch_transfer() -> None:
        buffer = io.BytesIO()
        ForkingPickler(buffer).dump({"data": padded, "lengths": {"data": lens, "classes": lens}})
        ForkingPickler.loads(buffer.getvalue())

    extras = {
        "reseed": _time_ms(lambda: seed_all(derive_seed(42, "train-step", 1, 17, 0)), 200),
        "grad_norm": _time_ms(lambda: nn.utils.clip_grad_norm_(params, math.inf), 50),
        "losses": _time_ms(losses_bookkeeping, 200),
        "set_lr": _time_ms(lambda: set_learning_rate(opt, 1e-3), 1000),
        "batch_transfer": _time_ms(batch_transfer, 50),
    }
    result = {
        "bench": "anchor_step_overhead",
        "threads": args.threads,
        "baseline_plain_step_ms": round(step_ms, 1),
        "plain_padding_ms": round(_time_ms(plain_padding, 50), 3),
        "extras_ms": {k: round(v, 3) for k, v in extras.items()},
        "extras_percent_of_step": {k: round(100 * v / step_ms, 3) for k, v in extras.items()},
        "total_extra_percent": round(100 * sum(extras.values()) / step_ms, 3),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
