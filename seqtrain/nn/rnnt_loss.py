"""Full-sum RNN-T (transducer) loss in vectorized torch, with the forward-backward gradient.

The loss of a sequence is -log of the summed probability of all alignments through the T x (U+1)
lattice: at node (t, u) the joint emits blank (to (t+1, u)) or label u+1 (to (t, u+1)); every path
ends with the blank at (T-1, U). The forward variables of all nodes on one anti-diagonal t+u = d
depend only on the previous diagonal, so the recursion is a loop over T+U diagonals of vectorized
ops over batch x time, instead of T*U Python steps. The gradient is the exact posterior of each
lattice arc, from forward and backward variables (a custom autograd function), so backward costs
about one more pass, not autograd's chain of a few thousand small ops (which would also need
finite stand-ins for -inf: autograd's logaddexp(-inf, -inf) has a NaN gradient). torchaudio's
`rnnt_loss` is not usable with this torch build; this one takes the same arguments.
"""

from __future__ import annotations

from typing import Literal

import torch

Reduction = Literal["mean", "sum", "none"]


def rnnt_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    *,
    blank: int = -1,
    reduction: Reduction = "mean",
    fused_log_softmax: bool = True,
    clamp: float = -1.0,
) -> torch.Tensor:
    """RNN-T loss of joint outputs `logits` [B, T, U+1, V] for `targets` [B, U].

    `logit_lengths` [B] (>= 1) and `target_lengths` [B] give the real sizes; padded lattice entries
    are ignored and get zero gradient. `blank`: its index (negative counts from the end).
    `fused_log_softmax=False` means `logits` are already log-probabilities (or scores the caller
    normalizes otherwise) and are used as they are. `clamp` > 0 clips the gradient w.r.t. each
    lattice arc (d loss / d arc log-prob) to [-clamp, clamp]. `reduction`: "none" -> [B] negative
    log-likelihoods, "sum", or "mean" over the batch (as torchaudio).
    """
    _check(logits, targets, logit_lengths, target_lengths)
    vocab = logits.shape[-1]
    blank = blank + vocab if blank < 0 else blank
    if not 0 <= blank < vocab:
        raise ValueError(f"blank index {blank} is not in [0, {vocab})")
    label_index = targets.long().clamp(0, vocab - 1)  # padded targets may hold anything
    nll = _RnntNll.apply(logits, label_index, logit_lengths, target_lengths, blank, fused_log_softmax, clamp)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    if reduction == "mean":
        return nll.mean()
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check(
    logits: torch.Tensor, targets: torch.Tensor, logit_lengths: torch.Tensor, target_lengths: torch.Tensor
) -> None:
    if logits.dim() != 4:
        raise ValueError(f"logits must be [batch, time, labels+1, vocab], got shape {tuple(logits.shape)}")
    batch, max_frames, max_nodes, _ = logits.shape
    if targets.dim() != 2 or targets.shape[0] != batch or targets.shape[1] != max_nodes - 1:
        raise ValueError(
            f"targets must be [batch, labels] = [{batch}, {max_nodes - 1}] to match logits {tuple(logits.shape)}, "
            f"got {tuple(targets.shape)}"
        )
    for name, lengths, limit, low in (
        ("logit_lengths", logit_lengths, max_frames, 1),
        ("target_lengths", target_lengths, max_nodes - 1, 0),
    ):
        if lengths.shape != (batch,):
            raise ValueError(f"{name} must be [batch] = [{batch}], got {tuple(lengths.shape)}")
        if batch and (int(lengths.min()) < low or int(lengths.max()) > limit):
            raise ValueError(f"{name} must lie in [{low}, {limit}], got [{int(lengths.min())}, {int(lengths.max())}]")


def _valid_arcs(
    frames: torch.Tensor, labels: torch.Tensor, max_frames: int, max_nodes: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T, U+1] where a blank arc exists, [B, T, U] where a label arc exists.

    A blank in the last frame exists only from the last node: any other would leave the lattice
    with labels still to emit. That makes the virtual node (T, U) the single end of every path.
    """
    t = torch.arange(max_frames, device=device)[None, :, None]
    u = torch.arange(max_nodes, device=device)[None, None, :]
    frames = frames.to(device)[:, None, None]
    labels = labels.to(device)[:, None, None]
    blank_ok = (t < frames) & (u <= labels) & ((t < frames - 1) | (u == labels))
    label_ok = (t < frames) & (u[..., :-1] < labels)
    return blank_ok, label_ok


class _RnntNll(torch.autograd.Function):
    """-log P(targets | logits), with the gradient computed from arc posteriors in one fused pass.

    Only the [B, T, U+1] arc scores enter the lattice; the gradient w.r.t. the logits is
    posterior(arc) for the arc's own symbol minus occupancy(node) * softmax(node) when the softmax
    is fused, written into a single new tensor. Nothing of size [B, T, U+1, V] is saved for backward
    except the caller's own logits (no copy), which keeps memory at what autograd would need anyway
    and runs about twice as fast as letting autograd differentiate logsumexp, gather and select.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        logits: torch.Tensor,
        label_index: torch.Tensor,
        logit_lengths: torch.Tensor,
        target_lengths: torch.Tensor,
        blank: int,
        normalize: bool,
        clamp: float,
    ) -> torch.Tensor:
        batch, max_frames, max_nodes, _ = logits.shape
        index = label_index[:, None, :, None].expand(-1, max_frames, -1, 1)
        blank_scores = logits[..., blank]
        label_scores = logits[:, :, : max_nodes - 1].gather(3, index).squeeze(3)
        normalizer = logits.logsumexp(dim=-1) if normalize else None
        if normalizer is not None:
            blank_scores = blank_scores - normalizer
            label_scores = label_scores - normalizer[:, :, :-1]
        frames = logit_lengths.to(logits.device, torch.long)
        labels = target_lengths.to(logits.device, torch.long)
        blank_ok, label_ok = _valid_arcs(frames, labels, max_frames, max_nodes, logits.device)
        neg_inf = float("-inf")
        blank_arcs = skew(blank_scores.masked_fill(~blank_ok, neg_inf))  # [D, B, T+1]
        label_arcs = skew(label_scores.masked_fill(~label_ok, neg_inf), num_diagonals=blank_arcs.shape[0])
        alpha = _forward_variables(blank_arcs, label_arcs)
        log_likelihood = alpha[frames + labels, torch.arange(batch, device=alpha.device), frames]
        ctx.save_for_backward(logits, normalizer, index, blank_arcs, label_arcs, alpha, log_likelihood, frames, labels)
        ctx.blank = blank
        ctx.clamp = clamp
        return -log_likelihood

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_nll: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        logits, normalizer, index, blank_arcs, label_arcs, alpha, log_likelihood, frames, labels = ctx.saved_tensors
        _, max_frames, max_nodes, _ = logits.shape
        grad_blank, grad_label = _arc_gradients(
            blank_arcs, label_arcs, alpha, log_likelihood, frames, labels, grad_nll, ctx.clamp
        )
        grad_blank = unskew(grad_blank, max_frames, max_nodes)  # [B, T, U+1]
        grad_label = unskew(grad_label, max_frames, max_nodes - 1)  # [B, T, U]
        if normalizer is not None:
            occupancy = grad_blank.clone()
            occupancy[:, :, :-1] += grad_label
            grad = (logits - normalizer[..., None]).exp_().mul_(-occupancy[..., None])
        else:
            grad = torch.zeros_like(logits)
        grad[..., ctx.blank] += grad_blank
        grad[:, :, :-1].scatter_add_(3, index, grad_label[..., None])
        return grad, None, None, None, None, None, None


def _arc_gradients(
    blank_arcs: torch.Tensor,
    label_arcs: torch.Tensor,
    alpha: torch.Tensor,
    log_likelihood: torch.Tensor,
    frames: torch.Tensor,
    labels: torch.Tensor,
    grad_nll: torch.Tensor,
    clamp: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """d(loss)/d(arc log-prob) on the diagonals: -posterior(arc) * upstream gradient, optionally clamped.

    posterior(arc) = alpha(source) * arc * beta(target) / P. A sequence whose probability is 0 (a
    -inf arc on every path) gets zero gradient rather than NaN.
    """
    beta = _backward_variables(blank_arcs, label_arcs, frames, labels)
    finite = torch.isfinite(log_likelihood)
    total = torch.where(finite, log_likelihood, torch.zeros_like(log_likelihood))[None, :, None]
    scale = torch.where(finite, grad_nll, torch.zeros_like(grad_nll))[None, :, None]
    next_blank = torch.full_like(beta, float("-inf"))
    next_blank[:-1, :, :-1] = beta[1:, :, 1:]  # blank at (t, u) leads to (t+1, u): diagonal+1, position+1
    next_label = torch.full_like(beta, float("-inf"))
    next_label[:-1] = beta[1:]  # label at (t, u) leads to (t, u+1): diagonal+1, same position
    grad_blank = (alpha + blank_arcs + next_blank - total).exp_().mul_(-scale)
    grad_label = (alpha + label_arcs + next_label - total).exp_().mul_(-scale)
    if clamp > 0:
        grad_blank.clamp_(-clamp, clamp)
        grad_label.clamp_(-clamp, clamp)
    return grad_blank, grad_label


def _forward_variables(blank_arcs: torch.Tensor, label_arcs: torch.Tensor) -> torch.Tensor:
    """alpha [D, B, T+1]: log-probability of reaching node (t, d-t), diagonal by diagonal."""
    num_diagonals, batch, positions = blank_arcs.shape
    alpha = torch.full_like(blank_arcs, float("-inf"))
    alpha[0, :, 0] = 0.0
    via_blank = torch.full((batch, positions), float("-inf"), dtype=alpha.dtype, device=alpha.device)
    via_label = torch.empty_like(via_blank)
    for d in range(1, num_diagonals):
        torch.add(alpha[d - 1, :, :-1], blank_arcs[d - 1, :, :-1], out=via_blank[:, 1:])
        torch.add(alpha[d - 1], label_arcs[d - 1], out=via_label)
        torch.logaddexp(via_blank, via_label, out=alpha[d])
    return alpha


def _backward_variables(
    blank_arcs: torch.Tensor, label_arcs: torch.Tensor, frames: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """beta [D, B, T+1]: log-probability of completing the path from node (t, d-t); 0 at the end node (T_b, U_b)."""
    num_diagonals, batch, positions = blank_arcs.shape
    beta = torch.full_like(blank_arcs, float("-inf"))
    end_diagonal = frames + labels
    via_blank = torch.full((batch, positions), float("-inf"), dtype=beta.dtype, device=beta.device)
    via_label = torch.empty_like(via_blank)
    ends = {int(d): torch.nonzero(end_diagonal == d).squeeze(1) for d in torch.unique(end_diagonal).tolist()}
    for d in range(num_diagonals - 1, -1, -1):
        if d < num_diagonals - 1:
            torch.add(beta[d + 1, :, 1:], blank_arcs[d, :, :-1], out=via_blank[:, :-1])
            torch.add(beta[d + 1], label_arcs[d], out=via_label)
            torch.logaddexp(via_blank, via_label, out=beta[d])
        if d in ends:
            index = ends[d]
            beta[d, index, frames[index]] = 0.0
    return beta


def skew(x: torch.Tensor, num_diagonals: int | None = None) -> torch.Tensor:
    """[B, T, W] lattice values -> [D, B, T+1] by anti-diagonal: out[d, b, t] = x[b, t, d-t], -inf elsewhere.

    Position T (one past the last frame) holds the virtual end node; D defaults to T + W.
    """
    batch, max_frames, width = x.shape
    num_diagonals = max_frames + width if num_diagonals is None else num_diagonals
    neg_inf = float("-inf")
    if width == 0:
        return torch.full((num_diagonals, batch, max_frames + 1), neg_inf, dtype=x.dtype, device=x.device)
    t = torch.arange(max_frames + 1, device=x.device)[:, None]
    u = torch.arange(num_diagonals, device=x.device)[None, :] - t  # [T+1, D]
    valid = (u >= 0) & (u < width) & (t < max_frames)
    padded = torch.cat([x, x.new_full((batch, 1, width), neg_inf)], dim=1)
    gathered = padded.gather(2, u.clamp(0, width - 1)[None].expand(batch, -1, -1))
    return gathered.masked_fill_(~valid[None], neg_inf).permute(2, 0, 1).contiguous()


def unskew(diagonals: torch.Tensor, max_frames: int, width: int) -> torch.Tensor:
    """Inverse of `skew`: [D, B, T+1] -> [B, T, W] with out[b, t, u] = diagonals[t+u, b, t]."""
    batch = diagonals.shape[1]
    if width == 0:
        return diagonals.new_zeros((batch, max_frames, 0))
    by_position = diagonals.permute(1, 2, 0)[:, :max_frames]  # [B, T, D]
    index = torch.arange(max_frames, device=diagonals.device)[:, None] + torch.arange(width, device=diagonals.device)
    return by_position.gather(2, index[None].expand(batch, -1, -1))
