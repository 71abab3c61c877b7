"""CTC forced alignment: the most probable CTC path that yields the target labels (Viterbi over the CTC topology).

The CTC topology of labels l1..lU is the chain blank, l1, blank, l2, ..., lU, blank: every state may
loop; the path may start in the first blank or in l1, end in lU or the last blank, and jump over a
blank between two labels only when they differ (otherwise the two would merge into one). That is a
`StateGraph` whose skippable states are exactly those blanks, so the batched Viterbi of
`hmm_viterbi` computes it. The frame labels it returns are what RETURNN's `ctc_best_path` returns:
the label emitted at each frame, blank elsewhere (and on padded frames).
"""

from __future__ import annotations

import torch

from seqtrain.hmm.graph import Alignment, StateGraph
from seqtrain.hmm.viterbi import viterbi_align


def ctc_graph(labels: torch.Tensor, label_lengths: torch.Tensor, *, blank: int) -> StateGraph:
    """The CTC state chains of a padded batch of label sequences [B, U] (built without Python loops)."""
    batch, max_labels = labels.shape
    lengths = label_lengths.to(device=labels.device, dtype=torch.long)
    num_states = 2 * max_labels + 1
    classes = torch.full((batch, num_states), blank, dtype=torch.long, device=labels.device)
    classes[:, 1::2] = labels.long()
    skippable = torch.zeros((batch, num_states), dtype=torch.bool, device=labels.device)
    blank_positions = torch.arange(max_labels + 1, device=labels.device)  # blank k sits between labels k-1 and k
    at_edge = (blank_positions[None, :] == 0) | (blank_positions[None, :] == lengths[:, None])
    differs = torch.ones((batch, max_labels + 1), dtype=torch.bool, device=labels.device)
    if max_labels > 1:
        differs[:, 1:max_labels] = labels[:, 1:] != labels[:, :-1]
    skippable[:, 0::2] = at_edge | differs
    return StateGraph(classes, 2 * lengths + 1, skippable)


def ctc_forced_align(
    log_probs: torch.Tensor,
    frame_lengths: torch.Tensor,
    labels: torch.Tensor,
    label_lengths: torch.Tensor,
    *,
    blank: int,
) -> Alignment:
    """Best CTC path of each sequence. `log_probs` [B, T, V] (log-softmax output), `labels` [B, U].

    Returns `Alignment` with `frame_classes` [B, T] = emitted label or blank per frame, `state_path`
    [B, T] = position in the blank-interleaved chain (2u+1 = label u, 2u = the blank before it) and the
    path's log-probability. A sequence needs at least U + (number of adjacent repeated labels) frames;
    shorter ones are reported infeasible (score -inf), not raised, so the caller can name them.
    """
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs must be [batch, time, vocab], got shape {tuple(log_probs.shape)}")
    if not 0 <= blank < log_probs.shape[2]:
        raise ValueError(f"blank index {blank} is not in [0, {log_probs.shape[2]})")
    graph = ctc_graph(labels.to(log_probs.device), label_lengths, blank=blank)
    return viterbi_align(log_probs, frame_lengths, graph, pad_class=blank)


def min_ctc_frames(labels: torch.Tensor, label_lengths: torch.Tensor) -> torch.Tensor:
    """[B] the fewest frames a CTC path for each label sequence needs: U plus one blank per adjacent repeat."""
    lengths = label_lengths.to(device=labels.device, dtype=torch.long)
    if labels.shape[1] < 2:
        return lengths.clone()
    positions = torch.arange(1, labels.shape[1], device=labels.device)
    repeats = (labels[:, 1:] == labels[:, :-1]) & (positions[None, :] < lengths[:, None])
    return lengths + repeats.sum(dim=1)
