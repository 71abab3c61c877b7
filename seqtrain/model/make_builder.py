"""Which model builder a config gets: a pipeline's (one builder per training stage), `get_model`, or a net dict."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import torch

from seqtrain.config import Config
from seqtrain.config.settings import ModelSettings, PipelineSettings
from seqtrain.data.loader import Batch
from seqtrain.errors import ConfigError
from seqtrain.model.builder import FunctionModelBuilder, ModelBuilder
from seqtrain.model.context import ForwardContext, StepContext
from seqtrain.model.net_dict_builder import NetDictModelBuilder
from seqtrain.model.pipeline_stages import MODEL_KEYS, TrainStage, pipeline_of


def make_model_builder(config: Config) -> ModelBuilder:
    model = ModelSettings.from_config(config)
    if PipelineSettings.from_config(config).pipeline is not None:  # each training stage defines its own model
        return PipelineModelBuilder(config)
    if model.get_model is not None:
        if model.network is not None or model.get_network is not None:
            raise ConfigError("config defines both get_model and a net dict (network/get_network); pick one")
        return FunctionModelBuilder(config)
    if model.network is not None or model.get_network is not None:
        return NetDictModelBuilder(config)
    raise ConfigError("config defines no model: give get_model + train_step, or network / get_network")


class PipelineModelBuilder:
    """The model of each epoch comes from its stage's config; a new stage is a new architecture (rebuild)."""

    def __init__(self, config: Config) -> None:
        pipeline = pipeline_of(config)
        assert pipeline is not None
        self.config = config
        self.pipeline = pipeline
        self._builders: dict[int, ModelBuilder] = {}

    def stage_builder(self, epoch: int) -> tuple[TrainStage, ModelBuilder]:
        stage = self.pipeline.stage_for_epoch(epoch)
        if stage.index not in self._builders:
            stage_config = self.pipeline.stage_config(self.config, stage).with_values({"pipeline": None})
            try:
                self._builders[stage.index] = make_model_builder(stage_config)
            except ConfigError as e:
                raise ConfigError(f"pipeline stage {stage.name!r}: {e}") from None
        return stage, self._builders[stage.index]

    def build(self, *, epoch: int, step: int) -> torch.nn.Module:
        return self.stage_builder(epoch)[1].build(epoch=epoch, step=step)

    def architecture(self, epoch: int) -> Hashable:
        stage, builder = self.stage_builder(epoch)
        return (stage.name, builder.architecture(epoch))

    def epoch_config(self, epoch: int) -> dict[str, Any]:
        stage, builder = self.stage_builder(epoch)
        plain = {k: v for k, v in stage.overrides.items() if k not in MODEL_KEYS}
        return {**plain, **builder.epoch_config(epoch)}

    def net_spec(self, epoch: int) -> Any:
        net_spec = getattr(self.stage_builder(epoch)[1], "net_spec", None)
        return net_spec(epoch) if callable(net_spec) else None

    def train_step(self, *, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None:
        self.stage_builder(ctx.epoch)[1].train_step(model=model, batch=batch, ctx=ctx)

    def forward_step(self, *, model: torch.nn.Module, batch: Batch, ctx: ForwardContext) -> None:
        self.stage_builder(ctx.epoch)[1].forward_step(model=model, batch=batch, ctx=ctx)
