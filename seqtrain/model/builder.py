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
from seqtrain.config.settings import DataSettings, ModelSettings, RunSettings
from seqtrain.data.loader import Batch
from seqtrain.errors import ConfigError
from seqtrain.model.context import ForwardContext, StepContext
from seqtrain.model.global_reg import GlobalRegularization
from seqtrain.model.returnn_step import ReturnnSteps, is_returnn_frontend_model, is_returnn_step
from seqtrain.model.user_call import call_with_accepted


class ModelBuilder(Protocol):
    def build(self, *, epoch: int, step: int) -> torch.nn.Module:
        """A new model for this epoch (parameters initialized; the engine then loads/copies state)."""

    def architecture(self, epoch: int) -> Hashable:
        """Changes exactly when the model must be rebuilt between epochs (pretraining, pipelines)."""

    def epoch_config(self, epoch: int) -> dict[str, Any]:
        """Config overrides for this epoch (a net dict's `#config`)."""

    def train_step(self, *, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None: ...

    def forward_step(self, *, model: torch.nn.Module, batch: Batch, ctx: ForwardContext) -> None: ...


class FunctionModelBuilder:
    """The `get_model(*, epoch, config)` + `train_step(*, model, batch, ctx)` style."""

    def __init__(self, config: Config) -> None:
        self.config = config
        hooks = ModelSettings.from_config(config)
        self._get_model, self._train_step, self._forward_step = hooks.get_model, hooks.train_step, hooks.forward_step
        if self._train_step is None and RunSettings.from_config(config).task == "train":
            raise ConfigError(
                "config defines get_model but no train_step(*, model, batch, ctx) (or RETURNN's "
                "train_step(*, model, extern_data, **kwargs))"
            )
        for hook in (self._train_step, self._forward_step):
            _check_step_signature(hook)
        returnn_train, returnn_forward = is_returnn_step(self._train_step), is_returnn_step(self._forward_step)
        returnn: ReturnnSteps | None = None
        if returnn_train or returnn_forward:  # RETURNN's PyTorch style: (*, model, extern_data)
            returnn = ReturnnSteps(
                DataSettings.from_config(config).extern_data,
                hooks.model_outputs,
                train_step=self._train_step if returnn_train else None,
                forward_step=self._forward_step if returnn_forward else None,
            )
        self._returnn_train = returnn if returnn_train else None
        self._returnn_forward = returnn if returnn_forward else None

    def build(self, *, epoch: int, step: int) -> torch.nn.Module:
        model = call_with_accepted(self._get_model, epoch=epoch, step=step, config=self.config)
        if is_returnn_frontend_model(model):
            raise ConfigError(
                f"get_model returned a RETURNN-frontend model ({type(model).__name__}, an rf.Module); RETURNN-frontend "
                "models are not supported: seqtrain trains torch.nn.Module models only (RETURNN's PyTorch style, "
                "get_model returning a torch module as in RETURNN's demo-torch.config)"
            )
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(f"get_model must return a torch.nn.Module, got {type(model).__name__}")
        return model

    def architecture(self, epoch: int) -> Hashable:
        return "get_model"

    def epoch_config(self, epoch: int) -> dict[str, Any]:
        return {}

    def train_step(self, *, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None:
        with GlobalRegularization.at(self.config, epoch=ctx.epoch, step=ctx.step).around_step(model, ctx):
            if self._returnn_train is not None:
                self._returnn_train.train_step(model=model, batch=batch, ctx=ctx)
                return
            call_with_accepted(self._train_step, model=model, batch=batch, ctx=ctx, epoch=ctx.epoch, step=ctx.step)

    def forward_step(self, *, model: torch.nn.Module, batch: Batch, ctx: ForwardContext) -> None:
        if self._forward_step is None:
            raise ConfigError("this command needs forward_step(*, model, batch, ctx) in the config")
        if self._returnn_forward is not None:
            self._returnn_forward.forward_step(model=model, batch=batch, ctx=ctx)
            return
        call_with_accepted(self._forward_step, model=model, batch=batch, ctx=ctx, epoch=ctx.epoch)


def _check_step_signature(fn: Callable[..., Any] | None) -> None:
    """A step function takes seqtrain's (model, batch, ctx) or RETURNN's (model, extern_data), by keyword."""
    if fn is None:
        return
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    required = [n for n, p in params.items() if p.default is inspect.Parameter.empty and p.kind not in
                (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]  # fmt: skip
    known = {"model", "batch", "ctx", "extern_data", "epoch", "step"}
    unknown = [n for n in required if n not in known]
    if "extern_data" in required and {"batch", "ctx"} & set(params):
        raise ConfigError(
            f"{fn.__name__}{inspect.signature(fn)}: takes both RETURNN's `extern_data` and seqtrain's batch/ctx; "
            "a step function takes (*, model, batch, ctx) (seqtrain) or (*, model, extern_data, **kwargs) (RETURNN)"
        )
    if unknown or not (takes_any or {"model"} <= set(params)):
        raise ConfigError(
            f"{fn.__name__}{inspect.signature(fn)}: a step function takes (*, model, batch, ctx) (seqtrain) or "
            f"(*, model, extern_data, **kwargs) (RETURNN's PyTorch style)"
            + (f"; it requires unknown arguments {unknown}" if unknown else "")
        )
