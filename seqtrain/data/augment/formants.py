"""Formant bandwidth: every resonance of the voice made broader by a drawn number of Hz, frame by frame.

Why: a formant synthesizer (espeak-ng) renders vowels with sharp, narrow resonances; recorded voices and the
concatenative or statistical synthesizers built from them (flite) have broader ones, and a model trained on one
kind reads the peak shapes, not only their positions. Speed and pitch move the peaks and an equalizer tilts the
spectrum, but neither changes how wide a peak is.

How: each short-time frame's spectral envelope is an all-pole (LPC) fit 1/|A(z)|, whose poles are the
resonances. Moving every pole inward by the factor g = exp(-pi * widen_hz / sample_rate) widens each resonance's
bandwidth by `widen_hz` Hz and keeps its frequency: the envelope becomes 1/|A(z/g)|. The frame's spectrum is
multiplied by |A(z)| / |A(z/g)| (old envelope out, new one in; the excitation, i.e. pitch and noise, stays) at
the frame's energy, and the signal is overlap-added back (scipy's STFT/ISTFT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.augment.options import Draw, parse_draw
from seqtrain.data.augment.transform import TRANSFORMS, AugmentContext, Params, Transform, check_options, require
from seqtrain.errors import ConfigError

_WINDOW_S = 0.032  # analysis frames: long enough to resolve the lowest formant, short enough for a vowel
_HOP_FRACTION = 4  # 75 % overlap: a constant sum of squared Hann windows for the overlap-add
_NOISE_FLOOR = 1e-4  # white-noise correction of the autocorrelation: keeps every fit stable (-40 dB)


@dataclass(frozen=True)
class FormantBandwidth(Transform):
    OPTIONS = ("widen_hz", "order")
    widen_hz: Draw
    order: int
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"widen_hz": self.widen_hz.sample(rng)}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        from scipy.signal import istft, stft

        widen_hz = params["widen_hz"]
        if widen_hz <= 0 or len(samples) == 0:
            return samples
        n_fft = int(2 ** np.ceil(np.log2(_WINDOW_S * sample_rate)))
        hop = n_fft // _HOP_FRACTION
        overlap = n_fft - hop
        _, _, spectrum = stft(samples.astype(np.float64), window="hann", nperseg=n_fft, noverlap=overlap)
        gains = envelope_swap_gains(np.abs(spectrum) ** 2, self.order, np.exp(-np.pi * widen_hz / sample_rate))
        _, out = istft(spectrum * gains, window="hann", nperseg=n_fft, noverlap=overlap)
        out = out[: len(samples)]
        if len(out) < len(samples):
            out = np.concatenate([out, np.zeros(len(samples) - len(out))])
        return out.astype(np.float32)


def envelope_swap_gains(power: np.ndarray, order: int, pole_radius: float) -> np.ndarray:
    """Per bin and frame (`power`: bins x frames), |A(z)| / |A(z/g)| at the frame's energy; 1 in silent frames."""
    n_fft = 2 * (power.shape[0] - 1)
    autocorrelation = np.fft.irfft(power, axis=0)[: order + 1].T  # frames x lags
    speech = autocorrelation[:, 0] > 1e-10 * max(float(autocorrelation[:, 0].max()), 1e-30)
    gains = np.ones_like(power)
    if not speech.any():
        return gains
    lpc = levinson_durbin(autocorrelation[speech] * _lag_weights(order), order)
    old = np.abs(np.fft.rfft(lpc, n_fft, axis=1))
    new = np.abs(np.fft.rfft(lpc * pole_radius ** np.arange(order + 1), n_fft, axis=1))
    ratio = (old / new).T  # bins x speech frames
    energy, changed = power[:, speech].sum(0), (power[:, speech] * ratio**2).sum(0)
    gains[:, speech] = ratio * np.sqrt(energy / np.maximum(changed, 1e-30))
    return gains


def _lag_weights(order: int) -> np.ndarray:
    weights = np.ones(order + 1)
    weights[0] += _NOISE_FLOOR
    return weights


def levinson_durbin(autocorrelation: np.ndarray, order: int) -> np.ndarray:
    """Predictor polynomials [1, a_1, ..., a_order] of many frames at once (`autocorrelation`: frames x lags)."""
    frames = autocorrelation.shape[0]
    lpc = np.zeros((frames, order + 1))
    lpc[:, 0] = 1.0
    error = autocorrelation[:, 0].copy()
    for i in range(1, order + 1):
        acc = autocorrelation[:, i] + (lpc[:, 1:i] * autocorrelation[:, i - 1 : 0 : -1]).sum(1)
        reflection = -acc / error
        lpc[:, 1:i] = lpc[:, 1:i] + reflection[:, None] * lpc[:, i - 1 : 0 : -1]
        lpc[:, i] = reflection
        error = error * (1.0 - reflection**2)
    return lpc


@TRANSFORMS.register("formant_bandwidth")
def _formant_bandwidth(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, FormantBandwidth.OPTIONS, ctx)
    widen = parse_draw(require(options, "widen_hz", ctx), where=ctx.where, name="widen_hz", minimum=0, maximum=2000)
    order = options.get("order", 2 + ctx.sample_rate // 1000)  # the usual LPC order: 2 + kHz
    if not isinstance(order, int) or isinstance(order, bool) or not 2 <= order <= 64:
        raise ConfigError(f"{ctx.where}: order must be an int in [2, 64] (LPC order; 2 + kHz is usual), got {order!r}")
    return FormantBandwidth(widen, order, prob)
