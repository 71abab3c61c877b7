"""Everything that may change from one training step to the next, resolved in one place.

The learning rate (the epoch's rate, a per-step shape such as warmup or a `learning_rate` function of the
step, `dynamic_learning_rate`), gradient clipping, gradient noise and the accumulation window are all
schedulable keys. The loop asks `StepSchedule.at(global_step)` once per batch and gets plain numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqtrain.config.settings import OptimizerSettings
from seqtrain.train.optim.lr_setup import step_learning_rate
from seqtrain.train.step import ClipOptions


@dataclass(frozen=True)
class StepSettings:
    learning_rate: float
    clip: ClipOptions
    gradient_noise: float  # std; 0 = none
    accum_grad_multiple_step: int  # batches per update


class StepSchedule:
    """The step settings of one epoch, from the epoch's optimizer settings (its `#config` applied) and the rate
    the learning-rate control decided."""

    def __init__(
        self, opt: OptimizerSettings, *, epoch: int, epoch_learning_rate: float, first_step: int, num_batches: int
    ) -> None:
        self.opt = opt
        self.epoch = epoch
        self.learning_rate = step_learning_rate(
            opt, epoch=epoch, epoch_learning_rate=epoch_learning_rate, first_step=first_step, num_batches=num_batches
        )

    def at(self, step: int) -> StepSettings:
        opt, epoch = self.opt, self.epoch
        # Types and ranges are the keys' own checks (seqtrain/config/keys), run at load and on a function's result.
        return StepSettings(
            learning_rate=self.learning_rate(step),
            clip=ClipOptions(
                gradient_clip=opt.gradient_clip.at(epoch, step),
                gradient_clip_global_norm=opt.gradient_clip_global_norm.at(epoch, step),
                gradient_clip_norm=opt.gradient_clip_norm.at(epoch, step),
                nan_inf_filter=opt.gradient_nan_inf_filter,
            ),
            gradient_noise=float(opt.gradient_noise.at(epoch, step)),
            accum_grad_multiple_step=int(opt.accum_grad_multiple_step.at(epoch, step)),
        )
