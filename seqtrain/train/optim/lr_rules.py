"""The rules that give a new epoch its learning rate, ported from RETURNN's `learning_rate_control.py`.

Each rule looks only at the history of past epochs (their rates and scores) and returns the rate with a
short reason, so the log and `seqtrain lr-schedule` can say *why* the rate changed. Where RETURNN has a
quirk, it is kept on purpose, so that a RETURNN config gives the same rates here:

- `constant` carries the last epoch's rate forward: after `learning_rates = [1e-4, 4e-4]` the rate
  stays 4e-4, not `learning_rate` (list the target rate in `learning_rates` too).
- `min_learning_rate` bounds decays only, never predefined rates.
- A rule keeps the rate when the two epochs it compares have different error keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from seqtrain.errors import ConfigError
from seqtrain.registry import Registry
from seqtrain.train.optim.lr_file import EpochData
from seqtrain.train.optim.lr_options import ControlOptions, LearningRateUpdate

Decision = tuple[float, str]


class LearningRateControl(Protocol):
    """What a rule reads of the control (`lr_control.LearningRateControl`): options and the epochs' history."""

    options: ControlOptions
    epoch_data: dict[int, EpochData]

    base_learning_rate: Callable[[int], float]  # `learning_rate` as resolved for an epoch

    def last_epoch(self, epoch: int) -> int | None: ...
    def last_epochs(self, epoch: int, count: int) -> list[int]: ...
    def most_recent_learning_rate(self, epoch: int, *, exclude_current: bool = True) -> float: ...
    def error_key(self, epoch: int) -> str | None: ...
    def error_value(self, epoch: int) -> tuple[str | None, float | None]: ...
    def relative_error(self, old_epoch: int, new_epoch: int) -> float | None: ...


def decide_learning_rate(control: LearningRateControl, epoch: int, *, predefined: Decision | None) -> Decision:
    """RETURNN's `calc_new_learning_rate_for_epoch`, after the rates given explicitly for this epoch."""
    if predefined is not None:
        return float(predefined[0]), predefined[1]
    opts = control.options
    if epoch in opts.predefined:
        return opts.predefined[epoch], f"learning_rates[{epoch}]"
    keep = opts.min_num_epochs_per_new_lr
    if keep > 1:
        last = [control.epoch_data[e].learning_rate for e in control.last_epochs(epoch, keep)]
        if len(set(last)) >= 2 or 0 < len(last) < keep:
            return last[-1], f"kept: the rate is younger than learning_rate_control_min_num_epochs_per_new_lr={keep}"
    return RULES.get(opts.kind, where="learning_rate_control")(control, epoch)


def _constant(control: LearningRateControl, epoch: int) -> Decision:
    e = epoch
    while (last := control.last_epoch(e)) is not None:
        lr = control.epoch_data[last].learning_rate
        if lr is not None:
            return lr, f"constant: as epoch {last}"
        e = last
    return control.base_learning_rate(epoch), "learning_rate"


def _last_two(control: LearningRateControl, epoch: int) -> tuple[float, int, int | None] | None:
    """(rate of the last epoch, last epoch, the one before it); None when there is no last rate."""
    last = control.last_epoch(epoch)
    lr = control.epoch_data[last].learning_rate if last is not None else None
    if last is None or lr is None:
        return None
    return lr, last, control.last_epoch(last)


def _newbob_relative(control: LearningRateControl, epoch: int) -> Decision:
    found = _last_two(control, epoch)
    if found is None:
        return control.base_learning_rate(epoch), "learning_rate"
    lr, last, last2 = found
    if last2 is None:
        return lr, f"newbob_rel: kept, no epoch before epoch {last} to compare with"
    relative = control.relative_error(last2, last)
    if relative is None:
        return lr, f"newbob_rel: kept, no comparable scores in epochs {last2} and {last}"
    threshold = control.options.relative_error_threshold
    decay = relative > threshold
    new_lr = decay_or_grow(control, lr, decay=decay, grow=not decay)
    sign = ">" if decay else "<="
    what = _change_word(lr, new_lr, decay)
    key = control.error_key(last)
    return new_lr, f"newbob_rel: {key} relative change {relative:.4g} {sign} {threshold:g} in epoch {last}: {what}"


def _newbob_absolute(control: LearningRateControl, epoch: int) -> Decision:
    found = _last_two(control, epoch)
    if found is None:
        return control.base_learning_rate(epoch), "learning_rate"
    lr, last, last2 = found
    if last2 is None:
        return lr, f"newbob_abs: kept, no epoch before epoch {last} to compare with"
    old_key, old = control.error_value(last2)
    new_key, new = control.error_value(last)
    if old is None or new is None or old_key != new_key:
        return lr, f"newbob_abs: kept, no comparable scores in epochs {last2} and {last}"
    threshold = control.options.error_threshold
    decay = new - old > threshold
    new_lr = decay_or_grow(control, lr, decay=decay, grow=not decay)
    sign = ">" if decay else "<="
    what = _change_word(lr, new_lr, decay)
    return new_lr, f"newbob_abs: {new_key} change {new - old:.4g} {sign} {threshold:g} in epoch {last}: {what}"


def _newbob_multi_epoch(control: LearningRateControl, epoch: int) -> Decision:
    opts = control.options
    lr = control.most_recent_learning_rate(epoch)
    if opts.multi_update_interval > 1 and epoch % opts.multi_update_interval != 1:
        interval = opts.multi_update_interval
        return lr, f"newbob_multi_epoch: kept, epoch {epoch} is not an update epoch (interval {interval})"
    epochs = control.last_epochs(epoch, opts.multi_num_epochs + 1)
    if len(epochs) <= 1:
        return lr, "newbob_multi_epoch: kept, fewer than two past epochs"
    errors = [control.relative_error(epochs[i], epochs[i + 1]) for i in range(len(epochs) - 1)]
    if any(e is None for e in errors):
        return lr, f"newbob_multi_epoch: kept, no comparable scores in epochs {epochs[0]}-{epochs[-1]}"
    mean = float(np.mean(errors))  # numpy's summation order, as RETURNN, for identical rates
    decay = mean > opts.relative_error_threshold
    grow = mean < opts.relative_error_grow_threshold
    new_lr = decay_or_grow(control, lr, decay=decay, grow=grow)
    what = _change_word(lr, new_lr, decay)
    return new_lr, f"newbob_multi_epoch: mean relative change {mean:.4g} over epochs {epochs[0]}-{epochs[-1]}: {what}"


def _change_word(old: float, new: float, decay: bool) -> str:
    if new == old:
        return "kept" + (" (at min_learning_rate)" if decay else "")
    return ("decay" if decay else "grow") + f" {old:.6g} -> {new:.6g}"


def decay_or_grow(control: LearningRateControl, lr: float, *, decay: bool, grow: bool) -> float:
    """RETURNN's `calc_learning_rate_decay_or_grow`: decay (bounded by min_learning_rate) or grow."""
    if decay:
        lr = _apply_update(lr, control.options.decay, "newbob_learning_rate_decay")
        lr = max(lr, control.options.min_learning_rate)
    if grow:
        lr = _apply_update(lr, control.options.growth, "newbob_learning_rate_growth")
    return lr


def _apply_update(lr: float, update: LearningRateUpdate, key: str) -> float:
    if callable(update):
        result = update(lr)
        if isinstance(result, bool) or not isinstance(result, (int, float)):
            raise ConfigError(f"{key}: the function returned {result!r} for lr={lr}; it must return a float")
        return float(result)
    return lr * update


# `learning_rate_control` names a rule; a new rule is a function (control, epoch) -> (rate, reason) registered here
# and its name added to the key's choices (seqtrain/config/keys/optim.py).
RULES: Registry[Callable[[LearningRateControl, int], Decision]] = Registry("learning_rate_control rule")
RULES.register("constant", _constant)
RULES.register("newbob_rel", _newbob_relative)
RULES.register("newbob_abs", _newbob_absolute)
RULES.register("newbob_multi_epoch", _newbob_multi_epoch)
