"""The transform protocol: parameters drawn per sequence (without audio), then applied to the samples.

Drawing and applying are separate so that the epoch's lengths can be known before any audio is read: the
planner asks for the output length of every sequence (speed and tempo change it), and the loader workers
draw the same parameters again from the same seed when they load the sequence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from seqtrain.errors import ConfigError
from seqtrain.registry import Registry

Params = dict[str, Any]


@dataclass(frozen=True)
class AugmentContext:
    """What parsing a transform's options may need: the audio's sample rate and where it is, for error messages."""

    sample_rate: int
    where: str


class Transform(ABC):
    """One augmentation, its options resolved for an epoch. Subclasses are frozen dataclasses."""

    OPTIONS: ClassVar[tuple[str, ...]] = ()  # option names besides "type" and "prob"
    prob: float

    @abstractmethod
    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        """This sequence's parameters; `num_samples`: its length when this transform is reached."""

    def output_length(self, num_samples: int, params: Params) -> int:
        """Samples after this transform (unchanged unless it changes the duration)."""
        return num_samples

    @abstractmethod
    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        """float32 samples -> float32 samples of `output_length` samples."""


# `"type"` of an augmentation -> parser (options without type/prob, context, prob) -> Transform.
TRANSFORMS: Registry[Callable[[dict[str, Any], AugmentContext, float], Transform]] = Registry(
    "augmentation type", hint="types are registered in seqtrain.data.augment"
)


def check_options(options: dict[str, Any], allowed: tuple[str, ...], ctx: AugmentContext) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{ctx.where}: unknown option(s) {unknown}; known: {['type', 'prob', *allowed]}")


def require(options: dict[str, Any], name: str, ctx: AugmentContext) -> Any:
    if name not in options:
        raise ConfigError(f"{ctx.where}: needs the option {name!r}")
    return options[name]


def stretched_length(num_samples: int, factor: float) -> int:
    """Samples after playing `num_samples` `factor` times as fast (round half up; at least one)."""
    return max(1, int(num_samples / factor + 0.5))


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Trims or zero-pads a resampler's output to the planned length (they differ by a sample at most), so that
    the features have exactly the frames the epoch was planned with."""
    if len(samples) >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros(length - len(samples), dtype=samples.dtype)])
