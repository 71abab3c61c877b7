"""Source and filter: broader formants (`formant_bandwidth`) and a breathier voice (`breathiness`), frame by frame.

Why: a formant synthesizer (espeak-ng) renders vowels with sharp, narrow resonances excited by a perfectly
periodic source; recorded voices, and the concatenative or statistical synthesizers built from them (flite),
have broader resonances and aspiration noise between the harmonics. A model trained on one kind reads the peak
shapes and the clean harmonics, not only where the peaks are. Speed and pitch move the peaks and an equalizer
tilts the spectrum, but none of them changes how wide a peak is or how periodic the source.

How: each short-time frame's spectral envelope is an all-pole (LPC) fit 1/|A(z)|, whose poles are the
resonances (scipy's STFT/ISTFT around it, 32 ms Hann frames at 75 % overlap).
- `formant_bandwidth`: moving every pole inward by g = exp(-pi * widen_hz / sample_rate) widens each resonance
  by `widen_hz` Hz at its frequency: the frame is multiplied by |A(z)| / |A(z/g)| (old envelope out, new one in;
  the excitation stays), at the frame's energy.
- `breathiness`: a share `noise_ratio` of each frame's power is replaced by noise shaped by the frame's envelope,
  as aspiration through the same vocal tract: the formants stay, the harmonics between them fill in.
Silent frames (digital zero) are left alone.
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
)
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
        widen_hz = params["widen_hz"]
        if widen_hz <= 0 or len(samples) == 0:
            return samples
        pole_radius = np.exp(-np.pi * widen_hz / sample_rate)

        def swap_envelope(spectrum: np.ndarray, power: np.ndarray, speech: np.ndarray, lpc: np.ndarray) -> None:
            gains = envelope(lpc, spectrum.shape[0], pole_radius) / envelope(lpc, spectrum.shape[0])
            spectrum[:, speech] *= gains * energy_scale(power[:, speech], power[:, speech] * gains**2)

        return framewise(samples, sample_rate, self.order, swap_envelope)


@dataclass(frozen=True)
class Breathiness(Transform):
    OPTIONS = ("noise_ratio", "order")
    noise_ratio: Draw
    order: int
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"noise_ratio": self.noise_ratio.sample(rng), "seed": int(rng.integers(2**63 - 1))}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        ratio = params["noise_ratio"]
        if ratio <= 0 or len(samples) == 0:
            return samples
        noise = short_time_spectrum(np.random.default_rng(params["seed"]).standard_normal(len(samples)), sample_rate)
        noise /= np.sqrt(np.mean(np.abs(noise) ** 2))  # white: about unit power in every bin and frame

        def mix_noise(spectrum: np.ndarray, power: np.ndarray, speech: np.ndarray, lpc: np.ndarray) -> None:
            shape = envelope(lpc, spectrum.shape[0])
            shape *= energy_scale(power[:, speech], shape**2)  # the frame's power, in the envelope's shape
            spectrum[:, speech] = np.sqrt(1 - ratio) * spectrum[:, speech] + np.sqrt(ratio) * shape * noise[:, speech]

        return framewise(samples, sample_rate, self.order, mix_noise)


Change = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


def framewise(samples: np.ndarray, sample_rate: int, order: int, change: Change) -> np.ndarray:
    """STFT, then `change(spectrum, power, speech, lpc)` in place (`speech`: the frames with sound, `lpc`: their
    predictor polynomials), then overlap-add back to exactly `len(samples)` float32 samples."""
    from scipy.signal import istft

    n_fft, overlap = frame_sizes(sample_rate)
    spectrum = short_time_spectrum(samples, sample_rate)
    power = np.abs(spectrum) ** 2  # bins x frames
    speech, lpc = fit_sounding_frames(np.fft.irfft(power, axis=0)[: order + 1].T, order)
    if speech.any():
        change(spectrum, power, speech, lpc)
    _, out = istft(spectrum, window="hann", nperseg=n_fft, noverlap=overlap)
    return fit_length(out.astype(np.float32), len(samples))


def fit_sounding_frames(autocorrelation: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """The frames with sound (not digital zero) and their LPC fits (`autocorrelation`: frames x lags >= order+1)."""
    sound = autocorrelation[:, 0] > 1e-10 * max(float(autocorrelation[:, 0].max()), 1e-30)
    weights = np.ones(order + 1)
    weights[0] += _NOISE_FLOOR
    return sound, levinson_durbin(autocorrelation[sound, : order + 1] * weights, order)


def frame_sizes(sample_rate: int) -> tuple[int, int]:
    n_fft = int(2 ** np.ceil(np.log2(_WINDOW_S * sample_rate)))
    return n_fft, n_fft - n_fft // _HOP_FRACTION


def short_time_spectrum(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """bins x frames, the frames `framewise` works on (a signal shorter than one frame is zero-padded to one)."""
    from scipy.signal import stft

    n_fft, overlap = frame_sizes(sample_rate)
    padded = np.pad(samples.astype(np.float64), (0, max(0, n_fft - len(samples))))
    return stft(padded, window="hann", nperseg=n_fft, noverlap=overlap)[2]


def envelope(lpc: np.ndarray, num_bins: int, pole_radius: float = 1.0) -> np.ndarray:
    """1 / |A(z / pole_radius)| on the STFT's bins: bins x frames (`lpc`: frames x order+1)."""
    order = lpc.shape[1] - 1
    return 1.0 / np.abs(np.fft.rfft(lpc * pole_radius ** np.arange(order + 1), 2 * (num_bins - 1), axis=1)).T


def energy_scale(power: np.ndarray, changed_power: np.ndarray) -> np.ndarray:
    """Per frame, the amplitude factor that gives `changed_power` the frame energy of `power` (bins x frames)."""
    return np.sqrt(power.sum(0) / np.maximum(changed_power.sum(0), 1e-30))


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


def lpc_order(options: dict[str, Any], ctx: AugmentContext) -> int:
    order = options.get("order", 2 + ctx.sample_rate // 1000)  # the usual LPC order: 2 + kHz
    if not isinstance(order, int) or isinstance(order, bool) or not 2 <= order <= 64:
        raise ConfigError(f"{ctx.where}: order must be an int in [2, 64] (LPC order; 2 + kHz is usual), got {order!r}")
    return order


@TRANSFORMS.register("formant_bandwidth")
def _formant_bandwidth(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, FormantBandwidth.OPTIONS, ctx)
    widen = parse_draw(require(options, "widen_hz", ctx), where=ctx.where, name="widen_hz", minimum=0, maximum=2000)
    return FormantBandwidth(widen, lpc_order(options, ctx), prob)


@TRANSFORMS.register("breathiness")
def _breathiness(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, Breathiness.OPTIONS, ctx)
    ratio = parse_draw(require(options, "noise_ratio", ctx), where=ctx.where, name="noise_ratio", minimum=0, maximum=1)
    return Breathiness(ratio, lpc_order(options, ctx), prob)
