"""RNN-T loss speed: forward + backward of seqtrain's `rnnt_loss` vs plain autograd through the same recursion.

    python -m bench.rnnt_loss_speed [--batch 8 --frames 150 --labels 40 --vocab 30 --repeats 5 --threads 1]

Prints one JSON line: seconds per forward+backward for seqtrain's loss (custom autograd function,
posterior gradient from forward and backward variables), for the baseline (the same anti-diagonal
recursion, differentiated by autograd), their ratio, and torch's CTC loss forward+backward on
[T, B, V] log-probs of the same batch as a reference scale (a C++ kernel over a T x 2U lattice,
without the joint's extra U axis). Losses and gradients of both implementations must agree; the line
says whether they did.
"""

from __future__ import annotations

import argparse
import json

import torch

from bench.timing import fastest_and_median
from seqtrain.nn.rnnt_loss import rnnt_loss, skew


def autograd_rnnt_loss(
    logits: torch.Tensor, targets: torch.Tensor, frames: torch.Tensor, labels: torch.Tensor, blank: int
) -> torch.Tensor:
    """The baseline: diagonal-by-diagonal forward recursion, every op recorded for autograd; mean over the batch.

    Impossible arcs get a large finite negative score instead of -inf: autograd's logaddexp(-inf, -inf)
    has a NaN gradient, which the custom backward of seqtrain's loss does not need to work around.
    """
    batch, max_frames, max_nodes, _ = logits.shape
    log_probs = logits.log_softmax(-1)
    blank_lp = log_probs[..., blank]
    index = targets.long()[:, None, :, None].expand(-1, max_frames, -1, 1)
    label_lp = log_probs[:, :, : max_nodes - 1].gather(3, index).squeeze(3)
    t = torch.arange(max_frames)[None, :, None]
    u = torch.arange(max_nodes)[None, None, :]
    f, n = frames[:, None, None], labels[:, None, None]
    neg_inf = -1e30
    blank_lp = blank_lp.masked_fill(~((t < f) & (u <= n) & ((t < f - 1) | (u == n))), neg_inf)
    label_lp = label_lp.masked_fill(~((t < f) & (u[..., :-1] < n)), neg_inf)
    blank_arcs = skew(blank_lp).clamp(min=neg_inf)
    label_arcs = skew(label_lp, num_diagonals=blank_arcs.shape[0]).clamp(min=neg_inf)
    alpha = [torch.full((batch, max_frames + 1), neg_inf).index_fill(1, torch.tensor([0]), 0.0)]
    column = torch.full((batch, 1), neg_inf)
    for d in range(1, blank_arcs.shape[0]):
        via_blank = torch.cat([column, (alpha[-1] + blank_arcs[d - 1])[:, :-1]], dim=1)
        alpha.append(torch.logaddexp(via_blank, alpha[-1] + label_arcs[d - 1]))
    stacked = torch.stack(alpha)
    return -stacked[frames + labels, torch.arange(batch), frames].mean()


def implementations_agree(
    logits: torch.Tensor, targets: torch.Tensor, frames: torch.Tensor, labels: torch.Tensor, blank: int
) -> bool:
    """Loss and gradient of both implementations, in float64 so that only a real difference shows."""
    results = []
    for loss_fn in (
        lambda x: rnnt_loss(x, targets, frames, labels, blank=blank),
        lambda x: autograd_rnnt_loss(x, targets, frames, labels, blank),
    ):
        x = logits.clone().requires_grad_(True)
        loss = loss_fn(x)
        loss.backward()
        results.append((loss.detach(), x.grad))
    (loss_a, grad_a), (loss_b, grad_b) = results
    return bool(torch.allclose(loss_a, loss_b, rtol=1e-12)) and bool(torch.allclose(grad_a, grad_b, atol=1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--labels", type=int, default=40)
    parser.add_argument("--vocab", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    blank = args.vocab - 1
    shape = (args.batch, args.frames, args.labels + 1, args.vocab)
    logits = torch.randn(shape, generator=generator).requires_grad_(True)
    targets = torch.randint(0, blank, (args.batch, args.labels), generator=generator)
    frames = torch.randint(int(0.7 * args.frames), args.frames + 1, (args.batch,), generator=generator)
    frames[0] = args.frames
    labels = (frames * args.labels // args.frames).clamp(min=1)
    labels[0] = args.labels
    ctc_logits = torch.randn(args.frames, args.batch, args.vocab, generator=generator).requires_grad_(True)

    def ours() -> torch.Tensor:
        logits.grad = None
        loss = rnnt_loss(logits, targets, frames, labels, blank=blank)
        loss.backward()
        return loss

    def baseline() -> torch.Tensor:
        logits.grad = None
        loss = autograd_rnnt_loss(logits, targets, frames, labels, blank)
        loss.backward()
        return loss

    def ctc_reference() -> torch.Tensor:
        ctc_logits.grad = None
        loss = torch.nn.functional.ctc_loss(ctc_logits.log_softmax(-1), targets, frames, labels, blank=blank)
        loss.backward()
        return loss

    agree = implementations_agree(logits.detach().double(), targets, frames, labels, blank)
    ours_s, ours_median = fastest_and_median(ours, args.repeats)
    base_s, _ = fastest_and_median(baseline, args.repeats)
    ctc_s, _ = fastest_and_median(ctc_reference, args.repeats)
    print(
        json.dumps(
            {
                "bench": "rnnt_loss_speed",
                "what": "RNN-T loss forward+backward, seconds per batch",
                "shape": {"B": args.batch, "T": args.frames, "U": args.labels, "V": args.vocab},
                "threads": args.threads,
                "seqtrain_s": round(ours_s, 4),
                "seqtrain_median_s": round(ours_median, 4),
                "baseline_autograd_recursion_s": round(base_s, 4),
                "speedup_vs_baseline": round(base_s / ours_s, 2),
                "reference_torch_ctc_loss_s": round(ctc_s, 4),
                "loss_and_gradient_agree": agree,
            }
        )
    )


if __name__ == "__main__":
    main()
