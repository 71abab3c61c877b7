"""Net dicts through the real engine and CLI: exact resume with every regularizer on, recog, preloading."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from seqtrain.train.optim.lr_file import read_scores
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli

CONFIG = """
model = {model!r}
num_epochs = 2
train = {{"class": "HDFDataset", "files": [{train!r}], "seq_ordering": "laplace:.10"}}
dev = {{"class": "HDFDataset", "files": [{dev!r}]}}
batch_size = 200
max_seqs = 8
optimizer = {{"class": "adam"}}
learning_rate = 0.01
tensorboard = False
extern_data = {{"data": {{"dim": 8}}, "classes": {{"dim": 5, "sparse": True}}}}
param_variational_noise = 0.01
_CTC = {{"loss": "ctc", "target": "classes", "loss_opts": {{"zero_infinity": True}}}}


def get_network(epoch, **kwargs):
    net = {{
        "specaug": {{"class": "specaugment", "from": "data", "time_mask_max_width": 3, "freq_mask_max_width": 2,
                     "freq_warp_max": 0.1}},
        "conv": {{"class": "conv1d", "from": "specaug", "n_out": 12, "filter_size": 3, "strides": 2,
                  "activation": "relu"}},
        "lstm": {{"class": "blstm", "from": "conv", "n_out": 8, "dropout": {{1: 0.0, 2: 0.2}},
                  "dropout_noise_shape": {{"*": None, "T": 1}}}},
        "aux": {{"class": "softmax", "from": "lstm", "n_out": 6, "loss_scale": 0.5, **_CTC}},
    }}
    top = "lstm"
    if epoch >= 2:  # pretraining: the network grows, the engine rebuilds it and copies parameters by name
        net["block"] = {{"class": "conformer_block", "from": "lstm", "num_heads": 2, "conv_kernel_size": 3,
                         "survival_prob": 0.7}}
        top = "block"
    net["output"] = {{"class": "softmax", "from": top, "n_out": 6, "L2": 1e-4, **_CTC}}
    net["#config"] = {{"gradient_clip": 5.0 if epoch == 1 else 0.0}}
    return net
"""


def _write(directory: Path, corpus: dict[str, Path], extra: str = "") -> Path:
    text = CONFIG.format(model=str(directory / "out" / "model"), train=str(corpus["train"]), dev=str(corpus["dev"]))
    path = directory / "config.py"
    path.write_text(text + textwrap.dedent(extra))
    return path


@pytest.fixture(scope="module")
def reference(tiny_corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("netdict")
    assert run_cli("train", _write(directory, tiny_corpus)) == 0
    return directory


def test_net_dict_run_resumes_bitwise_with_every_regularizer_on(
    reference: Path, tiny_corpus: dict, tmp_path: Path
) -> None:
    config = _write(tmp_path, tiny_corpus)
    assert run_cli("train", config, "num_epochs=1") == 0
    assert run_cli("train", config) == 0
    ref = model_params(reference / "out/model.002.pt")
    assert "block.conv.depthwise.weight" in ref and "output.weight" in ref
    assert_bitwise_equal(ref, model_params(tmp_path / "out/model.002.pt"))
    assert read_scores(reference / "out/model.learning_rates") == read_scores(tmp_path / "out/model.learning_rates")


def test_scores_are_named_like_returnn_and_fall(reference: Path) -> None:
    scores = read_scores(reference / "out/model.learning_rates")
    keys = set(scores[2].error)
    assert {"train_loss_output", "train_loss_aux", "train_loss_L2", "dev_loss_output", "dev_loss_output_error"} <= keys
    assert "dev_loss_L2" not in keys  # a regularizer, not a score
    assert scores[2].error["train_loss_aux"] < scores[1].error["train_loss_aux"]


def test_recog_decodes_the_output_layer(reference: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("recog", reference / "config.py", "--data", "dev") == 0
    assert "epoch 2 dev: WER " in capsys.readouterr().out


NO_REGULARIZATION = """
param_variational_noise = 0.0
learning_rate = 0.0


def get_network(epoch, **kwargs):
    return {
        "conv": {"class": "conv1d", "from": "data", "n_out": 12, "filter_size": 3, "strides": 2, "activation": "relu"},
        "lstm": {"class": "blstm", "from": "conv", "n_out": 8},
        "aux": {"class": "softmax", "from": "lstm", "n_out": 6, "loss": "ctc", "target": "classes"},
        "output": {"class": "softmax", "from": "lstm", "n_out": 6, "loss": "ctc", "target": "classes"},
    }
"""


def test_preload_on_fresh_start_only(reference: Path, tiny_corpus: dict, tmp_path: Path) -> None:
    source = tmp_path / "source.pt"
    source.write_bytes((reference / "out/model.001.pt").read_bytes())
    preload = f'preload_from_files = {{"base": {{"filename": {str(source)!r}, "init_for_train": True}}}}\n'
    config = _write(tmp_path, tiny_corpus, NO_REGULARIZATION + preload)
    assert run_cli("train", config, "num_epochs=1") == 0
    loaded = model_params(tmp_path / "out/model.001.pt")
    expected = model_params(reference / "out/model.001.pt")
    for name in ("lstm.weight_ih", "lstm.weight_hh_reverse", "aux.weight", "output.bias"):
        assert torch.equal(loaded[name], expected[name]), name  # learning_rate 0: still the preloaded values
    source.unlink()  # a resumed run has its own checkpoint and never reads the preload file again
    assert run_cli("train", config) == 0
    assert torch.equal(model_params(tmp_path / "out/model.002.pt")["lstm.weight_ih"], expected["lstm.weight_ih"])


def test_preload_mismatch_stops_before_training(reference: Path, tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    source = reference / "out/model.001.pt"
    wider = NO_REGULARIZATION.replace('"n_out": 8', '"n_out": 10')
    preload = f'preload_from_files = {{"base": {{"filename": {str(source)!r}, "init_for_train": True}}}}\n'
    assert run_cli("train", _write(tmp_path, tiny_corpus, wider + preload)) == 1
    assert "'lstm.weight_ih' has shape (32, 12)" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("model.*.pt"))
