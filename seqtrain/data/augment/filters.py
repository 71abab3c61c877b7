"""Level and spectrum: gain, random band-limiting (telephone-like channels), a random equalizer curve.

Band-limiting uses scipy's Butterworth filters (second-order sections, stable at any order); the equalizer
multiplies the spectrum by a smooth random curve: gains drawn at log-spaced frequencies, interpolated in dB
over log-frequency, so neighbouring mel bands move together as a microphone or room coloration would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.augment.options import Draw, parse_draw
from seqtrain.data.augment.transform import TRANSFORMS, AugmentContext, Params, Transform, check_options, require
from seqtrain.errors import ConfigError


@dataclass(frozen=True)
class Gain(Transform):
    OPTIONS = ("db",)
    db: Draw
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"db": self.db.sample(rng)}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        return (samples * np.float32(10 ** (params["db"] / 20))).astype(np.float32)


@dataclass(frozen=True)
class BandLimit(Transform):
    """Removes what lies below `low_hz` (high-pass) and above `high_hz` (low-pass); 0 / Nyquist switch a side off."""

    OPTIONS = ("low_hz", "high_hz", "order")
    low_hz: Draw
    high_hz: Draw
    order: int
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"low_hz": self.low_hz.sample(rng), "high_hz": self.high_hz.sample(rng)}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        from scipy.signal import butter, sosfilt

        nyquist = sample_rate / 2
        low, high = params["low_hz"], min(params["high_hz"], nyquist)
        if low > 0 and high < nyquist:
            sos = butter(self.order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
        elif low > 0:
            sos = butter(self.order, low, btype="highpass", fs=sample_rate, output="sos")
        elif high < nyquist:
            sos = butter(self.order, high, btype="lowpass", fs=sample_rate, output="sos")
        else:
            return samples
        return sosfilt(sos, samples).astype(np.float32)


@dataclass(frozen=True)
class Equalizer(Transform):
    OPTIONS = ("gain_db", "num_points", "low_hz", "high_hz")
    gain_db: Draw
    num_points: int
    low_hz: float
    high_hz: float
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"gains_db": [self.gain_db.sample(rng) for _ in range(self.num_points)]}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        import scipy.fft

        n = scipy.fft.next_fast_len(len(samples), real=True)  # zero-padded: fast, and no wrap-around at the ends
        freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
        points = np.geomspace(self.low_hz, min(self.high_hz, sample_rate / 2), self.num_points)
        curve_db = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(points), params["gains_db"])
        spectrum = scipy.fft.rfft(samples, n) * 10 ** (curve_db / 20)
        return scipy.fft.irfft(spectrum, n)[: len(samples)].astype(np.float32)


@TRANSFORMS.register("gain")
def _gain(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, Gain.OPTIONS, ctx)
    return Gain(parse_draw(require(options, "db", ctx), where=ctx.where, name="db", minimum=-60, maximum=60), prob)


@TRANSFORMS.register("band_limit")
def _band_limit(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, BandLimit.OPTIONS, ctx)
    nyquist = ctx.sample_rate / 2
    if "low_hz" not in options and "high_hz" not in options:
        raise ConfigError(f"{ctx.where}: needs 'low_hz' (high-pass cutoff), 'high_hz' (low-pass cutoff) or both")
    low = parse_draw(options.get("low_hz", 0.0), where=ctx.where, name="low_hz", minimum=0.0, maximum=nyquist)
    high = parse_draw(options.get("high_hz", nyquist), where=ctx.where, name="high_hz", minimum=1.0, maximum=nyquist)
    if low.high >= high.low and high.low < nyquist and low.high > 0:
        raise ConfigError(
            f"{ctx.where}: low_hz (up to {low.high:g}) must stay below high_hz (from {high.low:g}), or no band is left"
        )
    order = options.get("order", 4)
    if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= 10:
        raise ConfigError(f"{ctx.where}: order must be an int in [1, 10], got {order!r}")
    return BandLimit(low, high, order, prob)


@TRANSFORMS.register("eq")
def _eq(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, Equalizer.OPTIONS, ctx)
    gain = parse_draw(require(options, "gain_db", ctx), where=ctx.where, name="gain_db", minimum=-40, maximum=40)
    num_points = options.get("num_points", 6)
    if not isinstance(num_points, int) or isinstance(num_points, bool) or num_points < 2:
        raise ConfigError(f"{ctx.where}: num_points must be an int >= 2, got {num_points!r}")
    low, high = float(options.get("low_hz", 100.0)), float(options.get("high_hz", ctx.sample_rate / 2))
    if not 0 < low < high:
        raise ConfigError(f"{ctx.where}: need 0 < low_hz < high_hz, got {low:g}, {high:g}")
    return Equalizer(gain, num_points, low, high, prob)
