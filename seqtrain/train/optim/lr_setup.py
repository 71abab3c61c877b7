"""From the config's learning-rate keys to the per-epoch control and the per-step rate.

Training and `seqtrain lr-schedule` both go through here, so the command shows exactly the rates
training uses. How the forms of `learning_rate` combine with the rest:

- a number: RETURNN's `learning_rate` (the rate of the first epoch; the control takes it from there);
- `{epoch: lr}`: the rate is reset to `lr` at each listed epoch (like `learning_rates`), the control
  runs in between;
- `f(*, epoch, step)`: the rate of every step (times `learning_rate_step_schedule`, then
  `dynamic_learning_rate`); there is nothing left to control, so it needs `learning_rate_control =
  "constant"` and no `learning_rates`. The file records its value at each epoch's first step.

With `pretrain`, RETURNN's rule holds: its epochs train at the constant `pretrain_learning_rate` (scores of
a net that grows every epoch say nothing about the rate), the first epoch after them at `learning_rate`,
and the control decides from the next one on; `use_learning_rate_control_always` lets it decide throughout.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from seqtrain.config import Config
from seqtrain.config.settings import OptimizerSettings, PipelineSettings, PretrainSettings
from seqtrain.errors import ConfigError
from seqtrain.model.pretrain import make_pretrain
from seqtrain.train.optim.lr_control import LearningRateControl
from seqtrain.train.optim.lr_options import ControlOptions
from seqtrain.train.optim.lr_schedule import StepLearningRate, parse_step_shape

log = logging.getLogger("seqtrain")

_KIND = {"newbob": "newbob_rel", "newbob_relative": "newbob_rel"}  # RETURNN's aliases


def _predefined(opt: OptimizerSettings) -> dict[int, float]:
    """`learning_rates` (list from epoch 1, or dict) plus the epochs of a `{epoch: lr}` learning_rate."""
    given = opt.learning_rates
    listed: dict[int, float] = {}
    if isinstance(given, list):
        listed = {i + 1: float(v) for i, v in enumerate(given)}
    elif isinstance(given, dict):
        listed = {int(e): float(v) for e, v in given.items()}
    if any(e < 1 for e in listed):
        raise ConfigError(f"learning_rates: epochs count from 1, got {sorted(listed)}")
    base = opt.learning_rate.value
    scheduled = {int(e): float(v) for e, v in base.items()} if isinstance(base, dict) else {}
    both = sorted(set(listed) & set(scheduled))
    if both:
        raise ConfigError(
            f"epochs {both} get a learning rate from both learning_rates and the learning_rate schedule; keep one"
        )
    return {**scheduled, **listed}


def control_options(opt: OptimizerSettings) -> ControlOptions:
    """Checks and resolves the control keys; the combinations RETURNN would assert on fail here, up front."""
    kind = _KIND.get(opt.learning_rate_control, opt.learning_rate_control)
    measure = opt.learning_rate_control_error_measure
    threshold = opt.newbob_relative_error_threshold
    grow_threshold = opt.newbob_relative_error_grow_threshold
    grow_threshold = threshold if grow_threshold is None else grow_threshold
    num_epochs, interval = opt.newbob_multi_num_epochs, opt.newbob_multi_update_interval
    options = ControlOptions(
        kind=kind,
        min_learning_rate=opt.min_learning_rate,
        predefined=_predefined(opt),
        error_measure=(measure,) if isinstance(measure, str) else tuple(measure or ()),
        relative_error_relative_lr=opt.learning_rate_control_relative_error_relative_lr,
        min_num_epochs_per_new_lr=opt.learning_rate_control_min_num_epochs_per_new_lr,
        relative_error_div_by_old=opt.newbob_relative_error_div_by_old,
        decay=opt.newbob_learning_rate_decay if opt.learning_rate_decay is None else opt.learning_rate_decay,
        growth=opt.newbob_learning_rate_growth,
        relative_error_threshold=threshold,
        relative_error_grow_threshold=grow_threshold,
        error_threshold=opt.newbob_error_threshold,
        multi_num_epochs=num_epochs,
        multi_update_interval=num_epochs if interval is None else interval,
    )
    if kind == "newbob_multi_epoch" and grow_threshold > threshold:
        raise ConfigError(
            f"newbob_relative_error_grow_threshold {grow_threshold} > newbob_relative_error_threshold {threshold}: "
            "a mean relative error between the two would mean decay and grow at once; use a grow threshold <= it"
        )
    if opt.learning_rate.step_dependent and (kind != "constant" or options.predefined):
        raise ConfigError(
            "learning_rate is a function of (epoch, step), which sets the rate of every step, so there is nothing "
            f"left for learning_rate_control={opt.learning_rate_control!r} / learning_rates to do. "
            "Use a number or {epoch: lr} for learning_rate, and learning_rate_step_schedule or dynamic_learning_rate "
            "(it gets the controlled rate as learning_rate=...) for the per-step shape."
        )
    return options


def make_learning_rate_control(
    opt: OptimizerSettings, *, path: Path | None, writes: bool = True
) -> LearningRateControl:
    """The control with the scores of `path` (the learning-rate file); `writes=False` (ranks other than 0 of a
    multi-process run): it reads the file, hand edits included, but never writes it."""
    parse_step_shape(opt.learning_rate_step_schedule)  # fail before training, not at the first step
    control = LearningRateControl(
        control_options(opt), base_learning_rate=lambda epoch: float(opt.learning_rate.at(epoch)), path=path
    )
    if not writes:
        control.path = None
    return control


def pretrain_epochs(config: Config) -> int | None:
    """How many epochs `pretrain` grows the net (None without pretraining); RETURNN fixes their rates."""
    pretrain, pipeline = PretrainSettings.from_config(config).pretrain, PipelineSettings.from_config(config).pipeline
    if pretrain in (None, False) or pipeline is not None:
        return None
    pretrain = make_pretrain(config, announce=False)
    return None if pretrain is None else pretrain.num_epochs


def epoch_learning_rate(
    control: LearningRateControl,
    opt: OptimizerSettings,
    epoch_opt: OptimizerSettings,
    *,
    epoch: int,
    first_step: int,
    pretrain_epochs: int | None = None,
) -> float:
    """The epoch's rate; `epoch_opt` are the run's settings `opt` with the epoch's `#config` applied."""
    predefined: tuple[float, str] | None = None
    if epoch_opt.learning_rate.step_dependent:
        predefined = (epoch_opt.learning_rate.at(epoch, first_step), "learning_rate(epoch, step)")
    elif epoch_opt.learning_rate.value != opt.learning_rate.value:
        predefined = (epoch_opt.learning_rate.at(epoch, first_step), "#config of this epoch")
    elif not opt.use_learning_rate_control_always and pretrain_epochs is not None:
        predefined = _pretrain_rate(opt, epoch, pretrain_epochs)
    lr = control.learning_rate_for_epoch(epoch, predefined=predefined)
    if epoch_opt.learning_rate.step_dependent and predefined is not None and lr != predefined[0]:
        log.warning(
            "WARNING: epoch %d: the learning-rate file holds %.6g, but learning_rate is a function of (epoch, step) "
            "and sets every step's rate (%.6g at the first step); the file's value is not used",
            epoch,
            lr,
            predefined[0],
        )
    return lr


def _pretrain_rate(opt: OptimizerSettings, epoch: int, num_pretrain: int) -> tuple[float, str] | None:
    """RETURNN's fixed rates of the pretrain epochs and of the first epoch after them (see the module doc)."""
    if epoch > num_pretrain + 1:
        return None
    base = float(opt.learning_rate.at(epoch))
    if epoch == num_pretrain + 1:
        return base, "first epoch after pretraining: learning_rate"
    rate = opt.pretrain_learning_rate
    name = "pretrain_learning_rate" if rate is not None else "learning_rate"
    return (base if rate is None else float(rate)), f"pretrain epoch {epoch} of {num_pretrain}: {name}"


def step_learning_rate(
    opt: OptimizerSettings, *, epoch: int, epoch_learning_rate: float, first_step: int, num_batches: int
) -> StepLearningRate:
    """The per-step rate of one epoch, from the epoch's settings and the rate the control decided."""
    base_at: Any = None
    if opt.learning_rate.step_dependent:

        def base_at(step: int) -> float:
            return float(opt.learning_rate.at(epoch, step))

    return StepLearningRate(
        epoch=epoch,
        epoch_learning_rate=epoch_learning_rate,
        first_step=first_step,
        num_batches=num_batches,
        shape=parse_step_shape(opt.learning_rate_step_schedule),
        base_at=base_at,
        dynamic=opt.dynamic_learning_rate,
    )
