from __future__ import annotations

import pytest
import torch

from seqtrain.recog.ctc import ctc_greedy_decode
from seqtrain.recog.wer import labels_to_text, word_error_rate


def test_greedy_merges_repeats_drops_blanks_and_respects_lengths() -> None:
    blank = 3
    best = torch.tensor([[0, 0, 3, 0, 1, 1, 3, 2, 2, 2], [1, 3, 1, 2, 2, 0, 0, 0, 0, 0]])
    scores = torch.nn.functional.one_hot(best, 4).float()
    assert ctc_greedy_decode(scores, torch.tensor([10, 4]), blank=blank) == [[0, 0, 1, 2], [1, 1, 2]]
    assert ctc_greedy_decode(scores, torch.tensor([0, 1]), blank=blank) == [[], [1]]


def test_labels_to_text() -> None:
    vocab = [" ", *list("abcdefghijklmnopqrstuvwxyz")]
    assert labels_to_text([8, 9, 0, 0, 20, 8, 5, 18, 5, 0], vocab) == "hi there"
    assert labels_to_text([0, 1], ["▁the", "re"]) == "the re"


def test_wer_counts() -> None:
    result = word_error_rate(["one two three", "four five", ""], ["one too three", "four", "six"])
    assert (result.substitutions, result.deletions, result.insertions, result.ref_words) == (1, 1, 1, 5)
    assert result.wer == pytest.approx(3 / 5)
    assert "WER 60.00%" in str(result)
