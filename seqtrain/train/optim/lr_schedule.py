"""Learning rate per step: the epoch's rate times a warmup -> hold -> decay shape, then `dynamic_learning_rate`.

Steps are global train steps: one per batch (with `accum_grad_multiple_step = k` an update happens every
k steps and uses the rate of its last step). Phases count steps, 0-based `s`:

  warmup  s < W                  linear: init + (1 - init) * (s + 1) / W;  exponential: init ** (1 - (s + 1) / W)
  hold    W <= s < W + H         1
  decay   t = s - W - H + 1 >= 1 (D = decay_steps, r = decay_rate, f = final_scale)
          exponential  max(f, r ** (t / D))        step    max(f, r ** floor(t / D))
          inverse_sqrt max(f, sqrt(D / (D + t)))   (D defaults to W: then it is Noam's schedule)
          cosine       f + (1 - f) * (1 + cos(pi * min(t, D) / D)) / 2
          linear       1 - (1 - f) * min(t, D) / D

Warmup ends at exactly 1 on its last step; cosine and linear reach `final_scale` after D decay steps.
The shape multiplies the epoch-level rate (Newbob, `learning_rates`, ...), so both combine as a product.

The lengths may be given in epochs instead (`warmup_epochs`, `hold_epochs`, `decay_epochs`, floats): then
`s + 1` above becomes the training done at the end of the step, in epochs (epoch - 1 + (steps of this epoch
done) / (batches of this epoch)), so "cosine to the end of epoch 12" needs no count of batches per epoch, which
changes with the data, batching and on-the-fly augmentation. Steps and epochs do not mix in one schedule.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from seqtrain.errors import ConfigError
from seqtrain.model.builder import call_with_accepted

KEY = "learning_rate_step_schedule"
WARMUP_SHAPES = ("linear", "exponential")
DECAY_SHAPES = ("exponential", "inverse_sqrt", "cosine", "linear", "step")


FIELDS = (
    *("warmup_steps", "warmup_epochs", "warmup", "init_scale", "hold_steps", "hold_epochs"),
    *("decay", "decay_steps", "decay_epochs", "decay_rate", "final_scale"),
)


@dataclass(frozen=True)
class StepShape:
    """The factor the epoch's learning rate is multiplied with at each global step; lengths count `unit`s."""

    warmup_len: float = 0
    warmup: str = "linear"
    init_scale: float = 0.0
    hold_len: float = 0
    decay: str | None = None
    decay_len: float = 0
    decay_rate: float = 1.0
    final_scale: float = 0.0
    unit: str = "steps"

    def factor(self, step: int) -> float:
        """The factor of 0-based global step `step` of a schedule in steps."""
        return self.factor_after(step + 1)

    def factor_after(self, done: float) -> float:
        """The factor of the step at whose end `done` units of training are complete (s + 1 steps, or the
        continuous epoch)."""
        if done <= self.warmup_len:
            progress = done / self.warmup_len
            if self.warmup == "linear":
                return self.init_scale + (1.0 - self.init_scale) * progress
            return self.init_scale ** (1.0 - progress)
        t = done - self.warmup_len - self.hold_len
        if self.decay is None or t <= 0:
            return 1.0
        d, f = self.decay_len, self.final_scale
        if self.decay == "exponential":
            return max(f, self.decay_rate ** (t / d))
        if self.decay == "step":
            return max(f, self.decay_rate ** (t // d))
        if self.decay == "inverse_sqrt":
            return max(f, math.sqrt(d / (d + t)))
        if self.decay == "cosine":
            return f + (1.0 - f) * (1.0 + math.cos(math.pi * min(t, d) / d)) / 2.0
        return 1.0 - (1.0 - f) * min(t, d) / d  # linear


def _length(spec: Mapping[str, Any], phase: str, unit: str, default: float = 0) -> float:
    """A phase's length: an int count of steps, or a float count of epochs."""
    return _field(spec, f"{phase}_{unit}", int if unit == "steps" else float, default)


def _field(spec: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    value = spec.get(name, default)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise ConfigError(f"{KEY}[{name!r}]: got {value!r}, expected {kind.__name__}")
    return float(value) if kind is float else value


def parse_step_shape(spec: Mapping[str, Any] | None) -> StepShape | None:
    """Checks the `learning_rate_step_schedule` dict; every mistake names the field and what to write."""
    if spec is None:
        return None
    for name in spec:
        if name not in FIELDS:
            close = difflib.get_close_matches(str(name), FIELDS, n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else f"; known fields: {sorted(FIELDS)}"
            raise ConfigError(f"{KEY}: unknown field {name!r}{hint}")
    units = {name.rsplit("_", 1)[1] for name in spec if name.endswith(("_steps", "_epochs"))}
    if len(units) > 1:
        lengths = sorted(n for n in spec if n.endswith(("_steps", "_epochs")))
        raise ConfigError(f"{KEY}: {lengths} mix steps and epochs; give every length in one unit")
    unit = units.pop() if units else "steps"
    warmup = spec.get("warmup", "linear")
    if warmup not in WARMUP_SHAPES:
        raise ConfigError(f"{KEY}['warmup']: {warmup!r} is not one of {list(WARMUP_SHAPES)}")
    decay = spec.get("decay")
    if decay is not None and decay not in DECAY_SHAPES:
        raise ConfigError(f"{KEY}['decay']: {decay!r} is not one of {list(DECAY_SHAPES)} (or None)")
    warmup_len = _length(spec, "warmup", unit)
    shape = StepShape(
        warmup_len=warmup_len,
        warmup=warmup,
        init_scale=_field(spec, "init_scale", float, 0.0),
        hold_len=_length(spec, "hold", unit),
        decay=decay,
        decay_len=_length(spec, "decay", unit, warmup_len if decay == "inverse_sqrt" else 0),
        decay_rate=_field(spec, "decay_rate", float, 1.0),
        final_scale=_field(spec, "final_scale", float, 0.0),
        unit=unit,
    )
    _check_shape(shape, spec)
    return shape


def _check_shape(shape: StepShape, spec: Mapping[str, Any]) -> None:
    u = shape.unit
    if shape.warmup_len < 0 or shape.hold_len < 0 or shape.decay_len < 0:
        raise ConfigError(f"{KEY}: warmup_{u}, hold_{u} and decay_{u} must be >= 0")
    if not 0.0 <= shape.init_scale <= 1.0 or not 0.0 <= shape.final_scale <= 1.0:
        raise ConfigError(f"{KEY}: init_scale and final_scale are factors of the LR in [0, 1]")
    if shape.warmup == "exponential" and shape.warmup_len and shape.init_scale <= 0:
        raise ConfigError(
            f"{KEY}: an exponential warmup needs 'init_scale' > 0, the factor it starts from "
            "(e.g. 0.01: the LR grows 100x over the warmup)"
        )
    if shape.decay is not None and shape.decay_len <= 0:
        what = f"the time scale (default: warmup_{u})" if shape.decay == "inverse_sqrt" else f"how many {u}"
        raise ConfigError(f"{KEY}: decay {shape.decay!r} needs 'decay_{u}' > 0, {what}")
    if shape.decay in ("exponential", "step") and ("decay_rate" not in spec or not 0 < shape.decay_rate <= 1):
        raise ConfigError(f"{KEY}: decay {shape.decay!r} needs 'decay_rate' in (0, 1]: the factor per decay_{u}")


@dataclass(frozen=True)
class StepLearningRate:
    """The learning rate of every global step of one epoch (the loop calls it once per batch)."""

    epoch: int
    epoch_learning_rate: float
    first_step: int  # global step of the epoch's first batch
    num_batches: int
    shape: StepShape | None = None
    base_at: Callable[[int], float] | None = None  # `learning_rate` as f(*, epoch, step): replaces the epoch rate
    dynamic: Callable[..., Any] | None = None  # `dynamic_learning_rate`

    def __call__(self, global_step: int) -> float:
        lr = self.base_at(global_step) if self.base_at is not None else self.epoch_learning_rate
        if self.shape is not None and self.shape.unit == "epochs":
            done = (global_step - self.first_step + 1) / max(1, self.num_batches)
            lr *= self.shape.factor_after(self.epoch - 1 + done)
        elif self.shape is not None:
            lr *= self.shape.factor(global_step)
        if self.dynamic is None:
            return lr
        done = (global_step - self.first_step) / self.num_batches if self.num_batches else 0.0
        result = call_with_accepted(
            self.dynamic,
            global_train_step=global_step,
            epoch=self.epoch,
            epoch_continuous=self.epoch - 1 + done,
            learning_rate=lr,
        )
        try:
            value = math.nan if isinstance(result, bool) else float(result)  # also numpy / 0-dim torch numbers
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise ConfigError(
                f"dynamic_learning_rate returned {result!r} at global_train_step={global_step}, epoch {self.epoch}; "
                "it must return a finite float >= 0 (the learning rate of that step)"
            )
        return value
