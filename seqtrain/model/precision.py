"""Mixed precision (RETURNN's `torch_amp` and `grad_scaler`): autocast for forward and losses, loss scaling.

Parameters, gradients and optimizer state stay float32; `torch.autocast` runs the ops that profit from it
(matmuls, convolutions, RNNs, attention) in bfloat16 or float16 and keeps the sensitive ones (softmax,
losses, reductions) in float32. float16's small range needs loss scaling: the objective is multiplied
before backward so small gradients do not flush to zero, the gradients are unscaled before anything
looks at them (norm, noise, clipping), and an update whose gradients overflowed is skipped and the scale
lowered. bfloat16 has float32's range and needs no scaling, but as in RETURNN a GradScaler is used
whenever `torch_amp` is set unless `grad_scaler = None`.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
from dataclasses import dataclass
from typing import Any

import torch

from seqtrain.config import Config
from seqtrain.config.settings import PrecisionSettings
from seqtrain.errors import ConfigError

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
_AMP_OPTIONS = ("dtype", "grad_scaler")
_SCALER_OPTIONS = tuple(p for p in inspect.signature(torch.amp.GradScaler).parameters if p != "device")


def _close(name: str, known: tuple[str, ...]) -> str:
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else f" (known: {', '.join(known)})"


def _dtype(value: object) -> torch.dtype | None:
    if value is None:  # the device's autocast default: float16 on CUDA, bfloat16 on CPU
        return None
    if isinstance(value, torch.dtype) and value in _DTYPES.values():
        return value
    if isinstance(value, str) and value in _DTYPES:
        return _DTYPES[value]
    raise ConfigError(f"torch_amp: dtype must be 'bfloat16' or 'float16', got {value!r}")


def _scaler_options(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"grad_scaler must be a dict of torch.amp.GradScaler options or None, got {value!r}")
    for name in value:
        if name not in _SCALER_OPTIONS:
            raise ConfigError(f"grad_scaler: unknown option {name!r}{_close(name, _SCALER_OPTIONS)}")
    backoff = value.get("backoff_factor", 0.5)
    if not isinstance(backoff, int | float) or not 0 < backoff < 1:
        raise ConfigError(
            f"grad_scaler: backoff_factor must be in (0, 1) (a skipped step lowers the scale), got {backoff!r}"
        )
    return dict(value)


@dataclass(frozen=True)
class Precision:
    """How forward and backward compute: float32 (`dtype is None and not amp`) or autocast to `dtype`."""

    amp: bool = False
    dtype: torch.dtype | None = None  # None with amp: the device's autocast default
    grad_scaler: dict[str, Any] | None = None  # GradScaler options; None = no loss scaling
    in_eval: bool = True  # autocast also when evaluating, decoding, aligning

    @classmethod
    def from_config(cls, config: Config) -> Precision:
        """Checks `torch_amp`, `grad_scaler` and `torch_amp_eval` together (RETURNN's precedence: the
        dict's `grad_scaler` wins over the top-level key, which defaults to {} when AMP is on)."""
        settings = PrecisionSettings.from_config(config)
        amp, scaler_value = settings.torch_amp, settings.grad_scaler
        scaler_set = config.is_set("grad_scaler")  # given (even as None) or the default
        dtype = None
        if isinstance(amp, dict):
            for name in amp:
                if name not in _AMP_OPTIONS:
                    raise ConfigError(f"torch_amp: unknown option {name!r}{_close(name, _AMP_OPTIONS)}")
            dtype = _dtype(amp.get("dtype"))
            if "grad_scaler" in amp:
                scaler_value, scaler_set = amp["grad_scaler"], True
        elif amp is not None:
            dtype = _dtype(amp)
        if not scaler_set:
            scaler_value = {} if amp is not None else None
        return cls(
            amp=amp is not None,
            dtype=dtype,
            grad_scaler=_scaler_options(scaler_value),
            in_eval=settings.torch_amp_eval,
        )

    def autocast(self, device: torch.device, *, train: bool = True) -> contextlib.AbstractContextManager[None]:
        """The context forward and losses run in; a no-op in float32 (and in eval with torch_amp_eval=False)."""
        if not self.amp or (not train and not self.in_eval):
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)

    def describe(self, device: torch.device) -> str:
        scaler = "no GradScaler" if self.grad_scaler is None else f"GradScaler {self.grad_scaler or 'defaults'}"
        if not self.amp:  # RETURNN also scales without autocast when grad_scaler is given
            return "float32" if self.grad_scaler is None else f"float32 ({scaler})"
        dtype = self.dtype or torch.get_autocast_dtype(device.type)
        eval_note = ", float32 in eval" if not self.in_eval else ""
        return f"autocast {str(dtype).removeprefix('torch.')} ({scaler}{eval_note})"


class LossScaler:
    """A GradScaler, or nothing; counts the updates it skipped because the gradients were not finite."""

    def __init__(self, options: dict[str, Any] | None, device: torch.device) -> None:
        self.scaler = torch.amp.GradScaler(device.type, **options) if options is not None else None
        self.skipped_updates = 0  # of the current epoch; reset by the loop

    def scale(self, objective: torch.Tensor) -> torch.Tensor:
        return objective if self.scaler is None else self.scaler.scale(objective)

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """True gradients from here on: called once per update, before they are measured or clipped."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """The optimizer step, unless the scaler found inf/nan gradients; True when the parameters were updated."""
        if self.scaler is None:
            optimizer.step()
            return True
        scale = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        skipped = self.scaler.get_scale() < scale  # update() lowers the scale exactly when it skipped the step
        self.skipped_updates += int(skipped)
        return not skipped

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """A checkpoint without scaler state (written in float32) leaves the scaler at its initial scale."""
        if self.scaler is None or not state:
            return
        self.scaler.load_state_dict(state)
