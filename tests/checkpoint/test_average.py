"""Checkpoint averaging (`model_average_epochs`): the mean of real checkpoints, decoded; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqtrain.checkpoint.average import average_model_states
from seqtrain.checkpoint.store import load_checkpoint
from seqtrain.config import load_config
from seqtrain.errors import CheckpointError, ConfigError
from seqtrain.model.trained_model import load_trained_model
from tests.corpus import write_config
from tests.train.helpers import run_cli

_PATHS = [Path("m.001.pt"), Path("m.002.pt"), Path("m.003.pt")]


def test_floats_are_averaged_in_their_dtype_and_counters_are_the_newest() -> None:
    states = [
        {"w": torch.tensor([1.0, 2.0]), "h": torch.tensor([1.0], dtype=torch.float16), "n": torch.tensor(5)},
        {"w": torch.tensor([2.0, 4.0]), "h": torch.tensor([2.0], dtype=torch.float16), "n": torch.tensor(9)},
        {"w": torch.tensor([6.0, 0.0]), "h": torch.tensor([6.0], dtype=torch.float16), "n": torch.tensor(12)},
    ]
    averaged = average_model_states(states, _PATHS)
    torch.testing.assert_close(averaged["w"], torch.tensor([3.0, 2.0]))
    assert averaged["h"].dtype == torch.float16 and float(averaged["h"]) == 3.0
    assert int(averaged["n"]) == 12
    assert float(states[2]["w"][0]) == 6.0  # the inputs stay as they were


def test_a_grown_parameter_names_the_tensor_and_both_files() -> None:
    small, grown = {"w": torch.zeros(2, 3)}, {"w": torch.zeros(4, 3)}
    with pytest.raises(CheckpointError, match=r"m.001.pt with m.002.pt: 'w' has shape \(2, 3\) there and \(4, 3\)"):
        average_model_states([small, grown], _PATHS[:2])


def test_other_parameters_are_listed() -> None:
    old = {"w": torch.zeros(2), "old_layer.b": torch.zeros(1)}
    new = {"w": torch.zeros(2), "new_layer.b": torch.zeros(1)}
    listed = r"only in the newer one: new_layer\.b; only in the older one: old_layer\.b"
    with pytest.raises(CheckpointError, match=listed):
        average_model_states([old, new], _PATHS[:2])


def test_trained_model_is_the_mean_of_the_last_epochs_and_decodes(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config_path = write_config(tmp_path, tiny_corpus, num_epochs=3)
    assert run_cli("train", config_path) == 0
    states = [load_checkpoint(tmp_path / "out" / f"model.00{e}.pt")["model"] for e in (2, 3)]
    averaged = load_trained_model(load_config(config_path, ["model_average_epochs=2"]), 3).model.state_dict()
    single = load_trained_model(load_config(config_path), 3).model.state_dict()
    differing = 0
    for name, tensor in averaged.items():
        torch.testing.assert_close(tensor, (states[0][name] + states[1][name]) / 2)
        differing += int(not torch.equal(tensor, single[name]))
    assert differing > 0  # the two epochs differ, so the average is not epoch 3
    capsys.readouterr()
    assert run_cli("recog", config_path, "model_average_epochs=3", "--data", "dev") == 0
    assert "epoch 3 dev: WER " in capsys.readouterr().out


def test_averaging_errors_name_the_epochs(tiny_corpus: dict, tmp_path: Path) -> None:
    config_path = write_config(tmp_path, tiny_corpus, num_epochs=2)
    assert run_cli("train", config_path) == 0
    with pytest.raises(ConfigError, match=r"model_average_epochs = 3 averages epochs 0-2, but epochs start at 1"):
        load_trained_model(load_config(config_path, ["model_average_epochs=3"]), 2)
    (tmp_path / "out" / "model.001.pt").unlink()
    with pytest.raises(CheckpointError, match=r"averages epochs 1-2, but .*model.001.pt does not exist"):
        load_trained_model(load_config(config_path, ["model_average_epochs=2"]), 2)
    with pytest.raises(ConfigError, match="model_average_epochs"):
        load_config(config_path, ["model_average_epochs=0"])
