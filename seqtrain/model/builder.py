"""How a model comes from the config: `get_model` + `train_step`, or a declarative net dict.

The engine talks to a `ModelBuilder` only, so the net-dict style (`network` / `get_network`) plugs in
as a second builder rather than as special cases in the loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable
from typing import Any, Protocol

import torch

from seqtrain.config import Config
from seqtrain.config.settings import ModelSettings, RunSettings
from seqtrain.data.loader import Batch
from seqtrain.errors import ConfigError
from seqtrain.model.context import ForwardContext, StepContext
from seqtrain.model.global_reg import GlobalRegularization


class ModelBuilder(Protocol):
    def build(self, *, epoch: int, step: int) -> torch.nn.Module:
        """A new model for this epoch (parameters initialized; the engine then loads/copies state)."""

    def architecture(self, epoch: int) -> Hashable:
        """Changes exactly when the model must be rebuilt between epochs (pretraining, pipelines)."""

    def epoch_config(self, epoch: int) -> dict[str, Any]:
        """Config overrides for this epoch (a net dict's `#config`)."""

    def train_step(self, *, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None: ...

    def forward_step(self, *, model: torch.nn.Module, batch: Batch, ctx: ForwardContext) -> None: ...


def call_with_accepted(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Calls a user function with the keyword arguments it declares (all of them if it takes **kwargs).

    Lets configs written for RETURNN (`get_model(*, epoch, step, **_kwargs)`) and minimal ones
    (`get_model(*, epoch)`) both work.
    """
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(**kwargs)
    return fn(**{k: v for k, v in kwargs.items() if k in params})


class FunctionModelBuilder:
    """The `get_model(*, epoch, config)` + `train_step(*, model, batch, ctx)` style."""

    def __init__(self, config: Config) -> None:
        self.config = config
        hooks = ModelSettings.from_config(config)
        self._get_model, self._train_step, self._forward_step = hooks.get_model, hooks.train_step, hooks.forward_step
        if self._train_step is None and RunSettings.from_config(config).task == "train":
            raise ConfigError("config defines get_model but no train_step(*, model, batch, ctx)")

    def build(self, *, epoch: int, step: int) -> torch.nn.Module:
        model = call_with_accepted(self._get_model, epoch=epoch, step=step, config=self.config)
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(f"get_model must return a torch.nn.Module, got {type(model).__name__}")
        return model

    def architecture(self, epoch: int) -> Hashable:
        return "get_model"

    def epoch_config(self, epoch: int) -> dict[str, Any]:
        return {}

    def train_step(self, *, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None:
        with GlobalRegularization.at(self.config, epoch=ctx.epoch, step=ctx.step).around_step(model, ctx):
            call_with_accepted(self._train_step, model=model, batch=batch, ctx=ctx, epoch=ctx.epoch, step=ctx.step)

    def forward_step(self, *, model: torch.nn.Module, batch: Batch, ctx: ForwardContext) -> None:
        if self._forward_step is None:
            raise ConfigError("this command needs forward_step(*, model, batch, ctx) in the config")
        call_with_accepted(self._forward_step, model=model, batch=batch, ctx=ctx, epoch=ctx.epoch)
