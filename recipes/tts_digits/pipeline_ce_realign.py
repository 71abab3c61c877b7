"""Frame-wise CE with realignment (HMM style) on tts_digits: linear alignment -> CE -> Viterbi realignment -> CE ...

    seqtrain train recipes/tts_digits/pipeline_ce_realign.py      # the whole pipeline; rerun to resume
    seqtrain pipeline recipes/tts_digits/pipeline_ce_realign.py   # per iteration: dev FER, frames changed, WER

Data: `python recipes/tts_digits/prepare.py --out data/tts_digits` (run from the repository root).

HMM topology (the align_* keys, shared by alignment and decoding): 2 states per character, a silence state
at the start, at the end and (optional) after each space; 27 x 2 + 1 = 55 classes on 20 ms frames (a strided
convolution takes 2 frames -> 1; every utterance has >= 1.19 frames per state). The stages:

1. `ali0`: linear alignment (states spread evenly over the frames, silence frames weighted 2x), train + dev;
2. `ce1`: 2 BLSTM layers trained with frame-wise CE on it (the dev score `dev_loss_output_error` is the
   frame error rate against the alignment it trains on);
3. `ali1`: Viterbi forced alignment with that model, compared with `ali0` (how many frames changed label);
   `recog1`: dev WER of Viterbi decoding over a loop of the training words (`recog_decoder = "hmm_viterbi"`,
   the lexicon from prepare, the state prior of the alignment trained on); `recog1_greedy`: the best state
   per frame instead (`hmm_greedy`), for comparison;
4. `ce2`: a bigger net (3 layers: the new one sits below the output; the others are copied) on `ali1`;
5. `ali2`, `recog2(_greedy)`, `ce3` on `ali2`, `ali3` (the last iteration's change), `recog3(_greedy)`.
"""

import os

_DATA = os.environ.get("TTS_DIGITS_DATA", "data/tts_digits")
_EXP = os.environ.get("TTS_DIGITS_EXP", "exp/tts_digits/pipeline_ce_realign")
_DIM = int(os.environ.get("TTS_DIGITS_DIM", "256"))
_EPOCHS = [int(e) for e in os.environ.get("TTS_DIGITS_STAGE_EPOCHS", "3,3,3").split(",")]  # per CE iteration
_LAYERS = [2, 3, 3]
_STATES = 2
_CLASSES = 27 * _STATES + 1  # + silence

model = f"{_EXP}/model"
train = {"class": "HDFDataset", "files": [f"{_DATA}/train.hdf"]}  # the features; the stages add alignments
dev = {"class": "HDFDataset", "files": [f"{_DATA}/dev.hdf"]}
extern_data = {
    "data": {"dim": 80, "dtype": "float32"},  # stored as float16, converted when batches are padded
    "classes": {"dim": 27, "sparse": True},
}
batch_size = 5000
max_seqs = 64
optimizer = {"class": "adam"}
learning_rate = 1e-3
gradient_clip_global_norm = 5.0

# the HMM: alignment and hmm_greedy decoding read the same keys
align_mode = "hmm"
align_states_per_label = _STATES
align_silence = True
align_word_separator = " "
align_silence_weight = 2.0
align_frame_subsampling = 2  # linear alignment: frames = input frames // 2, as the front end below
recog_decoder = "hmm_viterbi"  # `seqtrain recog CONFIG --epoch N`; the recog stages add the matching state prior
recog_lexicon = f"{_DATA}/lexicon.txt"


def _alignment(name: str, split: str) -> str:
    return f"{_EXP}/align/{name}.{split}.hdf"


def _data(split: str, alignment: str) -> dict:
    """Features and labels from the corpus, frame labels ("align") from an alignment, paired by sequence tag."""
    return {
        "class": "MetaDataset",
        "datasets": {
            "corpus": {"class": "HDFDataset", "files": [f"{_DATA}/{split}.hdf"]},
            "alignment": {"class": "HDFDataset", "files": [_alignment(alignment, split)]},
        },
        "data_map": {"data": ("corpus", "data"), "classes": ("corpus", "classes"), "align": ("alignment", "classes")},
        "seq_ordering": "laplace:.100" if split == "train" else "sorted_reverse",
    }


def _network(layers: int) -> dict:
    net = {
        "norm": {"class": "norm", "from": "data", "axes": "T", "scale": False, "bias": False},
        "frontend": {
            "class": "conv1d",
            "from": "norm",
            "n_out": _DIM,
            "filter_size": 2,
            "strides": 2,
            "padding": "valid",  # floor(T / 2) frames, like align_frame_subsampling
        },
    }
    source = "frontend"
    for i in range(layers):
        net[f"lstm{i}"] = {"class": "blstm", "from": source, "n_out": _DIM, "dropout": 0.1}
        source = f"lstm{i}"
    net["output"] = {"class": "softmax", "from": source, "n_out": _CLASSES, "loss": "ce", "target": "align"}
    return net


def _ce(iteration: int, alignment: str) -> dict:
    return {
        "name": f"ce{iteration}",
        "epochs": _EPOCHS[iteration - 1],
        "config": {
            "train": _data("train", alignment),
            "dev": _data("dev", alignment),
            "extern_data": {**extern_data, "align": {"dim": _CLASSES, "sparse": True}},
            "network": _network(_LAYERS[iteration - 1]),
        },
    }


def _align(name: str, *, mode: str = "hmm", previous: str | None = None) -> dict:
    stage = {"name": name, "action": "align", "mode": mode, "data": {s: _alignment(name, s) for s in ("train", "dev")}}
    if previous is not None:
        stage["compare_to"] = {s: _alignment(previous, s) for s in ("train", "dev")}
    return stage


def _recog(name: str, trained_on: str, decoder: str = "hmm_viterbi") -> dict:
    """Dev WER of the model just trained: the plain dev corpus, so every utterance is decoded.

    hmm_viterbi: the best path through a loop of the training words (lexicon.txt from prepare; no language
    model), the model's state posteriors divided by the state prior of the alignment it was trained on.
    """
    config = {"dev": dev, "extern_data": extern_data, "recog_decoder": decoder}
    if decoder == "hmm_viterbi":
        config |= {"recog_prior_file": _alignment(trained_on, "train"), "recog_prior_scale": 0.5}
    return {"name": name, "action": "recog", "data": "dev", "config": config}


pipeline = [
    _align("ali0", mode="linear"),
    _ce(1, "ali0"),
    _align("ali1", previous="ali0"),
    _recog("recog1", "ali0"),
    _recog("recog1_greedy", "ali0", "hmm_greedy"),
    _ce(2, "ali1"),
    _align("ali2", previous="ali1"),
    _recog("recog2", "ali1"),
    _recog("recog2_greedy", "ali1", "hmm_greedy"),
    _ce(3, "ali2"),
    _align("ali3", previous="ali2"),
    _recog("recog3", "ali2"),
    _recog("recog3_greedy", "ali2", "hmm_greedy"),
]
