"""Reverberation: convolution with a room impulse response, recorded (files) or generated.

A recorded RIR is aligned at its strongest tap (the direct sound), so the words stay where they were and the
alignment-free duration is unchanged; the output is rescaled to the input's power, as Kaldi's
reverberate-data does, so that level stays the business of the gain transform. A generated RIR is the
statistical model of a diffuse room: a direct path followed, after a short pre-delay, by Gaussian noise
decaying 60 dB over the drawn RT60.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.augment.audio_files import AudioFile, list_audio_files, read_whole
from seqtrain.data.augment.options import Draw, parse_draw
from seqtrain.data.augment.transform import TRANSFORMS, AugmentContext, Params, Transform, check_options
from seqtrain.errors import ConfigError


def synthetic_rir(
    rt60_s: float, sample_rate: int, rng: np.random.Generator, *, predelay_s: float = 0.005
) -> np.ndarray:
    """Direct path 1.0, then exponentially decaying noise (-60 dB at rt60_s) up to 1.2 * rt60_s."""
    delay = int(predelay_s * sample_rate)
    tail = int(1.2 * rt60_s * sample_rate)
    t = np.arange(tail) / sample_rate
    decay = rng.standard_normal(tail) * np.exp(-6.9078 * t / rt60_s)  # ln(1000) = 6.9078: -60 dB in amplitude^2
    rir = np.zeros(delay + tail, dtype=np.float64)
    rir[0] = 1.0
    rir[delay:] += 0.3 * decay
    return rir


@dataclass(frozen=True)
class Reverb(Transform):
    OPTIONS = ("manifest", "files", "rt60_s")
    files: tuple[AudioFile, ...]
    rt60_s: Draw | None
    prob: float = 1.0

    def draw(self, rng: np.random.Generator, num_samples: int) -> Params:
        if self.files:
            return {"file": self.files[int(rng.integers(len(self.files)))]}
        assert self.rt60_s is not None
        return {"rt60_s": self.rt60_s.sample(rng), "seed": int(rng.integers(2**63 - 1))}

    def apply(self, samples: np.ndarray, params: Params, sample_rate: int) -> np.ndarray:
        from scipy.signal import oaconvolve

        if "file" in params:
            rir = read_whole(params["file"], sample_rate).astype(np.float64)
        else:
            rir = synthetic_rir(params["rt60_s"], sample_rate, np.random.default_rng(params["seed"]))
        start = int(np.argmax(np.abs(rir)))
        wet = oaconvolve(samples, rir.astype(np.float32))[start : start + len(samples)].astype(np.float64)
        power_in = float(np.mean(np.square(samples, dtype=np.float64)))
        power_out = float(np.mean(np.square(wet)))
        if power_out > 0:
            wet *= np.sqrt(power_in / power_out)
        return wet.astype(np.float32)


@TRANSFORMS.register("reverb")
def _reverb(options: dict[str, Any], ctx: AugmentContext, prob: float) -> Transform:
    check_options(options, Reverb.OPTIONS, ctx)
    recorded = "manifest" in options or "files" in options
    if recorded == ("rt60_s" in options):
        raise ConfigError(
            f"{ctx.where}: give recorded room impulse responses ('manifest' or 'files') or 'rt60_s' for generated ones"
        )
    if recorded:
        return Reverb(list_audio_files(options, ctx, what="room impulse response"), None, prob)
    return Reverb((), parse_draw(options["rt60_s"], where=ctx.where, name="rt60_s", minimum=0.05, maximum=3.0), prob)
