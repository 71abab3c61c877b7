"""Training only a subset of the parameters in an epoch: `trainable_params` / `frozen_params` patterns.

A frozen parameter keeps `requires_grad=False` for the epoch, so it gets no gradient, no update, no
weight decay, no L2 and no variational noise. It stays in the optimizer (the optimizer is built over
every parameter the network makes trainable), so its optimizer state survives the frozen epochs and
checkpoints keep one layout; torch optimizers skip parameters without a gradient. Layers with
`trainable: False` are never trained, whatever the patterns say.

Patterns are `fnmatch` patterns on parameter names ("lstm3.*", "output.*", "*.bias"); a pattern that
matches nothing is an error, so a typo cannot silently train everything.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch

from seqtrain.config import Config
from seqtrain.config.settings import PretrainSettings
from seqtrain.errors import ConfigError

log = logging.getLogger("seqtrain")


@dataclass(frozen=True)
class ParamSelection:
    """The epoch's patterns: only `trainable` (None = all) and never `frozen`."""

    trainable: tuple[str, ...] | None = None
    frozen: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Config, *, epoch: int, step: int = 0) -> ParamSelection:
        pretrain = PretrainSettings.from_config(config)
        trainable, frozen = pretrain.trainable_params.at(epoch, step), pretrain.frozen_params.at(epoch, step)
        return cls(tuple(trainable) if trainable is not None else None, tuple(frozen or ()))

    @property
    def everything(self) -> bool:
        return self.trainable is None and not self.frozen


def _check_patterns(key: str, patterns: Sequence[str], names: Collection[str]) -> None:
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            example = ", ".join(sorted(names)[:6])
            raise ConfigError(f"{key}: pattern {pattern!r} matches no trainable parameter (they are: {example}, ...)")


def frozen_names(names: Collection[str], selection: ParamSelection) -> set[str]:
    """The parameters among `names` that the selection does not train."""
    if selection.trainable is not None:
        _check_patterns("trainable_params", selection.trainable, names)
    _check_patterns("frozen_params", selection.frozen, names)
    frozen = set()
    for name in names:
        wanted = selection.trainable is None or any(fnmatch.fnmatchcase(name, p) for p in selection.trainable)
        if not wanted or any(fnmatch.fnmatchcase(name, p) for p in selection.frozen):
            frozen.add(name)
    return frozen


def apply_selection(
    model: torch.nn.Module, trainable: Collection[str], selection: ParamSelection, *, epoch: int
) -> set[str]:
    """Sets requires_grad for the epoch: the network's trainable parameters minus the frozen ones.

    `trainable`: the parameters the network itself trains (its requires_grad right after building).
    Returns the frozen names; logs them when there are any.
    """
    frozen = frozen_names(trainable, selection) if not selection.everything else set()
    if trainable and len(frozen) == len(trainable):
        raise ConfigError(
            f"epoch {epoch}: trainable_params / frozen_params leave no parameter to train "
            f"(trainable_params={selection.trainable}, frozen_params={list(selection.frozen)})"
        )
    for name, param in model.named_parameters():
        param.requires_grad_(name in trainable and name not in frozen)
    if frozen:
        log.info(
            "epoch %d: training %d of %d parameter tensors; frozen: %s",
            epoch,
            len(trainable) - len(frozen),
            len(trainable),
            ", ".join(sorted(frozen)),
        )
    return frozen
