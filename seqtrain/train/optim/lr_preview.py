"""The learning rates a config gives, per epoch and per step, computed without training.

It runs the same code as training (`lr_setup`): the epoch's config with its `#config`, the control
with the scores of past epochs (from a learning-rate file, if given), the batch list of each epoch
for its number of steps, and the per-step rate. So what `seqtrain lr-schedule` shows is what
training does, including hand edits in the file (unless `recompute`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seqtrain.config import Config
from seqtrain.config.settings import OptimizerSettings
from seqtrain.data.setup import build_data, plan_for
from seqtrain.errors import ConfigError
from seqtrain.model.make_builder import make_model_builder
from seqtrain.train.optim.lr_control import LearningRateControl
from seqtrain.train.optim.lr_file import EpochData, read_scores
from seqtrain.train.optim.lr_setup import control_options, epoch_learning_rate, pretrain_epochs, step_learning_rate


@dataclass
class EpochRates:
    epoch: int
    first_step: int
    learning_rate: float  # the epoch-level rate (what the learning-rate file holds)
    reason: str
    step_rates: list[float] = field(default_factory=list)  # the rate of every step of the epoch
    file_rate: float | None = None  # the rate the scores file held for this epoch, if any

    @property
    def num_steps(self) -> int:
        return len(self.step_rates)


def load_history(path: Path | None, *, recompute: bool) -> dict[int, EpochData]:
    """Scores (and, unless `recompute`, the stored rates) of past epochs from a learning-rate file."""
    if path is None:
        return {}
    if not path.is_file():
        raise ConfigError(f"scores file {path} does not exist")
    data = read_scores(path)
    if recompute:
        return {e: EpochData(None, dict(d.error), dict(d.meta)) for e, d in data.items()}
    return data


def _steps_counter(config: Config, steps_per_epoch: int | None) -> Callable[[Config, int, int], int]:
    """Counts the batches of an epoch as training would plan them (or takes the given number)."""
    if steps_per_epoch is not None:
        if steps_per_epoch < 1:
            raise ConfigError("--steps-per-epoch must be >= 1")
        return lambda epoch_config, epoch, step: steps_per_epoch
    data = build_data(config, need_train=True)
    assert data.train is not None
    return lambda epoch_config, epoch, step: len(plan_for(epoch_config, data.train, epoch, step=step).batches)


def preview(
    config: Config,
    *,
    num_epochs: int,
    scores_path: Path | None = None,
    recompute: bool = False,
    steps_per_epoch: int | None = None,
) -> list[EpochRates]:
    """Rates of epochs 1..num_epochs as training would use them."""
    stored = read_scores(scores_path) if scores_path is not None and scores_path.is_file() else {}
    opt = OptimizerSettings.from_config(config)
    control = LearningRateControl(control_options(opt), base_learning_rate=lambda e: float(opt.learning_rate.at(e)))
    control.epoch_data = load_history(scores_path, recompute=recompute)
    if not recompute and scores_path is not None:
        control.mark_as_stored(scores_path)
    builder = make_model_builder(config)
    num_pretrain = pretrain_epochs(config)
    count_steps = _steps_counter(config, steps_per_epoch)
    rows = []
    global_step = 0
    for epoch in range(1, num_epochs + 1):
        epoch_config = config.with_values(builder.epoch_config(epoch))
        epoch_opt = OptimizerSettings.from_config(epoch_config)
        lr = epoch_learning_rate(
            control, opt, epoch_opt, epoch=epoch, first_step=global_step, pretrain_epochs=num_pretrain
        )
        num_steps = count_steps(epoch_config, epoch, global_step)
        rate_at = step_learning_rate(
            epoch_opt, epoch=epoch, epoch_learning_rate=lr, first_step=global_step, num_batches=num_steps
        )
        rows.append(
            EpochRates(
                epoch=epoch,
                first_step=global_step,
                learning_rate=lr,
                reason=control.reasons.get(epoch, ""),
                step_rates=[rate_at(s) for s in range(global_step, global_step + num_steps)],
                file_rate=stored[epoch].learning_rate if epoch in stored else None,
            )
        )
        global_step += num_steps
    return rows
