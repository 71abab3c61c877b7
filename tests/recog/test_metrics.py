from __future__ import annotations

import torch

from seqtrain.model.context import StepContext
from seqtrain.recog.metrics import ctc_greedy_word_errors
from seqtrain.train.scores import ScoreAccumulator

VOCAB = " ab"
BLANK = 3


def _scores(frames: list[int]) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(frames), 4).float().log_softmax(-1)


def test_word_errors_and_reference_words_give_corpus_wer_when_marked() -> None:
    # hyp 1: "ab b" (ref "ab b": 0 errors); hyp 2: "a" (ref "b a": "b" deleted = 1 error)
    hyps = torch.stack([_scores([1, 3, 2, 0, 2, 3]), _scores([3, 1, 1, 3, 3, 3])])
    refs = torch.tensor([[1, 2, 0, 2], [2, 0, 1, 0]])
    errors, words = ctc_greedy_word_errors(
        hyps, torch.tensor([6, 6]), refs, torch.tensor([4, 3]), vocab=VOCAB, blank=BLANK
    )
    assert (float(errors), words) == (1.0, 4)
    acc = ScoreAccumulator()
    for _ in range(2):  # two batches: corpus WER = total errors / total words
        ctx = StepContext(train=False, epoch=1, step=0)
        ctx.mark_as_loss("wer", errors, as_error=True, custom_inv_norm_factor=words)
        acc.add(ctx.losses)
    assert acc.scores() == {"wer": 0.25}
