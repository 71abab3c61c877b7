"""CTC with a BLSTM that grows by one layer per epoch (RETURNN's pretraining), vs the same net from scratch.

    seqtrain train recipes/tts_digits/pretrain_grow.py
    seqtrain recog recipes/tts_digits/pretrain_grow.py --data dev
    # the baseline: the full net from the first epoch, everything else the same
    seqtrain train recipes/tts_digits/pretrain_grow.py pretrain=None model=exp/tts_digits/blstm_scratch/model
    seqtrain recog recipes/tts_digits/pretrain_grow.py pretrain=None model=exp/tts_digits/blstm_scratch/model --data dev

Data: `python recipes/tts_digits/prepare.py --out data/tts_digits` (run from the repository root).

Per-utterance normalization, a strided convolution as front end (4 frames -> 1, 40 ms), 4 BLSTM layers of
256 units, CTC over 27 characters + blank. `pretrain` removes layers from the top down to the first BLSTM
("from_output"; the front end counts as input): epoch 1 trains 1 BLSTM layer, epoch 2 two, epoch 3 three,
epoch 4 on the full net. At each step the engine rebuilds the model, copies every parameter by name (the
output layer too: its input width stays 2 x 256), and initializes the new layer.
"""

import os

_DATA = os.environ.get("TTS_DIGITS_DATA", "data/tts_digits")
_NUM_LABELS = 27  # " " + a..z; the CTC blank is appended as index 27
_LAYERS = 4
_DIM = int(os.environ.get("TTS_DIGITS_DIM", "256"))

model = os.environ.get("TTS_DIGITS_EXP", "exp/tts_digits/pretrain_grow") + "/model"
num_epochs = 12
train = {"class": "HDFDataset", "files": [f"{_DATA}/train.hdf"], "seq_ordering": "laplace:.100"}
dev = {"class": "HDFDataset", "files": [f"{_DATA}/dev.hdf"], "seq_ordering": "sorted_reverse"}
extern_data = {
    "data": {"dim": 80, "dtype": "float32"},  # stored as float16, converted when batches are padded
    "classes": {"dim": _NUM_LABELS, "sparse": True},
}
batch_size = 5000
max_seqs = 64
optimizer = {"class": "adam"}
learning_rate = 1e-3
gradient_clip_global_norm = 5.0
cleanup_old_models = {"keep_last_n": 2, "keep_best_n": 1}

pretrain = {"construction_algo": "from_output", "input_layers": ["frontend"], "repetitions": 1}


def _network() -> dict:
    net = {
        "norm": {"class": "norm", "from": "data", "axes": "T", "scale": False, "bias": False, "trainable": False},
        "frontend": {
            "class": "conv1d",
            "from": "norm",
            "n_out": _DIM,
            "filter_size": 4,
            "strides": 4,
            "padding": "valid",
        },
    }
    source = "frontend"
    for i in range(_LAYERS):
        net[f"lstm{i}"] = {"class": "blstm", "from": source, "n_out": _DIM, "dropout": 0.1}
        source = f"lstm{i}"
    net["output"] = {
        "class": "softmax",
        "from": source,
        "n_out": _NUM_LABELS + 1,
        "loss": "ctc",
        "target": "classes",
        "loss_opts": {"zero_infinity": True},
    }
    return net


network = _network()
