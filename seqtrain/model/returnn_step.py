"""RETURNN PyTorch-backend step functions, called as RETURNN calls them.

A RETURNN config defines `train_step(*, model, extern_data, **kwargs)` and marks losses with
`rf.get_run_ctx().mark_as_loss(...)` (`import returnn.frontend as rf`), and `forward_step(*, model,
extern_data)` with `mark_as_default_output`. Such a config already needs RETURNN installed (it imports it),
so here RETURNN's own objects are used, imported only on this path: the batch becomes RETURNN's
`TensorDict` (`returnn.torch.data.extern_data`, with the sequence lengths as dynamic dims), RETURNN's run
context is set up per step, and afterwards every loss it collected is handed to seqtrain's `StepContext`
with its summed value, normalization, scale and `as_error` — so the objective (RETURNN sums losses unless
`use_normalized_loss`) and the reported scores are RETURNN's. seqtrain itself never needs RETURNN.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from seqtrain.data.loader import Batch
from seqtrain.errors import ConfigError
from seqtrain.model.context import ForwardContext, StepContext
from seqtrain.model.user_call import call_with_accepted


def is_returnn_step(fn: Callable[..., Any] | None) -> bool:
    """RETURNN's signature: an `extern_data` argument, no seqtrain `batch`/`ctx`."""
    if fn is None:
        return False
    params = inspect.signature(fn).parameters
    return "extern_data" in params and "batch" not in params and "ctx" not in params


def _returnn(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(
            "the config's train_step/forward_step take RETURNN's `extern_data`: that needs RETURNN "
            f"(`pip install returnn`; seqtrain itself does not): {e}"
        ) from e


class ReturnnSteps:
    """Builds RETURNN's `extern_data` from a seqtrain batch and moves RETURNN's run context into seqtrain's."""

    def __init__(self, extern_data: dict[str, dict[str, Any]] | None, model_outputs: dict[str, Any] | None) -> None:
        if not extern_data:
            raise ConfigError("a RETURNN-style train_step(*, model, extern_data) needs `extern_data` in the config")
        frontend_dims = [key for key, opts in extern_data.items() if "dims" in opts or "dim_tags" in opts]
        if frontend_dims:
            raise ConfigError(
                f"extern_data {frontend_dims}: RETURNN-frontend `dims` are not supported by seqtrain; declare "
                "each key with 'dim' (and 'sparse': True for labels), as RETURNN's PyTorch demo does"
            )
        self.rf = _returnn("returnn.frontend")
        self.rf.select_backend_torch()
        self._extern = _returnn("returnn.torch.data.extern_data")
        self._fwd_compat = _returnn("returnn.util.basic").get_fwd_compat_kwargs
        self._tensor = _returnn("returnn.tensor")
        self.template = self._extern.extern_data_template_from_config_opts(extern_data)
        self.model_outputs = model_outputs

    def extern_data(self, batch: Batch, device: torch.device, *, with_targets: bool) -> Any:
        raw: dict[str, Any] = {"seq_tag": np.array(batch.seq_tags)}
        for key in self.template.data:
            if key == "seq_tag":
                continue
            if key not in batch.data:
                if not with_targets:
                    continue
                raise ConfigError(f"extern_data key {key!r} is not in the batch (it has {sorted(batch.data)})")
            raw[key] = batch.data[key]
            if key in batch.lengths:
                raw[f"{key}:seq_len"] = batch.lengths[key].to("cpu", torch.int32)
        return self._extern.raw_dict_to_extern_data(
            raw, extern_data_template=self.template, device=device, with_eval_targets=with_targets
        )

    def train_step(self, fn: Callable[..., Any], *, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None:
        device = next(model.parameters()).device
        extern_data = self.extern_data(batch, device, with_targets=True)
        self.rf.init_train_step_run_ctx(train_flag=ctx.train, step=ctx.step, epoch=ctx.epoch)
        call_with_accepted(fn, model=model, extern_data=extern_data, **self._fwd_compat())
        for name, loss in self.rf.get_run_ctx().losses.items():
            ctx.mark_as_loss(
                name,
                loss.get_summed_loss().raw_tensor,
                scale=float(loss.scale),
                as_error=bool(loss.as_error),
                custom_inv_norm_factor=_raw(loss.get_inv_norm_factor()),
                use_normalized_loss=bool(loss.use_normalized_loss),
            )

    def forward_step(
        self, fn: Callable[..., Any], *, model: torch.nn.Module, batch: Batch, ctx: ForwardContext
    ) -> None:
        device = next(model.parameters()).device
        extern_data = self.extern_data(batch, device, with_targets=False)
        expected = None
        if self.model_outputs is not None:
            expected = self._tensor.TensorDict()
            expected.update(self.model_outputs, auto_convert=True)
        self.rf.init_forward_step_run_ctx(expected_outputs=expected, step=0, epoch=ctx.epoch)
        call_with_accepted(fn, model=model, extern_data=extern_data, **self._fwd_compat())
        for name, out in self.rf.get_run_ctx().outputs.data.items():
            lengths = None
            if len(out.dims) >= 2 and out.dims[1].dyn_size_ext is not None:
                lengths = _raw(out.dims[1].dyn_size_ext)
            ctx.mark_as_output(name, out.raw_tensor, lengths=lengths)


def _raw(value: Any) -> Any:
    return getattr(value, "raw_tensor", value)
