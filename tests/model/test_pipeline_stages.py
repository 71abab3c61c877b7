"""Parsing a `pipeline`: stages, their epochs and configs, and the model of each epoch."""

from __future__ import annotations

from typing import Any

import pytest

from seqtrain.config import Config
from seqtrain.errors import ConfigError
from seqtrain.model.make_builder import PipelineModelBuilder
from seqtrain.model.pipeline_stages import ActionStage, Pipeline, TrainStage, with_pipeline_epochs
from tests.nn.helpers import EXTERN_DATA

NET = {"output": {"class": "softmax", "from": "data", "n_out": 6, "loss": "ctc", "target": "classes"}}
BIGGER = {
    "lstm": {"class": "blstm", "from": "data", "n_out": 4},
    "output": {"class": "softmax", "from": "lstm", "n_out": 6, "loss": "ctc", "target": "classes"},
}
STAGES: list[dict[str, Any]] = [
    {"name": "ali0", "action": "align", "mode": "linear", "data": {"train": "a.hdf"}},
    {"name": "one", "epochs": 2, "config": {"network": NET, "gradient_clip": 1.0}},
    {"name": "realign", "action": "align", "data": {"train": "b.hdf"}, "compare_to": {"train": "a.hdf"}},
    {"name": "dev_wer", "action": "recog", "config": {"recog_decoder": "hmm_greedy"}},
    {"name": "two", "epochs": 3, "config": {"network": BIGGER, "copy_param_mode": "ifpossible"}},
]


def _config(**values: Any) -> Config:
    return Config.from_dict({"extern_data": EXTERN_DATA, "model": "exp/x/model", "pipeline": STAGES, **values})


def test_epochs_count_through_the_training_stages() -> None:
    pipeline = Pipeline(STAGES, _config())
    assert [(s.name, s.first_epoch, s.last_epoch) for s in pipeline.train_stages] == [("one", 1, 2), ("two", 3, 5)]
    assert [(a.name, a.after_epoch, a.model_epoch) for a in pipeline.actions] == [
        ("ali0", 0, None),
        ("realign", 2, 2),
        ("dev_wer", 2, 2),
    ]
    assert [pipeline.stage_for_epoch(e).name for e in (1, 2, 3, 5, 9)] == ["one", "one", "two", "two", "two"]
    realign = pipeline.actions[1]
    assert isinstance(realign, ActionStage) and isinstance(realign.previous_stage, TrainStage)
    assert pipeline.action_config(_config(), pipeline.actions[2]).get("recog_decoder") == "hmm_greedy"
    assert pipeline.action_config(_config(), pipeline.actions[2]).get("gradient_clip") == 1.0  # from stage "one"
    assert with_pipeline_epochs(_config()).get("num_epochs") == 5
    assert with_pipeline_epochs(_config(num_epochs=3)).get("num_epochs") == 3  # stop early
    with pytest.raises(ConfigError, match="num_epochs=6 but the pipeline's training stages have 5 epochs"):
        with_pipeline_epochs(_config(num_epochs=6))


def test_each_stage_builds_its_own_model() -> None:
    builder = PipelineModelBuilder(_config())
    assert [type(builder.build(epoch=e, step=0).layer("output")).__name__ for e in (1, 3)] == ["SoftmaxLayer"] * 2
    assert "lstm" in dict(builder.build(epoch=3, step=0).named_children())
    assert builder.architecture(1) == builder.architecture(2) != builder.architecture(3)
    assert builder.epoch_config(1) == {"gradient_clip": 1.0}  # the model keys are the builder's business
    assert builder.epoch_config(4) == {"copy_param_mode": "ifpossible"}
    assert builder.net_spec(3).layers["lstm"].kwargs == {"n_out": 4}


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "non-empty list"),
        ([{"epochs": 1}], "needs a 'name'"),
        ([{"name": "a b", "epochs": 1}], "needs a 'name'"),
        ([{"name": "a", "epochs": 1}, {"name": "a", "epochs": 1}], "used twice"),
        ([{"name": "a", "epochs": 0}], "epochs=0"),
        ([{"name": "a", "epochs": 1, "confg": {}}], "unknown \\['confg'\\]"),
        ([{"name": "a", "epochs": 1, "config": {"model": "y"}}], "apply to the whole run"),
        ([{"name": "a", "epochs": 1, "config": {"learning_rte": 1.0}}], "stage 'a': unknown config key 'learning_rte'"),
        ([{"name": "a", "action": "dump"}, {"name": "b", "epochs": 1}], "action must be one of"),
        ([{"name": "a", "action": "recog"}, {"name": "b", "epochs": 1}], "needs a trained model"),
        ([{"name": "a", "action": "align", "data": {"train": "x"}}, {"name": "b", "epochs": 1}], "only mode='linear'"),
        ([{"name": "b", "epochs": 1}, {"name": "a", "action": "align"}], "align needs 'data'"),
        ([{"name": "b", "epochs": 1}, {"name": "a", "action": "recog", "epoch": 3}], "trained epoch 1..1"),
        ([{"name": "b", "epochs": 1}, {"name": "a", "action": "recog", "mode": "x"}], "unknown entries \\['mode'\\]"),
        ([{"name": "a", "action": "align", "mode": "linear", "data": {"train": "x"}}], "no training stage"),
    ],
)
def test_mistakes_are_named(stages: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Pipeline(stages, _config())


def test_pipeline_and_pretrain_exclude_each_other() -> None:
    with pytest.raises(ConfigError, match="pretrain and pipeline cannot be combined"):
        with_pipeline_epochs(_config(pretrain="default"))
