"""Net-dict overhead: a training step of a net-dict model vs the same model written by hand in torch.

    python -m bench.net_dict_overhead [--batch 16 --frames 200 --hidden 128 --repeats 10 --threads 1]

The model: linear 80 -> H (tanh), BLSTM H per direction, softmax over 28, CTC loss; once as a net
dict (seqtrain's layers, lengths flowing through, per-step option resolution, loss marking, error
measure), once as a `get_model` module with nn.Linear/nn.LSTM and F.ctc_loss. Both get the same
weights and batch; the line says whether their losses agree. Prints one JSON line: seconds per
forward + backward + Adam update for each, and their ratio (net dict / hand-written).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.config import Config
from seqtrain.data.loader import Batch
from seqtrain.model.builder import FunctionModelBuilder
from seqtrain.model.context import StepContext
from seqtrain.model.net_dict_builder import NetDictModelBuilder

VOCAB = 28


class HandWritten(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(80, hidden)
        self.lstm = nn.LSTM(hidden, hidden, bidirectional=True, batch_first=True)
        self.out = nn.Linear(2 * hidden, VOCAB)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(
            torch.tanh(self.hidden(x)), lengths, batch_first=True, enforce_sorted=False
        )
        h, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        return self.out(h).log_softmax(-1)


def hand_train_step(*, model: nn.Module, batch: Batch, ctx: StepContext) -> None:
    log_probs = model(batch["data"], batch.lengths["data"])
    loss = F.ctc_loss(
        log_probs.transpose(0, 1),
        batch["classes"].long(),
        batch.lengths["data"],
        batch.lengths["classes"],
        blank=VOCAB - 1,
        reduction="none",
    )
    ctx.mark_as_loss("output", loss, custom_inv_norm_factor=batch.lengths["classes"].sum())


def net_dict(hidden: int) -> dict:
    return {
        "hidden": {"class": "linear", "from": "data", "n_out": hidden, "activation": "tanh"},
        "lstm": {"class": "blstm", "from": "hidden", "n_out": hidden},
        "output": {"class": "softmax", "from": "lstm", "n_out": VOCAB, "loss": "ctc", "target": "classes"},
    }


def copy_weights(hand: HandWritten, net: nn.Module) -> None:
    params = dict(net.named_parameters())
    mapping = {
        "hidden.weight": "hidden.weight",
        "hidden.bias": "hidden.bias",
        "out.weight": "output.weight",
        "out.bias": "output.bias",
    }
    for suffix in ("", "_reverse"):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            mapping[f"lstm.{kind}_l0{suffix}"] = f"lstm.{kind}{suffix}"
    hand.load_state_dict({mine: params[theirs].detach().clone() for mine, theirs in mapping.items()})


def make_batch(batch: int, frames: int) -> Batch:
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(int(0.6 * frames), frames + 1, (batch,), generator=gen)
    lengths[0] = frames
    labels = (lengths // 5).clamp(min=1)
    x = torch.randn(batch, frames, 80, generator=gen)
    y = torch.randint(0, VOCAB - 1, (batch, int(labels.max())), generator=gen)
    return Batch(
        {"data": x, "classes": y},
        {"data": lengths.int(), "classes": labels.int()},
        [str(i) for i in range(batch)],
        list(range(batch)),
    )


def step_fn(builder: object, model: nn.Module, batch: Batch) -> Callable[[], float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> float:
        ctx = StepContext(train=True, epoch=1, step=0)
        builder.train_step(model=model, batch=batch, ctx=ctx)  # type: ignore[attr-defined]
        total = ctx.total_loss()
        total.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(total.detach())

    return step


def seconds_interleaved(
    a: Callable[[], float], b: Callable[[], float], repeats: int
) -> tuple[list[float], list[float]]:
    """Step times of `a` and `b`, taking turns, so a change in machine load hits both alike."""
    a(), b()
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((a, times_a), (b, times_b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return times_a, times_b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch = make_batch(args.batch, args.frames)
    extern = {"data": {"dim": 80}, "classes": {"dim": VOCAB - 1, "sparse": True}}
    ours = NetDictModelBuilder(Config.from_dict({"network": net_dict(args.hidden), "extern_data": extern}))
    torch.manual_seed(0)
    net = ours.build(epoch=1, step=0).train()
    hand = HandWritten(args.hidden).train()
    copy_weights(hand, net)
    theirs = FunctionModelBuilder(Config.from_dict({"get_model": lambda **_: hand, "train_step": hand_train_step}))
    first_ours, first_theirs = step_fn(ours, net, batch)(), step_fn(theirs, hand, batch)()
    ours_times, hand_times = seconds_interleaved(step_fn(ours, net, batch), step_fn(theirs, hand, batch), args.repeats)
    ours_s, ours_median = min(ours_times), statistics.median(ours_times)
    hand_s, hand_median = min(hand_times), statistics.median(hand_times)
    frames = int(batch.lengths["data"].sum())
    print(
        json.dumps(
            {
                "bench": "net_dict_overhead",
                "what": "train step (forward, CTC, backward, Adam) of linear+BLSTM+softmax, net dict vs hand-written",
                "shape": {"B": args.batch, "T": args.frames, "hidden": args.hidden, "frames": frames},
                "threads": args.threads,
                "net_dict_s_per_step": round(ours_s, 4),
                "net_dict_median_s": round(ours_median, 4),
                "hand_written_s_per_step": round(hand_s, 4),
                "hand_written_median_s": round(hand_median, 4),
                "ratio_net_dict_vs_hand_written": round(ours_s / hand_s, 3),
                "same_first_loss": abs(first_ours - first_theirs) <= 1e-4 * abs(first_theirs),
            }
        )
    )


if __name__ == "__main__":
    main()
