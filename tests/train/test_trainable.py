"""Training a subset of the parameters: trainable_params / frozen_params per epoch, trainable: False layers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from seqtrain.config import Config, load_config
from seqtrain.errors import ConfigError
from seqtrain.model.make_builder import make_model_builder
from seqtrain.train.model_state import ModelState
from seqtrain.train.trainable import ParamSelection, apply_selection, frozen_names
from tests.train.helpers import model_params, run_cli
from tests.train.net_configs import write_net_config

NAMES = ["enc.weight", "enc.bias", "output.weight", "output.bias", "aux.weight"]


def test_patterns_select_what_is_frozen() -> None:
    assert frozen_names(NAMES, ParamSelection(frozen=("enc.*",))) == {"enc.weight", "enc.bias"}
    assert frozen_names(NAMES, ParamSelection(trainable=("output.*",))) == {"enc.weight", "enc.bias", "aux.weight"}
    both = ParamSelection(trainable=("output.*", "aux.*"), frozen=("*.bias",))
    assert frozen_names(NAMES, both) == {"enc.weight", "enc.bias", "output.bias"}
    with pytest.raises(ConfigError, match=re.escape("frozen_params: pattern 'encoder.*' matches no trainable")):
        frozen_names(NAMES, ParamSelection(frozen=("encoder.*",)))


def test_selection_is_per_epoch_and_never_trains_non_trainable_layers() -> None:
    model = torch.nn.ModuleDict({"enc": torch.nn.Linear(2, 2), "output": torch.nn.Linear(2, 2)})
    trainable = {"enc.weight", "output.weight", "output.bias"}  # enc.bias: a trainable=False parameter
    config = Config.from_dict({"frozen_params": {1: ["output.*"], 3: None}})
    for epoch, expected in [(1, {"enc.weight"}), (2, {"enc.weight"}), (3, trainable)]:
        apply_selection(model, trainable, ParamSelection.from_config(config, epoch=epoch), epoch=epoch)
        assert {n for n, p in model.named_parameters() if p.requires_grad} == expected
    with pytest.raises(ConfigError, match="leave no parameter to train"):
        apply_selection(model, trainable, ParamSelection(frozen=("*",)), epoch=4)


BODY = """
def get_network(epoch, **kwargs):
    return {
        "enc": {"class": "blstm", "from": "data", "n_out": 6},
        "aux": {"class": "softmax", "from": "enc", "n_out": 6, "loss": "ctc", "target": "classes", "trainable": False},
        "output": {"class": "softmax", "from": "enc", "n_out": 6, "loss": "ctc", "target": "classes"},
        "#config": {"frozen_params": ["enc.*"]} if epoch == 1 else {"trainable_params": ["output.bias"]},
    }
"""


def test_frozen_parameters_stay_exactly_as_they_were(tiny_corpus: dict[str, Path], tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many times faster on a busy 2-core machine
    config_path = write_net_config(tmp_path, tiny_corpus, BODY + "num_epochs = 2\n")
    try:
        assert run_cli("train", config_path) == 0
    finally:
        torch.set_num_threads(threads)
    config = load_config(config_path)
    state = ModelState(make_model_builder(config), torch.device("cpu"), config.get("random_seed"))
    state.for_epoch(1, 0, config)
    assert state.model is not None
    initial = {n: p.detach().clone() for n, p in state.model.state_dict().items()}
    epoch1, epoch2 = model_params(tmp_path / "out/model.001.pt"), model_params(tmp_path / "out/model.002.pt")
    for name in initial:
        frozen_in_1 = name.startswith(("enc.", "aux."))
        assert torch.equal(epoch1[name], initial[name]) == frozen_in_1, name
        assert torch.equal(epoch2[name], epoch1[name]) == (name != "output.bias"), name
    optimizer = torch.load(tmp_path / "out/model.001.pt", weights_only=True)["optimizer"]
    assert len(optimizer["state"]) == 2  # only output.weight/bias were ever updated; aux is not even in it
    assert len(optimizer["param_groups"][0]["params"]) == len(initial) - 2
