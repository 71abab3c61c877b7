"""Additive noise at a random signal-to-noise ratio: generated (white, pink, brown) or from recordings.

The SNR is measured over the whole utterance (speech and its pauses), as in Kaldi's and lhotse's noise
augmentation; recordings are read from a random position and looped when shorter than the utterance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.augment.audio_files import AudioFile, list_audio_files, read_segment
from seqtrain.data.augment.options import Draw, parse_choice, parse_draw
from seqtrain.data.augment.transform import TRANSFORMS, AugmentContext, Params, Transform, check_options, require
from seqtrain.errors import ConfigError

NOISE_KINDS = ("white", "pink", "brown")


def colored_noise(kind: str, num_samples: int, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Unit-RMS noise: white, or its spectrum shaped by 1/sqrt(f) (pink) or 1/f (brown), flat below 20 Hz (where
    the mel filterbank sees nothing, so the audible part keeps its share of the power)."""
    if kind == "white" or num_samples <= 1:
        x = rng.standard_normal(num_samples)
    else:  # shaped at a length FFTs are fast for (any noise is as good as another), then cut
        import scipy.fft

        n = scipy.fft.next_fast_len(num_samples, real=True)
        spec = scipy.fft.rfft(rng.standard_normal(n))
        f = np.maximum(np.fft.rfftfreq(n, 1.0 / sample_rate), 20.0)
        spec /= f ** (0.5 if kind == "pink" else 1.0)
        spec[0] = 0.0
        x = scipy.fft.irfft(spec, n)[:num_samples]
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class Noise(Transform):
    OPTIONS = ("snr_db", "kinds", "manifest", "files")
    snr_db: Draw
    kinds: tuple[str, ...]
    files: tuple[AudioFile, ...]
    sample_rate: int
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        params: Params = {"snr_db": self.snr_db.sample(rng)}
        if self.files:
            file = self.files[int(rng.integers(len(self.files)))]
            params["file"] = file
            params["start"] = int(rng.integers(file.duration_at(self.sample_rate)))
        else:
            params["kind"] = self.kinds[int(rng.integers(len(self.kinds)))]
            params["seed"] = int(rng.integers(2**63 - 1))
        return params

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        power = float(np.mean(np.square(samples, dtype=np.float64))) if len(samples) else 0.0
        if power <= 0.0:
            return samples  # digital silence has no SNR to keep
        if "file" in params:
            noise = read_segment(params["file"], params["start"], len(samples), sample_rate)
        else:
            noise = colored_noise(params["kind"], len(samples), np.random.default_rng(params["seed"]), sample_rate)
        noise_power = float(np.mean(np.square(noise, dtype=np.float64)))
        if noise_power <= 0.0:
            return samples
        scale = np.sqrt(power / noise_power * 10 ** (-params["snr_db"] / 10))
        return (samples + scale * noise).astype(np.float32)


@TRANSFORMS.register("noise")
def _noise(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, Noise.OPTIONS, ctx)
    snr = parse_draw(require(options, "snr_db", ctx), where=ctx.where, name="snr_db", minimum=-20, maximum=100)
    recorded = "manifest" in options or "files" in options
    if recorded and "kinds" in options:
        raise ConfigError(
            f"{ctx.where}: give generated noise 'kinds' or recorded noise ('manifest'/'files'), not both; "
            "two noise transforms with their own prob mix them"
        )
    files = list_audio_files(options, ctx, what="noise") if recorded else ()
    kinds = (
        ()
        if recorded
        else parse_choice(options.get("kinds", list(NOISE_KINDS)), where=ctx.where, name="kinds", allowed=NOISE_KINDS)
    )
    return Noise(snr, kinds, files, ctx.sample_rate, prob)
