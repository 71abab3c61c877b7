"""RETURNN PyTorch-backend step functions, called as RETURNN calls them.

A RETURNN config defines `train_step(*, model, extern_data, **kwargs)` and marks losses with
`rf.get_run_ctx().mark_as_loss(...)` (`import returnn.frontend as rf`), and `forward_step(*, model,
extern_data)` with `mark_as_default_output`. Such a config already needs RETURNN installed (it imports it),
so here RETURNN's own objects are used, imported only on this path: the batch becomes RETURNN's
`TensorDict` (`returnn.torch.data.extern_data`, with the sequence lengths as dynamic dims), RETURNN's run
context is set up per step, and afterwards every loss it collected is handed to seqtrain's `StepContext`
with RETURNN's own summed value, normalization, scale and `as_error` — so the objective (RETURNN sums losses
unless `use_normalized_loss`) and the reported scores are RETURNN's. seqtrain itself never needs RETURNN.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from seqtrain.data.loader import Batch
from seqtrain.errors import ConfigError
from seqtrain.model.context import ForwardContext, StepContext

StepFn = Callable[..., Any]


def is_returnn_step(fn: StepFn | None) -> bool:
    """RETURNN's signature: an `extern_data` argument, no seqtrain `batch`/`ctx`."""
    if fn is None:
        return False
    params = inspect.signature(fn).parameters
    return "extern_data" in params and "batch" not in params and "ctx" not in params


def is_returnn_frontend_model(model: object) -> bool:
    """An `rf.Module` (RETURNN's own model class), told by its classes' modules so RETURNN need not be imported."""
    return not isinstance(model, torch.nn.Module) and any(
        cls.__module__.startswith("returnn.") for cls in type(model).__mro__
    )


def _returnn(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(
            "the config's train_step/forward_step take RETURNN's `extern_data`: that needs RETURNN "
            f"(`pip install returnn`; seqtrain itself does not): {e}"
        ) from e


def _extra_kwargs(fn: StepFn, compat: dict[str, Any]) -> dict[str, Any]:
    """RETURNN passes a randomly named keyword so that step functions keep `**kwargs`; only to those that do."""
    params = inspect.signature(fn).parameters.values()
    return compat if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params) else {}


class ReturnnSteps:
    """Builds RETURNN's `extern_data` from a seqtrain batch and moves RETURNN's run context into seqtrain's.

    Everything that does not change per step (the templates, how each function is called) is prepared
    here once: the per-step cost is then RETURNN's own, its TensorDict and its loss objects (half of
    those in the user's own `mark_as_loss` calls). Against the same step written seqtrain-style, on the
    CPU with a tiny Conv1d + Adam: +0.35-0.7 ms per step (x1.3 on a 1.2-2 ms step), half of it the TensorDict.
    """

    def __init__(
        self,
        extern_data: dict[str, dict[str, Any]] | None,
        model_outputs: dict[str, Any] | None,
        *,
        train_step: StepFn | None,
        forward_step: StepFn | None,
    ) -> None:
        if not extern_data:
            raise ConfigError(
                "a RETURNN-style train_step/forward_step(*, model, extern_data) needs `extern_data` (or "
                "num_inputs/num_outputs) in the config"
            )
        frontend_dims = [key for key, opts in extern_data.items() if "dims" in opts or "dim_tags" in opts]
        if frontend_dims:
            raise ConfigError(
                f"extern_data {frontend_dims} declares RETURNN-frontend `dims`: this is a RETURNN-frontend config "
                "(rf.Module models), which seqtrain does not support. seqtrain runs RETURNN's PyTorch style "
                "(get_model returning a torch.nn.Module, as in RETURNN's demo-torch.config): declare each "
                "extern_data key with 'dim' (and 'sparse': True for labels)"
            )
        self.rf = _returnn("returnn.frontend")
        self.rf.select_backend_torch()
        self._reset_run_ctx = _returnn("returnn.frontend.run_ctx").reset_run_ctx
        self._to_extern_data = _returnn("returnn.torch.data.extern_data").raw_dict_to_extern_data
        template_from_opts = _returnn("returnn.torch.data.extern_data").extern_data_template_from_config_opts
        compat = _returnn("returnn.util.basic").get_fwd_compat_kwargs()
        self.template = template_from_opts(extern_data)
        self.expected_outputs = None
        if model_outputs is not None:
            self.expected_outputs = _returnn("returnn.tensor").TensorDict()
            self.expected_outputs.update(model_outputs, auto_convert=True)
        self._train_fn, self._forward_fn = train_step, forward_step
        self._train_kwargs = _extra_kwargs(train_step, compat) if train_step is not None else {}
        self._forward_kwargs = _extra_kwargs(forward_step, compat) if forward_step is not None else {}

    def extern_data(self, batch: Batch, device: torch.device, *, with_targets: bool) -> Any:
        """RETURNN's TensorDict for this batch; without targets (forward), keys unavailable for inference drop out."""
        raw: dict[str, Any] = {"seq_tag": np.array(batch.seq_tags)}
        for key, template in self.template.data.items():
            if key == "seq_tag" or (not with_targets and not template.available_for_inference):
                continue
            if key not in batch.data:
                raise ConfigError(
                    f"extern_data key {key!r} is not in the batch (the dataset gives {sorted(batch.data)}); "
                    + ("remove it from extern_data" if with_targets else "mark it 'available_for_inference': False")
                )
            raw[key] = batch.data[key]
            if key in batch.lengths:
                raw[f"{key}:seq_len"] = batch.lengths[key]  # int32 on the CPU, as RETURNN's collate gives them
        return self._to_extern_data(
            raw, extern_data_template=self.template, device=device, with_eval_targets=with_targets
        )

    def train_step(self, *, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None:
        """RETURNN's `_run_step(train_func=True)`, then its losses into `ctx` as RETURNN's engine reads them."""
        assert self._train_fn is not None
        device = _device_of(model, batch)
        extern_data = self.extern_data(batch, device, with_targets=True)
        self.rf.init_train_step_run_ctx(train_flag=ctx.train, step=ctx.step, epoch=ctx.epoch)
        try:
            with self.rf.set_default_device_ctx(str(device)):  # as RETURNN's engine runs a step: rf's tensors there
                self._train_fn(model=model, extern_data=extern_data, **self._train_kwargs)
            for name, loss in self.rf.get_run_ctx().losses.items():
                ctx.mark_as_loss(
                    name,
                    loss.get_summed_loss().raw_tensor,
                    scale=float(loss.scale),
                    as_error=bool(loss.as_error),
                    custom_inv_norm_factor=_raw(loss.get_inv_norm_factor()),
                    use_normalized_loss=bool(loss.use_normalized_loss),
                )
        finally:
            self._reset_run_ctx()  # no step's tensors stay referenced by RETURNN's global run context

    def forward_step(self, *, model: torch.nn.Module, batch: Batch, ctx: ForwardContext) -> None:
        """RETURNN's `_run_step(train_func=False)`; each marked output with the lengths of its second dim."""
        assert self._forward_fn is not None
        device = _device_of(model, batch)
        extern_data = self.extern_data(batch, device, with_targets=False)
        if self.expected_outputs is not None:
            self.expected_outputs.reset_content()  # dynamic dims of the previous batch
        self.rf.init_forward_step_run_ctx(expected_outputs=self.expected_outputs, step=0, epoch=ctx.epoch)
        try:
            with self.rf.set_default_device_ctx(str(device)):
                self._forward_fn(model=model, extern_data=extern_data, **self._forward_kwargs)
            run_ctx = self.rf.get_run_ctx()
            if self.expected_outputs is not None and set(run_ctx.outputs.data) != set(self.expected_outputs.data):
                raise ConfigError(
                    f"forward_step marked the outputs {sorted(run_ctx.outputs.data)}, model_outputs declares "
                    f"{sorted(self.expected_outputs.data)}: mark each (rf.get_run_ctx().mark_as_output / "
                    "mark_as_default_output for 'output') or change model_outputs"
                )
            for name, out in run_ctx.outputs.data.items():
                lengths = None
                if len(out.dims) >= 2 and out.dims[1].dyn_size_ext is not None:
                    lengths = _raw(out.dims[1].dyn_size_ext)
                ctx.mark_as_output(name, out.raw_tensor, lengths=lengths)
        finally:
            self._reset_run_ctx()


def _device_of(model: torch.nn.Module, batch: Batch) -> torch.device:
    """Where the model is (the loop has moved the batch there already); a model without parameters: the batch's."""
    first = next(itertools.chain(model.parameters(), model.buffers(), batch.data.values()), None)
    return first.device if first is not None else torch.device("cpu")


def _raw(value: Any) -> Any:
    return getattr(value, "raw_tensor", value)
