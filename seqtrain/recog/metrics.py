"""Word errors of greedy CTC decoding inside a step, so dev WER is a score of every epoch.

Marked as an `as_error` loss with the number of reference words as its normalization, the epoch's
reported value is exactly the corpus WER (total word errors / total reference words).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from seqtrain.recog.ctc import ctc_greedy_decode
from seqtrain.recog.wer import labels_to_text, word_error_rate


def ctc_greedy_word_errors(
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    target_lengths: torch.Tensor,
    *,
    vocab: Sequence[str],
    blank: int,
) -> tuple[torch.Tensor, int]:
    """(total word errors of the batch as a tensor, number of reference words)."""
    hyps = ctc_greedy_decode(log_probs, lengths, blank=blank)
    targets = targets.cpu()
    refs = [labels_to_text(targets[b, : int(target_lengths[b])].tolist(), vocab) for b in range(len(hyps))]
    result = word_error_rate(refs, [labels_to_text(h, vocab) for h in hyps])
    return torch.tensor(float(result.errors)), result.ref_words
