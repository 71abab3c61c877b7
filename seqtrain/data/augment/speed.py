"""Transforms that change the duration or the pitch: speed perturbation, tempo, pitch.

Speed (Ko et al., 2015, "Audio augmentation for speech recognition") resamples: factor 1.1 plays the audio
10 % faster, so it has 1/1.1 of the samples and a 10 % higher pitch; soxr is the resampler lhotse and
audiomentations use. Tempo and pitch change one without the other, with python-stretch (Signalsmith Stretch,
the backend of audiomentations' TimeStretch and PitchShift).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.augment.options import Draw, parse_draw
from seqtrain.data.augment.transform import (
    TRANSFORMS,
    AugmentContext,
    Params,
    Transform,
    check_options,
    fit_length,
    require,
    stretched_length,
)


@dataclass(frozen=True)
class _DurationFactor(Transform):
    """Plays the audio `factor` times as fast: 1/factor of the samples (speed and tempo share this)."""

    OPTIONS = ("factor",)
    factor: Draw
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"factor": self.factor.sample(rng)}

    def output_length(self, num_samples: int, params: Params) -> int:
        return stretched_length(num_samples, params["factor"])


class Speed(_DurationFactor):
    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        import soxr

        factor = params["factor"]
        if factor == 1.0:
            return samples
        out = soxr.resample(samples, sample_rate * factor, sample_rate, quality="HQ")
        return fit_length(np.asarray(out, dtype=np.float32), self.output_length(len(samples), params))


class Tempo(_DurationFactor):
    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        if params["factor"] == 1.0:
            return samples
        out = _stretch(samples, sample_rate, time_factor=params["factor"], semitones=0.0)
        return fit_length(out, self.output_length(len(samples), params))


@dataclass(frozen=True)
class Pitch(Transform):
    OPTIONS = ("semitones",)
    semitones: Draw
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"semitones": self.semitones.sample(rng)}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        if params["semitones"] == 0.0:
            return samples
        return fit_length(_stretch(samples, sample_rate, time_factor=1.0, semitones=params["semitones"]), len(samples))


def _stretch(samples: np.ndarray, sample_rate: int, *, time_factor: float, semitones: float) -> np.ndarray:
    from python_stretch.Signalsmith import Stretch

    stretch = Stretch()
    stretch.preset(1, float(sample_rate))
    stretch.setTimeFactor(float(time_factor))
    stretch.setTransposeSemitones(float(semitones))
    return np.asarray(stretch.process(np.ascontiguousarray(samples, dtype=np.float32)[None, :])[0], dtype=np.float32)


def _duration_factor(cls: type[_DurationFactor]) -> Callable[[dict[str, Any], AugmentContext, float], Transform]:
    def parse(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
        check_options(options, cls.OPTIONS, ctx)
        factor = parse_draw(require(options, "factor", ctx), where=ctx.where, name="factor", minimum=0.5, maximum=2.0)
        return cls(factor, prob)

    return parse


TRANSFORMS.register("speed", _duration_factor(Speed))
TRANSFORMS.register("tempo", _duration_factor(Tempo))


@TRANSFORMS.register("pitch")
def _pitch(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, Pitch.OPTIONS, ctx)
    semitones = parse_draw(
        require(options, "semitones", ctx), where=ctx.where, name="semitones", minimum=-12, maximum=12
    )
    return Pitch(semitones, prob)
