"""CTC -> CTC forced alignment -> transducer trained frame-wise with CE on it -> the full-sum RNN-T loss.

    seqtrain train recipes/tts_digits/pipeline_ctc_transducer.py      # the whole pipeline; rerun to resume
    seqtrain pipeline recipes/tts_digits/pipeline_ctc_transducer.py   # WER of every stage (greedy, beam)

Data: `python recipes/tts_digits/prepare.py --out data/tts_digits` (run from the repository root).

Encoder: per-utterance normalization, a strided convolution (4 frames -> 1, 40 ms), 3 BLSTM layers of 256
units; the last one ("encoder") is marked as output, so recognition gets its frames. The stages:

1. `ctc`: the encoder + a softmax over 27 characters + blank, trained with CTC; `recog_ctc`: greedy WER;
2. `ctc_align`: the best CTC path of every train and dev utterance (a character or blank per 40 ms frame);
3. `transducer_ce`: the same encoder (copied by name) + a transducer (`seqtrain.nn.layers.transducer`:
   prediction net = embedding + LSTM, joint network) trained with CE along the one lattice path the CTC
   alignment gives (`alignment: True`): the joint is evaluated at T + U nodes only;
   `recog_ce_greedy`, `recog_ce_beam`: greedy and beam-4 decoding;
4. `transducer_rnnt`: the same parameters, trained with the full-sum RNN-T loss over the T x (U+1) lattice;
   `recog_rnnt_greedy`, `recog_rnnt_beam`.
"""

import os

from seqtrain.nn.layers.transducer import rnnt_alignment_ce_loss, rnnt_full_sum_loss

_DATA = os.environ.get("TTS_DIGITS_DATA", "data/tts_digits")
_EXP = os.environ.get("TTS_DIGITS_EXP", "exp/tts_digits/pipeline_ctc_transducer")
_DIM = int(os.environ.get("TTS_DIGITS_DIM", "256"))
_EPOCHS = [int(e) for e in os.environ.get("TTS_DIGITS_STAGE_EPOCHS", "6,4,3").split(",")]  # ctc, ce, rnnt
_NUM_LABELS = 27  # " " + a..z; blank = 27 for CTC, the alignment and the transducer

model = f"{_EXP}/model"
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
recog_beam_size = 4

_TRANSDUCER_RECOG = {"recog_decoder": "transducer_greedy", "recog_output": "encoder", "recog_transducer": "transducer"}


def _encoder() -> dict:
    net = {
        "norm": {"class": "norm", "from": "data", "axes": "T", "scale": False, "bias": False},
        "frontend": {
            "class": "conv1d",
            "from": "norm",
            "n_out": _DIM,
            "filter_size": 4,
            "strides": 4,
            "padding": "valid",
        },
        "lstm0": {"class": "blstm", "from": "frontend", "n_out": _DIM, "dropout": 0.1},
        "lstm1": {"class": "blstm", "from": "lstm0", "n_out": _DIM, "dropout": 0.1},
        "encoder": {"class": "blstm", "from": "lstm1", "n_out": _DIM, "dropout": 0.1, "is_output_layer": True},
    }
    return net


def _transducer(labels: str, **options: object) -> dict:
    return {
        "class": "transducer",
        "from": ["encoder", f"data:{labels}"],
        "n_out": _NUM_LABELS + 1,
        "embed_dim": 64,
        "pred_dim": _DIM,
        "joint_dim": _DIM,
        "target": labels,
        **options,
    }


def _aligned(split: str) -> dict:
    """Features and labels from the corpus, the CTC alignment as "align", paired by sequence tag."""
    return {
        "class": "MetaDataset",
        "datasets": {
            "corpus": {"class": "HDFDataset", "files": [f"{_DATA}/{split}.hdf"]},
            "alignment": {"class": "HDFDataset", "files": [f"{_EXP}/align/ctc.{split}.hdf"]},
        },
        "data_map": {"data": ("corpus", "data"), "classes": ("corpus", "classes"), "align": ("alignment", "classes")},
        "seq_ordering": "laplace:.100" if split == "train" else "sorted_reverse",
    }


def _recog(name: str, decoder: str) -> dict:
    return {"name": name, "action": "recog", "data": "dev", "config": {"recog_decoder": decoder}}


_CTC_OUTPUT = {
    "class": "softmax",
    "from": "encoder",
    "n_out": _NUM_LABELS + 1,
    "loss": "ctc",
    "target": "classes",
    "loss_opts": {"zero_infinity": True},
}

pipeline = [
    {"name": "ctc", "epochs": _EPOCHS[0], "config": {"network": {**_encoder(), "output": _CTC_OUTPUT}}},
    {
        "name": "ctc_align",
        "action": "align",
        "mode": "ctc",
        "data": {split: f"{_EXP}/align/ctc.{split}.hdf" for split in ("train", "dev")},
    },
    _recog("recog_ctc", "ctc_greedy"),
    {
        "name": "transducer_ce",
        "epochs": _EPOCHS[1],
        "config": {
            "train": _aligned("train"),
            "dev": _aligned("dev"),
            "extern_data": {**extern_data, "align": {"dim": _NUM_LABELS + 1, "sparse": True}},
            "network": {**_encoder(), "transducer": _transducer("align", alignment=True, loss=rnnt_alignment_ce_loss)},
            **_TRANSDUCER_RECOG,
        },
    },
    _recog("recog_ce_greedy", "transducer_greedy"),
    _recog("recog_ce_beam", "transducer_beam"),
    {
        "name": "transducer_rnnt",
        "epochs": _EPOCHS[2],
        "config": {
            "network": {**_encoder(), "transducer": _transducer("classes", loss=rnnt_full_sum_loss)},
            **_TRANSDUCER_RECOG,
        },
    },
    _recog("recog_rnnt_greedy", "transducer_greedy"),
    _recog("recog_rnnt_beam", "transducer_beam"),
]
