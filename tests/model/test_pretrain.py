"""RETURNN's `pretrain`: the same growing nets as RETURNN, options, and exact resume in the middle of it."""

from __future__ import annotations

import copy
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from seqtrain.config import Config
from seqtrain.config.settings import OptimizerSettings
from seqtrain.errors import ConfigError
from seqtrain.model.net_dict_builder import NetDictModelBuilder
from seqtrain.model.pretrain import Pretrain, WrapEpochValue
from seqtrain.train.optim.lr_control import LearningRateControl
from seqtrain.train.optim.lr_file import read_scores
from seqtrain.train.optim.lr_setup import control_options, epoch_learning_rate, pretrain_epochs
from tests.nn.helpers import EXTERN_DATA, make_batch, run_step
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli, start_subprocess
from tests.train.net_configs import write_net_config
from tests.train.test_resume import _wait_for


def _chain(num_layers: int, *, frontend: bool = True, window: bool = False) -> dict[str, Any]:
    net: dict[str, Any] = {}
    source = "data"
    if window:
        net["window"] = {"class": "copy", "from": "data", "trainable": False}
        source = "window"
    if frontend:
        net["frontend"] = {"class": "linear", "from": source, "n_out": 8}
        source = "frontend"
    for i in range(num_layers):
        net[f"lstm{i}"] = {"class": "blstm", "from": source, "n_out": 4}
        source = f"lstm{i}"
    net["output"] = {"class": "softmax", "from": source, "n_out": 6, "loss": "ctc", "target": "classes"}
    return net


def _structure(net: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Layer -> its sources, in one form for both frameworks ("from" may be a string or a list)."""
    result = {}
    for name, layer in net.items():
        if name.startswith("#"):
            continue
        sources = layer.get("from", ["data"])
        result[name] = tuple(sorted([sources] if isinstance(sources, str) else sources))
    return result


CASES = [
    (_chain(3), {"construction_algo": "from_output"}),
    (_chain(3), {"construction_algo": "from_output", "input_layers": ["frontend"]}),
    (_chain(3, window=True), {"construction_algo": "from_input"}),
    (_chain(2, frontend=False, window=True), {"construction_algo": "from_input", "repetitions": [2, 1]}),
    (_chain(3), {"construction_algo": "from_output", "repetitions": {"default": 2, "final": 1}}),
    (_chain(3), {"construction_algo": "from_output", "repetitions": {1: 3}}),
    (_chain(2), {"construction_algo": "no_network_modifications", "repetitions": 3}),
]


@pytest.mark.parametrize(("net", "options"), CASES)
def test_same_nets_as_returnn(net: dict[str, Any], options: dict[str, Any]) -> None:
    returnn_pretrain = pytest.importorskip("returnn.pretrain")
    returnn_net = {name: {**layer, "from": list(_structure({name: layer})[name])} for name, layer in net.items()}
    theirs = returnn_pretrain.Pretrain(copy.deepcopy(returnn_net), **options)
    ours = Pretrain(copy.deepcopy(net), options)
    assert ours.num_epochs == theirs.get_train_num_epochs()
    for epoch in range(1, ours.num_epochs + 2):
        assert _structure(ours.net_dict(epoch)) == _structure(theirs.get_network_json_for_epoch(epoch)), epoch


def test_one_more_layer_per_epoch_and_the_options() -> None:
    net = {**_chain(3), "#config": {"gradient_clip": 1.0}, "aux": _chain(3)["output"] | {"from": "lstm2"}}
    pretrain = Pretrain(
        net,
        {"input_layers": ["frontend"], "copy_param_mode": "ifpossible", "copy_output_layer": False, "greedy": True},
    )
    layers = [sorted(n for n in pretrain.net_dict(e) if not n.startswith("#")) for e in range(1, 5)]
    assert layers[0] == ["frontend", "lstm0", "output"]  # the auxiliary loss on lstm2 waits until lstm2 exists
    assert layers[2] == layers[3] == sorted(["frontend", "lstm0", "lstm1", "lstm2", "output", "aux"])
    second = pretrain.net_dict(2)
    assert second["#config"] == {"copy_param_mode": "ifpossible", "gradient_clip": 1.0}
    assert second["output"]["custom_param_importer"] == "reset"  # copy_output_layer=False: output re-initialized
    assert second["frontend"]["trainable"] is False and second["lstm0"]["trainable"] is False  # greedy
    assert "trainable" not in second["lstm1"] and "trainable" not in pretrain.net_dict(3)["lstm0"]  # final: all


def test_wrap_epoch_value_grows_a_layer_and_the_model_follows() -> None:
    net = _chain(2, frontend=False)
    net["lstm0"]["n_out"] = WrapEpochValue(lambda epoch: 2 * epoch)
    config = Config.from_dict({"extern_data": EXTERN_DATA, "network": net, "pretrain": {"repetitions": [1, 2]}})
    builder = NetDictModelBuilder(config)
    shapes = [tuple(builder.build(epoch=e, step=0).layer("lstm0").weight_hh.shape) for e in (1, 2, 3, 4)]
    assert shapes == [(8, 2), (16, 4), (24, 6), (24, 6)]  # the full net keeps the width of the last pretrain epoch
    assert len({builder.architecture(e) for e in (1, 2, 3, 4)}) == 3
    returnn_keys = {"extern_data": EXTERN_DATA, "network": net, "pretrain": "default", "pretrain_repetitions": 2}
    assert NetDictModelBuilder(Config.from_dict(returnn_keys))._pretrain.num_epochs == 4  # 2 nets x 2


def test_pretrain_errors() -> None:
    with pytest.raises(ConfigError, match="unknown options \\['repetition'\\]"):
        Pretrain(_chain(2), {"repetition": 2})
    with pytest.raises(ConfigError, match="construction_algo 'from_middle'"):
        Pretrain(_chain(2), {"construction_algo": "from_middle"})
    with pytest.raises(ConfigError, match="output_layers \\['out'\\]"):
        Pretrain(_chain(2), {"output_layers": ["out"]})
    with pytest.raises(ConfigError, match="not a net dict"):
        Pretrain(_chain(2), {"construction_algo": lambda idx, net_dict: ["lstm0"] if idx == 0 else None})
    with pytest.raises(ConfigError, match="pretrain builds its nets from `network`"):
        NetDictModelBuilder(Config.from_dict({"get_network": lambda epoch: _chain(2), "pretrain": "default"}))


GROWING = """
from seqtrain.model.pretrain import WrapEpochValue

network = {
    "slow": {"class": "eval", "from": "data", "eval": _slow},
    "lstm0": {"class": "blstm", "from": "slow", "n_out": WrapEpochValue(lambda epoch: 2 + 2 * epoch)},
    "lstm1": {"class": "blstm", "from": "lstm0", "n_out": 6, "dropout": 0.1},
    "lstm2": {"class": "blstm", "from": "lstm1", "n_out": 6},
    "output": {"class": "softmax", "from": "lstm2", "n_out": 6, "loss": "ctc", "target": "classes"},
}
pretrain = {"construction_algo": "from_output", "input_layers": ["slow"], "repetitions": 1}
num_epochs = 4
"""


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Two threads on a busy 2-core machine are many times slower than one; results are per thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def grown_reference(tiny_corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pretrain_reference")
    assert run_cli("train", write_net_config(directory, tiny_corpus, GROWING)) == 0
    return directory / "out"


def test_each_epoch_has_its_topology(grown_reference: Path) -> None:
    layers = [{k.split(".")[0] for k in model_params(grown_reference / f"model.00{e}.pt")} for e in (1, 2, 3, 4)]
    assert layers == [{"lstm0", "output"}, {"lstm0", "lstm1", "output"}, *[{"lstm0", "lstm1", "lstm2", "output"}] * 2]
    widths = [model_params(grown_reference / f"model.00{e}.pt")["lstm0.weight_hh"].shape[1] for e in (1, 2, 3, 4)]
    assert widths == [4, 6, 8, 8]


def test_resume_between_pretrain_epochs_is_exact(grown_reference: Path, tiny_corpus: dict, tmp_path: Path) -> None:
    config = write_net_config(tmp_path, tiny_corpus, GROWING)
    assert run_cli("train", config, "num_epochs=2") == 0
    assert run_cli("train", config) == 0
    for epoch in (3, 4):
        assert_bitwise_equal(
            model_params(grown_reference / f"model.00{epoch}.pt"), model_params(tmp_path / f"out/model.00{epoch}.pt")
        )
    assert read_scores(grown_reference / "model.learning_rates") == read_scores(tmp_path / "out/model.learning_rates")


@pytest.mark.slow
def test_kill_9_inside_a_grown_epoch_resumes_exactly(
    grown_reference: Path, tiny_corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed in epoch 3 (just grown in depth and width, with grown optimizer state): the resumed run rebuilds
    epoch 3's topology and ends bitwise where the uninterrupted run ends."""
    config = write_net_config(tmp_path, tiny_corpus, GROWING)
    monkeypatch.setenv("SEQTRAIN_TEST_STEP_SLEEP", "0.05")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as this process: bitwise equality needs the same thread count
    proc = start_subprocess("train", config, "checkpoint_interval_steps=2")
    try:
        _wait_for("model.003.step*.meta.json", tmp_path / "out", proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (tmp_path / "out/model.003.pt").exists()
    monkeypatch.delenv("SEQTRAIN_TEST_STEP_SLEEP")
    assert run_cli("train", config) == 0
    assert_bitwise_equal(model_params(grown_reference / "model.004.pt"), model_params(tmp_path / "out/model.004.pt"))
    reference_state = torch.load(grown_reference / "model.004.pt", weights_only=True)["optimizer"]["state"]
    resumed_state = torch.load(tmp_path / "out/model.004.pt", weights_only=True)["optimizer"]["state"]
    for index, state in reference_state.items():
        assert all(torch.equal(v, resumed_state[index][k]) for k, v in state.items())


def test_another_loss_in_the_first_epochs_without_a_rebuild() -> None:
    """Pretraining on an auxiliary (here: reconstruction) loss, then the real one: the losses change, the
    parameters do not, so nothing is rebuilt."""

    def get_network(epoch: int, **_kwargs: Any) -> dict[str, Any]:
        pretraining = epoch <= 2
        return {
            "enc": {"class": "blstm", "from": "data", "n_out": 4},
            "recon": {"class": "linear", "from": "enc", "n_out": 6, "loss": "mse", "target": "data",
                      "loss_scale": 1.0 if pretraining else 0.0},
            "output": {"class": "softmax", "from": "enc", "n_out": 6, "loss": "ctc", "target": "classes",
                       "loss_scale": 0.0 if pretraining else 1.0},
        }  # fmt: skip

    builder = NetDictModelBuilder(Config.from_dict({"extern_data": EXTERN_DATA, "get_network": get_network}))
    model = builder.build(epoch=1, step=0)
    graded = []
    for epoch in (1, 2, 3):
        ctx = run_step(builder, model, make_batch([8, 6], [2, 3]), train=True, epoch=epoch)
        graded.append(sorted(name for name, loss in ctx.losses.items() if loss.summed.requires_grad))
    assert graded == [["recon"], ["recon"], ["output"]]
    assert builder.architecture(1) == builder.architecture(3)


def _rates(**keys: Any) -> list[float]:
    config = Config.from_dict(
        {
            "extern_data": EXTERN_DATA,
            "network": _chain(3),
            "pretrain": {"construction_algo": "from_output", "input_layers": ["frontend"]},
            "learning_rate": 1.0,
            "learning_rates": [0.1, 0.2, 0.3, 0.4, 0.5],
            **keys,
        }
    )
    opt = OptimizerSettings.from_config(config)
    control = LearningRateControl(control_options(opt), base_learning_rate=lambda epoch: 1.0)
    num_pretrain = pretrain_epochs(config)
    return [
        epoch_learning_rate(control, opt, opt, epoch=epoch, first_step=0, pretrain_epochs=num_pretrain)
        for epoch in range(1, 6)
    ]


def test_pretrain_epochs_train_at_the_pretrain_learning_rate_as_in_returnn() -> None:
    """RETURNN: the 3 pretrain epochs at pretrain_learning_rate, the first after them at learning_rate, then the
    control (here: learning_rates); use_learning_rate_control_always lets the control decide throughout."""
    assert _rates(pretrain_learning_rate=0.05) == [0.05, 0.05, 0.05, 1.0, 0.5]
    assert _rates() == [1.0, 1.0, 1.0, 1.0, 0.5]  # pretrain_learning_rate defaults to learning_rate
    assert _rates(pretrain_learning_rate=0.05, use_learning_rate_control_always=True) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert _rates(pretrain=None) == [0.1, 0.2, 0.3, 0.4, 0.5]
