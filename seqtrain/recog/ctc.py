"""CTC greedy decoding: best label per frame, merge repeats, drop blanks."""

from __future__ import annotations

import torch


def ctc_greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, *, blank: int) -> list[list[int]]:
    """`log_probs` [B, T, V] (or any scores), `lengths` [B] -> label sequences without blanks/repeats."""
    best = log_probs.argmax(dim=-1).cpu()  # [B, T]
    out = []
    for b in range(best.shape[0]):
        seq = best[b, : int(lengths[b])]
        if seq.numel() == 0:
            out.append([])
            continue
        keep = torch.ones_like(seq, dtype=torch.bool)
        keep[1:] = seq[1:] != seq[:-1]
        keep &= seq != blank
        out.append(seq[keep].tolist())
    return out
