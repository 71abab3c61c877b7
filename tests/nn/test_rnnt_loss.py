"""RNN-T loss: against a brute-force sum over all alignments, and its gradient against finite differences."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from seqtrain.nn.rnnt_loss import rnnt_loss, skew, unskew


def brute_force_nll(log_probs: torch.Tensor, labels: list[int], blank: int) -> torch.Tensor:
    """-log sum over every alignment: place the U labels among the first T+U-1 steps; the last step is blank."""
    num_frames = log_probs.shape[0]
    num_labels = len(labels)
    paths = []
    for label_steps in itertools.combinations(range(num_frames + num_labels - 1), num_labels):
        t = u = 0
        score = log_probs.new_zeros(())
        for step in range(num_frames + num_labels):
            if step in label_steps:
                score = score + log_probs[t, u, labels[u]]
                u += 1
            else:
                score = score + log_probs[t, u, blank]
                t += 1
        assert (t, u) == (num_frames, num_labels)
        paths.append(score)
    return -torch.logsumexp(torch.stack(paths), dim=0)


def random_batch(seed: int, dtype: torch.dtype = torch.float64):
    generator = torch.Generator().manual_seed(seed)
    batch, frames, labels, vocab = 4, 5, 3, 4
    logits = torch.randn(batch, frames, labels + 1, vocab, generator=generator, dtype=dtype)
    targets = torch.randint(0, vocab - 1, (batch, labels), generator=generator)
    frame_lengths = torch.tensor([5, 1, 3, 4])
    label_lengths = torch.tensor([3, 2, 0, 1])
    return logits, targets, frame_lengths, label_lengths


def test_equals_brute_force_sum_over_all_alignments() -> None:
    logits, targets, frame_lengths, label_lengths = random_batch(0)
    blank = 3
    nll = rnnt_loss(logits, targets, frame_lengths, label_lengths, blank=blank, reduction="none")
    log_probs = logits.log_softmax(-1)
    for b in range(4):
        frames, labels = int(frame_lengths[b]), int(label_lengths[b])
        expected = brute_force_nll(log_probs[b, :frames, : labels + 1], targets[b, :labels].tolist(), blank)
        assert float(nll[b]) == pytest.approx(float(expected), abs=1e-12)


def test_hand_computed_single_frame_single_label() -> None:
    """T=1, U=1: the only alignment is label at (0, 0), then blank at (0, 1)."""
    probs = torch.tensor([[[[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]]], dtype=torch.float64)
    nll = rnnt_loss(
        probs.log(),
        torch.tensor([[1]]),
        torch.tensor([1]),
        torch.tensor([1]),
        blank=0,
        fused_log_softmax=False,
        reduction="none",
    )
    assert float(nll[0]) == pytest.approx(-math.log(0.7 * 0.6), abs=1e-15)


def test_gradient_matches_finite_differences() -> None:
    logits, targets, frame_lengths, label_lengths = random_batch(1)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x: rnnt_loss(x, targets, frame_lengths, label_lengths, blank=3, reduction="none"), (logits,)
    )
    weights = torch.tensor([0.5, 2.0, 1.0, -1.0], dtype=torch.float64)  # non-uniform upstream gradient
    assert torch.autograd.gradcheck(
        lambda x: rnnt_loss(x, targets, frame_lengths, label_lengths, blank=0, reduction="none") @ weights, (logits,)
    )


def test_gradient_equals_autograd_through_brute_force_and_is_zero_on_padding() -> None:
    logits, targets, frame_lengths, label_lengths = random_batch(2)
    logits.requires_grad_(True)
    (grad,) = torch.autograd.grad(
        rnnt_loss(logits, targets, frame_lengths, label_lengths, blank=3, reduction="sum"), logits
    )
    log_probs = logits.log_softmax(-1)
    total = sum(
        brute_force_nll(
            log_probs[b, : int(frame_lengths[b]), : int(label_lengths[b]) + 1],
            targets[b, : int(label_lengths[b])].tolist(),
            3,
        )
        for b in range(4)
    )
    (expected,) = torch.autograd.grad(total, logits)
    assert torch.allclose(grad, expected, atol=1e-12, rtol=0)
    for b in range(4):
        assert torch.count_nonzero(grad[b, int(frame_lengths[b]) :]) == 0
        assert torch.count_nonzero(grad[b, :, int(label_lengths[b]) + 1 :]) == 0


def test_padding_does_not_change_loss_or_gradient() -> None:
    logits, targets, frame_lengths, label_lengths = random_batch(3)
    padded = torch.nn.functional.pad(logits, (0, 0, 0, 2, 0, 3), value=7.0).requires_grad_(True)
    padded_targets = torch.nn.functional.pad(targets, (0, 2), value=-1)  # padding labels may be anything
    logits.requires_grad_(True)
    small = rnnt_loss(logits, targets, frame_lengths, label_lengths, reduction="none")
    big = rnnt_loss(padded, padded_targets, frame_lengths, label_lengths, reduction="none")
    assert torch.equal(small, big)
    small.sum().backward()
    big.sum().backward()
    assert torch.equal(padded.grad[:, :5, :4], logits.grad)


def test_float32_agrees_with_float64_and_options_are_consistent() -> None:
    logits, targets, frame_lengths, label_lengths = random_batch(4)
    reference = rnnt_loss(logits, targets, frame_lengths, label_lengths, blank=3, reduction="none")
    single = rnnt_loss(logits.float(), targets, frame_lengths, label_lengths, blank=3, reduction="none")
    assert torch.allclose(single.double(), reference, atol=1e-5, rtol=0)
    assert torch.equal(rnnt_loss(logits, targets, frame_lengths, label_lengths, blank=-1, reduction="none"), reference)
    unfused = rnnt_loss(
        logits.log_softmax(-1),
        targets,
        frame_lengths,
        label_lengths,
        blank=3,
        fused_log_softmax=False,
        reduction="none",
    )
    assert torch.allclose(unfused, reference, atol=1e-12, rtol=0)
    assert float(rnnt_loss(logits, targets, frame_lengths, label_lengths, blank=3, reduction="sum")) == pytest.approx(
        float(reference.sum()), abs=1e-12
    )
    assert float(rnnt_loss(logits, targets, frame_lengths, label_lengths, blank=3)) == pytest.approx(
        float(reference.mean()), abs=1e-12
    )


def test_clamp_limits_the_gradient_per_lattice_arc() -> None:
    logits, targets, frame_lengths, label_lengths = random_batch(5)
    probs = logits.log_softmax(-1).requires_grad_(True)
    rnnt_loss(
        probs, targets, frame_lengths, label_lengths, blank=3, fused_log_softmax=False, clamp=0.05, reduction="sum"
    ).backward()
    assert float(probs.grad.abs().max()) == pytest.approx(0.05)


def test_skew_and_unskew_are_inverse() -> None:
    x = torch.arange(2 * 3 * 4, dtype=torch.float64).reshape(2, 3, 4)
    diagonals = skew(x)
    assert diagonals.shape == (3 + 4, 2, 3 + 1)
    assert float(diagonals[3, 1, 2]) == float(x[1, 2, 1])  # node (t=2, u=1) is on diagonal 3
    assert torch.equal(unskew(diagonals, 3, 4), x)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"logits": torch.zeros(2, 3, 4)}, "logits must be"),
        ({"targets": torch.zeros(2, 3, dtype=torch.long)}, "targets must be"),
        ({"logit_lengths": torch.tensor([0, 3])}, "logit_lengths must lie"),
        ({"target_lengths": torch.tensor([1, 3])}, "target_lengths must lie"),
        ({"blank": 5}, "blank index"),
        ({"reduction": "avg"}, "reduction"),
    ],
)
def test_bad_arguments_are_rejected(change: dict, message: str) -> None:
    args = {
        "logits": torch.zeros(2, 3, 3, 4),
        "targets": torch.zeros(2, 2, dtype=torch.long),
        "logit_lengths": torch.tensor([3, 2]),
        "target_lengths": torch.tensor([2, 1]),
        "blank": 0,
        "reduction": "mean",
    } | change
    with pytest.raises(ValueError, match=message):
        rnnt_loss(
            args.pop("logits"), args.pop("targets"), args.pop("logit_lengths"), args.pop("target_lengths"), **args
        )
