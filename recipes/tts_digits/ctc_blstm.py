"""CTC on the tts_digits corpus: 4x frame stacking + 3 BLSTM layers of 256 units, greedy decoding.

    seqtrain train recipes/tts_digits/ctc_blstm.py
    seqtrain recog recipes/tts_digits/ctc_blstm.py --data dev,test_espeak_unseen,test_flite

Data: `python recipes/tts_digits/prepare.py --out data/tts_digits` (run from the repository root).
"""

import os

import torch
from torch import nn

from seqtrain.recog.metrics import ctc_greedy_word_errors

_DATA = os.environ.get("TTS_DIGITS_DATA", "data/tts_digits")
_VOCAB = " abcdefghijklmnopqrstuvwxyz"
_NUM_LABELS = len(_VOCAB)  # the CTC blank is appended as index 27
_STACK = 4

model = os.environ.get("TTS_DIGITS_EXP", "exp/tts_digits/ctc_blstm") + "/model"
num_epochs = 12
train = {"class": "HDFDataset", "files": [f"{_DATA}/train.hdf"], "seq_ordering": "laplace:.100"}
dev = {"class": "HDFDataset", "files": [f"{_DATA}/dev.hdf"], "seq_ordering": "sorted_reverse"}
# Voices training never hears (prepare.py makes them; rerun it on an older data dir): scored only by
# `seqtrain recog ... --data test_espeak_unseen,test_flite`, never during training; tune on dev (or dev_festival,
# the held-out synthesizer) only.
test_datasets = {
    name: {"class": "HDFDataset", "files": [f"{_DATA}/{name}.hdf"], "seq_ordering": "sorted_reverse"}
    for name in ("dev_festival", "test_espeak_unseen", "test_flite")
    if os.path.isfile(f"{_DATA}/{name}.hdf")  # a data dir prepared before the test sets still trains
}
extern_data = {
    "data": {"dim": 80, "dtype": "float32"},  # stored as float16, converted when batches are padded
    "classes": {"dim": _NUM_LABELS, "sparse": True},
}
batch_size = 5000
max_seqs = 64
optimizer = {"class": "adam"}
learning_rate = 1e-3
cleanup_old_models = {"keep_last_n": 2, "keep_best_n": 1}


class _CtcBlstm(nn.Module):
    """Per-utterance mean/variance normalization, frame stacking (10 ms -> 40 ms), BLSTM, linear."""

    def __init__(self, hidden: int = 256, layers: int = 3) -> None:
        super().__init__()
        self.lstm = nn.LSTM(80 * _STACK, hidden, num_layers=layers, bidirectional=True, batch_first=True, dropout=0.1)
        self.out = nn.Linear(2 * hidden, _NUM_LABELS + 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).to(x.device)[..., None]
        count = lengths.to(x.device)[:, None, None].clamp(min=1)
        mean = (x * mask).sum(1, keepdim=True) / count
        std = (((x - mean) * mask) ** 2).sum(1, keepdim=True).div(count).sqrt().clamp(min=1e-3)
        x = (x - mean) / std * mask
        frames = x.shape[1] // _STACK * _STACK
        x = x[:, :frames].reshape(x.shape[0], frames // _STACK, 80 * _STACK)
        out_lengths = (lengths // _STACK).clamp(min=1)
        packed = nn.utils.rnn.pack_padded_sequence(x, out_lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True)
        return self.out(h).log_softmax(-1), out_lengths


def get_model(*, epoch, config):
    return _CtcBlstm()


def train_step(*, model, batch, ctx):
    log_probs, lengths = model(batch["data"], batch.lengths["data"])
    loss = nn.functional.ctc_loss(
        log_probs.transpose(0, 1),
        batch["classes"].long(),
        lengths,
        batch.lengths["classes"],
        blank=_NUM_LABELS,
        reduction="none",
        zero_infinity=True,
    )
    ctx.mark_as_loss("ctc", loss, custom_inv_norm_factor=batch.lengths["classes"].sum())
    if not ctx.train:  # dev WER of greedy decoding, every epoch
        errors, words = ctc_greedy_word_errors(
            log_probs, lengths, batch["classes"], batch.lengths["classes"], vocab=_VOCAB, blank=_NUM_LABELS
        )
        ctx.mark_as_loss("wer", errors, as_error=True, custom_inv_norm_factor=words)


def forward_step(*, model, batch, ctx):
    log_probs, lengths = model(batch["data"], batch.lengths["data"])
    ctx.mark_as_output("log_probs", log_probs, lengths=lengths)


recog_score_groups = {"digits": "-digits-", "sentences": "-sentences-"}  # WER per task after each set's WER
