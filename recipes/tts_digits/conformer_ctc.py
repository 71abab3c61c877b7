"""Conformer CTC on tts_digits, as a net dict: SpecAugment, dropout, stochastic depth, an auxiliary CTC loss.

    seqtrain train recipes/tts_digits/conformer_ctc.py
    seqtrain recog recipes/tts_digits/conformer_ctc.py --data dev,test_espeak_unseen,test_flite

Data: `python recipes/tts_digits/prepare.py --out data/tts_digits` (run from the repository root).

Per-utterance mean/variance normalization, SpecAugment, two strided 3x3 convolutions (4x time
subsampling: 40 ms frames, still >= 1.1 frames per label for the fastest speakers), 6 Conformer blocks
of 144 dims with rotary positions, CTC over 27 characters + blank. Regularization: SpecAugment (off in
the first epoch), dropout 0.1, stochastic depth with survival probability falling linearly to 0.9 over
depth, and an auxiliary CTC loss on block 3 (scale 0.3). AdamW with a per-step schedule: linear warmup
over 400 steps, then cosine decay to 5 % at the last step of `num_epochs` (set in this file: a
command-line `num_epochs=` override does not stretch the schedule).
"""

import os

from seqtrain.nn.regularization import linear_decay_survival

_DATA = os.environ.get("TTS_DIGITS_DATA", "data/tts_digits")
_NUM_LABELS = 27  # " " + a..z; the CTC blank is appended as index 27
_DIM = 144
_BLOCKS = 6
_AUX_BLOCK = 3

model = os.environ.get("TTS_DIGITS_EXP", "exp/tts_digits/conformer_ctc") + "/model"
num_epochs = 16  # ~2.3 min per epoch on the 2-core machine (measured): ~40 min with evaluation
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
batch_size = 8000
max_seqs = 64
optimizer = {"class": "adamw", "weight_decay": 0.01, "epsilon": 1e-8}
learning_rate = 1.5e-3
_STEPS_PER_EPOCH = 192  # the batch list of batch_size 8000 over the 6000 train utterances (the same every epoch)
_WARMUP = 400
learning_rate_step_schedule = {
    "warmup_steps": _WARMUP, "decay": "cosine", "decay_steps": num_epochs * _STEPS_PER_EPOCH - _WARMUP,
    "final_scale": 0.05,
}  # fmt: skip
gradient_clip_global_norm = 5.0
cleanup_old_models = {"keep_last_n": 2, "keep_best_n": 1}


def _network() -> dict:
    net = {
        "norm": {"class": "norm", "from": "data", "axes": "T", "scale": False, "bias": False},
        "specaug": {
            "class": "specaugment",
            "from": "norm",
            "time_mask_num": {1: 0, 2: (1, 2)},
            "time_mask_max_width": 20,
            "time_mask_frames_per_mask": 100,
            "freq_mask_num": {1: 0, 2: (1, 2)},
            "freq_mask_max_width": 10,
        },
        "conv1": {
            "class": "conv2d",
            "from": "specaug",
            "n_out": 32,
            "filter_size": (3, 3),
            "strides": (2, 2),
            "activation": "swish",
        },
        "conv2": {
            "class": "conv2d",
            "from": "conv1",
            "n_out": 32,
            "filter_size": (3, 3),
            "strides": (2, 2),
            "activation": "swish",
        },
        "merge": {"class": "merge_dims", "from": "conv2"},
        "proj": {"class": "linear", "from": "merge", "n_out": _DIM, "dropout": 0.1},
    }
    src = "proj"
    for i in range(1, _BLOCKS + 1):
        net[f"enc{i}"] = {
            "class": "conformer_block",
            "from": src,
            "num_heads": 4,
            "ff_dim": 4 * _DIM,
            "conv_kernel_size": 15,
            "residual_dropout": 0.1,
            "attention_dropout": 0.1,
            "survival_prob": linear_decay_survival(i, _BLOCKS, 0.9),
        }
        src = f"enc{i}"
    net["aux_ctc"] = {
        "class": "softmax",
        "from": f"enc{_AUX_BLOCK}",
        "n_out": _NUM_LABELS + 1,
        "loss": "ctc",
        "target": "classes",
        "loss_scale": 0.3,
        "loss_opts": {"use_normalized_loss": True, "zero_infinity": True},
    }
    net["output"] = {
        "class": "softmax",
        "from": src,
        "n_out": _NUM_LABELS + 1,
        "dropout": 0.1,
        "loss": "ctc",
        "target": "classes",
        "loss_opts": {"use_normalized_loss": True, "zero_infinity": True},
    }
    return net


network = _network()

recog_score_groups = {"digits": "-digits-", "sentences": "-sentences-"}  # WER per task after each set's WER
