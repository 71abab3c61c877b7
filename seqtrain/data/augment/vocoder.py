"""`vocoder`: the utterance spoken again through an LPC vocoder, with a new, drawn pitch and a buzz-or-hiss source.

Why: what separates a test synthesizer the model never heard from the training ones is mostly how the waveform is
made, not the vocal tract: diphone voices (flite's kal) excite LPC filters, statistical parametric ones (flite's
awb, rms, slt; HTS) drive a vocoder with pulses and noise. Speed, pitch and EQ keep espeak-ng's own source; the
vocoder replaces it, so the model hears the same words (the same spectral envelopes, frame by frame) made the way
those synthesizers make them: a monotone-ish pulse train where the frame is voiced, noise where it is not.

How: the frames of `source_filter.framewise` (32 ms Hann frames at 75 % overlap), each frame's envelope an all-pole
(LPC) fit. Each frame's voicing (0..1) is read from the normalized autocorrelation of its LPC residual (below
1 kHz) at pitch lags (70-400 Hz, divided by the window's own autocorrelation, as Boersma's pitch tracker does):
a clearly periodic frame gets pulses, a noise-like one noise, frames between a mix at the same power. The pulses
follow the drawn `f0_hz` with a declination from 1.1 to 0.9 times it over the utterance (a falling sentence
contour, no other intonation). Each frame keeps its energy; silent frames (digital zero) stay silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.augment.options import Draw, parse_draw
from seqtrain.data.augment.source_filter import (
    energy_scale,
    envelope,
    fit_sounding_frames,
    frame_sizes,
    framewise,
    lpc_order,
    short_time_spectrum,
)
from seqtrain.data.augment.transform import TRANSFORMS, AugmentContext, Params, Transform, check_options, require

_PITCH_RANGE_HZ = (70.0, 400.0)  # where the voicing looks for a period: low male to high child voices
_UNVOICED, _VOICED = 0.45, 0.8  # normalized autocorrelation peak: noise-like below, clearly periodic above
_LOW_PASS_HZ = 1000.0  # the voicing reads the residual below this: the first harmonics, above the noise (SIFT's idea)
_DECLINATION = (1.1, 0.9)  # pitch at the start and at the end, relative to the drawn f0


@dataclass(frozen=True)
class Vocoder(Transform):
    OPTIONS = ("f0_hz", "order")
    f0_hz: Draw
    order: int
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        return {"f0_hz": self.f0_hz.sample(rng), "seed": int(rng.integers(2**63 - 1))}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        if len(samples) == 0:
            return samples
        rng = np.random.default_rng(params["seed"])
        pulses = _unit_power(short_time_spectrum(pulse_train(len(samples), params["f0_hz"], sample_rate), sample_rate))
        noise = _unit_power(short_time_spectrum(rng.standard_normal(len(samples)), sample_rate))
        voiced = frame_voicing(samples, sample_rate, self.order)

        def resynthesize(spectrum: np.ndarray, power: np.ndarray, speech: np.ndarray, lpc: np.ndarray) -> None:
            share = voiced[speech]
            source = np.sqrt(share) * pulses[:, speech] + np.sqrt(1 - share) * noise[:, speech]
            spoken = envelope(lpc, spectrum.shape[0]) * source
            spectrum[:, speech] = spoken * energy_scale(power[:, speech], np.abs(spoken) ** 2)

        return framewise(samples, sample_rate, self.order, resynthesize)


def pulse_train(num_samples: int, f0_hz: float, sample_rate: int) -> np.ndarray:
    """Unit pulses at a pitch falling linearly from 1.1 * f0_hz to 0.9 * f0_hz over `num_samples`."""
    f0 = f0_hz * np.linspace(*_DECLINATION, num_samples)
    periods = np.floor(np.cumsum(f0 / sample_rate))  # completed pitch periods at each sample
    pulses = np.zeros(num_samples)
    pulses[0] = 1.0
    pulses[1:][np.diff(periods) > 0] = 1.0  # a pulse where a new period begins
    return pulses


def frame_voicing(samples: np.ndarray, sample_rate: int, order: int) -> np.ndarray:
    """Per frame of `short_time_spectrum`, 0 (noise-like) .. 1 (periodic at a pitch in 70-400 Hz).

    Read from the LPC residual (the frame with its envelope divided out) below 1 kHz, as SIFT's pitch tracker does: a
    whispered vowel's narrow formants ring, and the ringing would look periodic in the signal itself; above 1 kHz the
    whitened residual of noisy speech is mostly the noise. On espeak-ng and Pico training utterances (15-30 dB SNR)
    about half of the frames with sound read as fully voiced, a tenth or fewer as fully unvoiced.
    """
    from scipy.signal import get_window, stft

    n_fft, overlap = frame_sizes(sample_rate)
    padded = np.pad(samples.astype(np.float64), (0, max(0, n_fft - len(samples))))
    # zero-padded to twice the frame: the inverse FFT of a power spectrum is the linear (not circular) autocorrelation
    power = np.abs(stft(padded, window="hann", nperseg=n_fft, noverlap=overlap, nfft=2 * n_fft)[2]) ** 2
    sound, lpc = fit_sounding_frames(np.fft.irfft(power, axis=0)[: order + 1].T, order)  # as framewise fits them
    voicing = np.zeros(power.shape[1])
    if not sound.any():
        return voicing
    inverse_filter = np.abs(np.fft.rfft(lpc, 2 * n_fft, axis=1)).T ** 2  # |A|^2: bins x frames
    below = np.fft.rfftfreq(2 * n_fft, 1 / sample_rate) < _LOW_PASS_HZ
    residual = np.fft.irfft(power[:, sound] * inverse_filter * below[:, None], axis=0)[:n_fft]
    window = get_window("hann", n_fft)
    window_autocorrelation = np.correlate(window, window, "full")[n_fft - 1 :] / np.dot(window, window)
    low, high = int(sample_rate / _PITCH_RANGE_HZ[1]), min(int(sample_rate / _PITCH_RANGE_HZ[0]), n_fft - 1)
    peak = (residual[low : high + 1] / window_autocorrelation[low : high + 1, None]).max(0) / residual[0]
    voicing[sound] = np.clip((peak - _UNVOICED) / (_VOICED - _UNVOICED), 0.0, 1.0)
    return voicing


def _unit_power(spectrum: np.ndarray) -> np.ndarray:
    """Each frame (column) scaled to mean power 1 over the bins: a flat source to put an envelope on."""
    return spectrum / np.sqrt(np.maximum(np.mean(np.abs(spectrum) ** 2, axis=0), 1e-30))


@TRANSFORMS.register("vocoder")
def _vocoder(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, Vocoder.OPTIONS, ctx)
    f0 = parse_draw(require(options, "f0_hz", ctx), where=ctx.where, name="f0_hz", minimum=40, maximum=500)
    return Vocoder(f0, lpc_order(options, ctx), prob)
