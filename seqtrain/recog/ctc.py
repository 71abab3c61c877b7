"""CTC greedy decoding: best label per frame, merge repeats, drop blanks."""

from __future__ import annotations

import torch

from seqtrain.nn.losses import greedy_ctc_labels


def ctc_greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, *, blank: int) -> list[list[int]]:
    """`log_probs` [B, T, V] (or any scores), `lengths` [B] -> label sequences without blanks/repeats."""
    hyp, hyp_lengths = greedy_ctc_labels(log_probs, lengths.cpu(), blank=blank)
    return [hyp[b, : int(hyp_lengths[b])].tolist() for b in range(hyp.shape[0])]
