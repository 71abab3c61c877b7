"""`dynamics`: a level-dependent gain (expander or compressor): quiet stretches quieter or louder than loud ones.

Why: synthesizers (and speakers, microphones, broadcast chains) differ in how loud the weak sounds are against the
vowels. espeak-ng makes /h/ and other fricatives long and only 15-30 dB below the vowel; other synthesizers
barely make them (flite's awb says the /h/ of "hold" in one 10 ms frame 30 dB down), and a model that learned
espeak-ng's loud /h/ then hears "is" for "his" and "gold" for "hold". Gain, EQ and noise move every frame alike;
this transform moves each frame by its own level, so the model also hears weak consonants weaker (an expander,
`ratio` > 1) or stronger (a compressor, `ratio` < 1) than the training voices make them.

How: each frame's level (RMS of 20 ms, every 10 ms) in dB relative to the utterance's loud level (its 95th
percentile frame) is multiplied by `ratio`; levels more than `range_db` below the loud level move as that floor
does (so a compressor does not pull the background noise up to speech level). The gain is interpolated between
frame centres, so it changes smoothly; the loud frames keep their level, digital silence stays silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.augment.options import Draw, parse_draw
from seqtrain.data.augment.transform import TRANSFORMS, AugmentContext, Params, Transform, check_options, require
from seqtrain.errors import ConfigError

_WINDOW_S, _HOP_S = 0.02, 0.01
_LOUD_PERCENTILE = 95.0  # the utterance's loud level: its vowels, not a click


@dataclass(frozen=True)
class Dynamics(Transform):
    OPTIONS = ("ratio", "range_db")
    ratio: Draw
    range_db: float
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"ratio": self.ratio.sample(rng)}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        gain_db = level_gain_db(samples, sample_rate, params["ratio"], self.range_db)
        return (samples * 10 ** (gain_db / 20)).astype(np.float32)


def frame_levels_db(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(centre sample, level in dB) of every 20 ms frame, one each 10 ms; silent frames at -inf."""
    window, hop = max(1, int(_WINDOW_S * sample_rate)), max(1, int(_HOP_S * sample_rate))
    starts = np.arange(0, max(1, len(samples) - window + 1), hop)
    power = np.cumsum(np.concatenate([[0.0], samples.astype(np.float64) ** 2]))
    ends = np.minimum(starts + window, len(samples))
    mean_power = (power[ends] - power[starts]) / np.maximum(ends - starts, 1)
    with np.errstate(divide="ignore"):
        return (starts + ends) / 2, 10 * np.log10(mean_power)


def level_gain_db(samples: np.ndarray, sample_rate: int, ratio: float, range_db: float) -> np.ndarray:
    """Per sample, the gain in dB that moves each frame's level below the loud level to `ratio` times as far."""
    if len(samples) == 0 or ratio == 1.0:
        return np.zeros(len(samples))
    centres, level = frame_levels_db(samples, sample_rate)
    sounding = np.isfinite(level)
    if not sounding.any():
        return np.zeros(len(samples))
    loud = np.percentile(level[sounding], _LOUD_PERCENTILE)
    below = np.clip(loud - level, 0.0, range_db)  # dB under the loud level, down to the floor (silent frames: there)
    frame_gain = (1.0 - ratio) * below
    return np.interp(np.arange(len(samples)), centres, frame_gain)


@TRANSFORMS.register("dynamics")
def _dynamics(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, Dynamics.OPTIONS, ctx)
    ratio = parse_draw(require(options, "ratio", ctx), where=ctx.where, name="ratio", minimum=0.1, maximum=4.0)
    range_db = options.get("range_db", 40.0)
    if isinstance(range_db, bool) or not isinstance(range_db, (int, float)) or not 0 < range_db <= 100:
        raise ConfigError(
            f"{ctx.where}: range_db must be a number in (0, 100] (dB under the loud level), got {range_db!r}"
        )
    return Dynamics(ratio, float(range_db), prob)
