"""Regularization set once for the whole model by config keys, for both model styles.

`L2` adds L2 x (sum of squares of all trainable parameters) to the training objective, reported as the
loss "L2"; `param_variational_noise` adds Gaussian noise to every parameter for each training step
(in a net dict, a layer's own `param_variational_noise` wins). Both are schedulable, train-only, and
drawn from the engine-seeded generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from seqtrain.config import Config
from seqtrain.config.settings import NetworkSettings
from seqtrain.model.context import StepContext
from seqtrain.nn.regularization import l2_penalty, noisy_parameters


@dataclass(frozen=True)
class GlobalRegularization:
    l2: float = 0.0
    param_variational_noise: float = 0.0

    @staticmethod
    def at(config: Config, *, epoch: int, step: int) -> GlobalRegularization:
        network = NetworkSettings.from_config(config)
        return GlobalRegularization(
            l2=float(network.L2.at(epoch, step)),
            param_variational_noise=float(network.param_variational_noise.at(epoch, step)),
        )

    @contextmanager
    def around_step(self, model: torch.nn.Module, ctx: StepContext) -> Iterator[None]:
        """For a `get_model` model: noisy parameters during the user's train_step, then the L2 loss."""
        with noisy_parameters(model, self.param_variational_noise, training=ctx.train):
            yield
        if ctx.train and self.l2 > 0:
            ctx.mark_as_loss("L2", self.l2 * l2_penalty(model), custom_inv_norm_factor=1.0)
