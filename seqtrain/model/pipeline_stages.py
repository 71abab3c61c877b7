"""Multi-stage training in one config: training stages and actions (align, recog, your function) in order.

    pipeline = [
        {"name": "linear", "action": "align", "mode": "linear", "data": {"train": "ali0.train.hdf", ...}},
        {"name": "ce1", "epochs": 4, "config": {"train": _meta("ali0.train.hdf"), "network": _net(2)}},
        {"name": "realign1", "action": "align", "mode": "hmm", "data": {...}, "compare_to": {...}},
        {"name": "recog1", "action": "recog", "data": "dev"},
        {"name": "ce2", "epochs": 4, "config": {"train": _meta("ali1.train.hdf"), "network": _net(3)}},
    ]

Epochs count through the training stages (ce1 = epochs 1-4, ce2 = epochs 5-8), so checkpoints, the
scores file and learning-rate control are those of one run. A stage's `config` overrides keys for its
epochs: data (`train`, `dev`, `eval_datasets`, `extern_data`: the engine rebuilds the datasets), the
model (`network`, `get_network`, `get_model` + `train_step` + `forward_step`) and anything else. Every
stage boundary rebuilds the model (with the stage's optimizer) and carries parameters over by name
(`copy_param_mode`, `copy_param_map`, ... may be set per stage, see `seqtrain.model.param_transfer`).

An action runs as soon as the epochs before it are trained, with the model of the last of them, and
the config of the training stage before it plus its own `config`; `seqtrain.pipeline.actions`
runs it and writes a completion marker, so a finished action is never redone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtrain.checkpoint.run_files import RunFiles
from seqtrain.config import Config
from seqtrain.config.settings import PipelineSettings, PretrainSettings, RunSettings
from seqtrain.errors import ConfigError

ACTIONS = ("align", "recog")
ACTION_OPTIONS = {
    "align": {"data", "mode", "compare_to", "epoch"},
    "recog": {"data", "epoch"},
}
RUN_LEVEL_KEYS = {"model", "pipeline", "pretrain", "num_epochs", "task", "learning_rate_file", "torch_distributed"}
MODEL_KEYS = ("network", "get_network", "get_model", "train_step", "forward_step")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class TrainStage:
    name: str
    index: int
    first_epoch: int
    last_epoch: int
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionStage:
    """`after_epoch`: the last epoch trained before it (0: before any training); `model_epoch`: the model it uses."""

    name: str
    index: int
    kind: str | Callable[..., Any]
    after_epoch: int
    model_epoch: int | None
    options: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    previous_stage: TrainStage | None = None

    @property
    def kind_name(self) -> str:
        return self.kind if isinstance(self.kind, str) else getattr(self.kind, "__qualname__", "function")


def _check_overrides(where: str, overrides: Any, base: Config) -> dict[str, Any]:
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where}: 'config' must be a dict of config keys, got {type(overrides).__name__}")
    fixed = sorted(RUN_LEVEL_KEYS & set(overrides))
    if fixed:
        raise ConfigError(f"{where}: {fixed} apply to the whole run and cannot be set per stage")
    try:
        base.with_values(overrides)  # every key declared, every value of its type
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return dict(overrides)


def _action_stage(
    spec: dict[str, Any], where: str, index: int, epoch: int, previous: TrainStage | None, base: Config
) -> ActionStage:
    kind = spec["action"]
    if not (callable(kind) or kind in ACTIONS):
        raise ConfigError(f"{where}: action must be one of {list(ACTIONS)} or a function, got {kind!r}")
    allowed = {"name", "action", "config"} | (ACTION_OPTIONS[kind] if isinstance(kind, str) else set())
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown entries {unknown}; allowed: {sorted(allowed)}")
    model_epoch = spec.get("epoch", epoch if epoch > 0 else None)
    if model_epoch is not None and not (isinstance(model_epoch, int) and 1 <= model_epoch <= max(epoch, 1)):
        raise ConfigError(f"{where}: 'epoch' must be a trained epoch 1..{epoch}, got {model_epoch!r}")
    options = {k: v for k, v in spec.items() if k in ACTION_OPTIONS.get(kind, set()) and k != "epoch"}
    if kind == "recog" and model_epoch is None:
        raise ConfigError(f"{where}: recog needs a trained model; put it after a training stage")
    if kind == "align":
        if not isinstance(options.get("data"), dict) or not options["data"]:
            raise ConfigError(f"{where}: align needs 'data': {{dataset name: output HDF path}}, e.g. {{'train': ...}}")
        if model_epoch is None and options.get("mode") != "linear":
            raise ConfigError(f"{where}: before any training only mode='linear' alignment is possible")
    if kind == "recog" and not isinstance(options.get("data", "dev"), (str, list)):
        raise ConfigError(f"{where}: recog 'data' is a dataset name or a list of them")
    overrides = _check_overrides(where, spec.get("config", {}), base)
    return ActionStage(spec["name"], index, kind, epoch, model_epoch, options, overrides, previous)


class Pipeline:
    """The parsed `pipeline` key: stages in order, with the epochs of each training stage."""

    def __init__(self, value: Any, base: Config) -> None:
        if not isinstance(value, list) or not value:
            raise ConfigError("pipeline must be a non-empty list of stage dicts")
        self.stages: list[TrainStage | ActionStage] = []
        epoch = 0
        previous: TrainStage | None = None
        names: set[str] = set()
        for index, spec in enumerate(value):
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not _NAME.match(spec["name"]):
                raise ConfigError(f"pipeline[{index}]: needs a 'name' of letters, digits, '_', '.', '-', got {spec!r}")
            where = f"pipeline stage {spec['name']!r}"
            if spec["name"] in names:
                raise ConfigError(f"{where}: the name is used twice; stage names must be unique")
            names.add(spec["name"])
            if "action" in spec:
                self.stages.append(_action_stage(spec, where, index, epoch, previous, base))
                continue
            unknown = sorted(set(spec) - {"name", "epochs", "config"})
            epochs = spec.get("epochs")
            if unknown or not isinstance(epochs, int) or epochs < 1:
                raise ConfigError(
                    f"{where}: a training stage is {{'name', 'epochs': N >= 1, 'config': {{...}}}} "
                    f"(or an action with 'action'); got epochs={epochs!r}" + (f", unknown {unknown}" if unknown else "")
                )
            overrides = _check_overrides(where, spec.get("config", {}), base)
            previous = TrainStage(spec["name"], index, epoch + 1, epoch + epochs, overrides)
            self.stages.append(previous)
            epoch += epochs
        if not self.train_stages:
            raise ConfigError("pipeline has no training stage ({'name': ..., 'epochs': N, 'config': {...}})")

    @property
    def train_stages(self) -> list[TrainStage]:
        return [s for s in self.stages if isinstance(s, TrainStage)]

    @property
    def actions(self) -> list[ActionStage]:
        return [s for s in self.stages if isinstance(s, ActionStage)]

    @property
    def num_epochs(self) -> int:
        return self.train_stages[-1].last_epoch

    def stage_for_epoch(self, epoch: int) -> TrainStage:
        """The training stage of `epoch`; the last one for epochs after the pipeline."""
        for stage in self.train_stages:
            if epoch <= stage.last_epoch:
                return stage
        return self.train_stages[-1]

    def stage_config(self, config: Config, stage: TrainStage) -> Config:
        return config.with_values(stage.overrides)

    def action_config(self, config: Config, action: ActionStage) -> Config:
        previous = action.previous_stage.overrides if action.previous_stage is not None else {}
        return config.with_values({**previous, **action.overrides})


def pipeline_of(config: Config) -> Pipeline | None:
    value = PipelineSettings.from_config(config).pipeline
    return None if value is None else Pipeline(value, config)


def with_pipeline_epochs(config: Config) -> Config:
    """A pipeline's run trains its stages' epochs: `num_epochs` defaults to their sum and may only stop earlier."""
    pipeline = pipeline_of(config)
    if pipeline is None:
        return config
    if PretrainSettings.from_config(config).pretrain is not None:
        raise ConfigError("pretrain and pipeline cannot be combined; grow a stage's net with its get_network(epoch)")
    if not config.is_set("num_epochs"):
        return config.with_values({"num_epochs": pipeline.num_epochs})
    num_epochs = RunSettings.from_config(config).num_epochs
    if num_epochs > pipeline.num_epochs:
        raise ConfigError(
            f"num_epochs={num_epochs} but the pipeline's training stages have {pipeline.num_epochs} "
            "epochs; add epochs to a stage instead (num_epochs may only stop the pipeline earlier)"
        )
    return config


def config_for_command(config: Config, epoch: int | None) -> tuple[Config, int | None]:
    """`seqtrain recog/align CONFIG [--epoch N]` on a pipeline: the config of epoch N's training stage
    (default N: the last finished epoch), command-line overrides still winning; unchanged without a pipeline."""
    pipeline = pipeline_of(config)
    if pipeline is None:
        return config, epoch
    prefix = RunSettings.from_config(config).model
    if epoch is None and prefix:
        finished = [r.epoch for r in RunFiles(Path(prefix)).checkpoints() if r.complete]
        epoch = finished[-1] if finished else None
    if epoch is None:
        return config, None
    stage = pipeline.stage_for_epoch(epoch)
    return pipeline.stage_config(config, stage).with_values(config.overrides), epoch
