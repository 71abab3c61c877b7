"""Acoustic features with kaldi-native-fbank: log-mel filterbank ("fbank") or MFCC, Kaldi's definitions.

`{"type": "fbank", "num_mel_bins": 80}` with the defaults below gives exactly the features of the
tts_digits corpus (25 ms Povey windows every 10 ms, no dither, `snip_edges=False`, input in int16 scale).
The number of frames follows from the number of samples alone (`num_frames`), so a dataset knows its
lengths without decoding any audio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

from seqtrain.errors import ConfigError


@dataclass(frozen=True)
class FeatureOptions:
    type: Literal["fbank", "mfcc"] = "fbank"
    num_mel_bins: int = 80
    num_ceps: int = 13  # mfcc only
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0
    preemph_coeff: float = 0.97
    window_type: str = "povey"
    snip_edges: bool = False
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0: relative to Nyquist
    use_energy: bool = False
    int16_scale: bool = True  # Kaldi's convention: samples in [-32768, 32767]
    dtype: str = "float32"

    @classmethod
    def parse(cls, value: Any, *, where: str) -> FeatureOptions:
        if value is None:
            return cls()
        if isinstance(value, FeatureOptions):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: features must be a dict like {{'type': 'fbank', 'num_mel_bins': 80}}")
        unknown = sorted(set(value) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"{where}: unknown feature options {unknown}; known: {[f.name for f in fields(cls)]}")
        opts = cls(**value)
        if opts.type not in ("fbank", "mfcc"):
            raise ConfigError(f"{where}: features type {opts.type!r}; known: 'fbank', 'mfcc'")
        return opts

    @property
    def dim(self) -> int:
        if self.type == "mfcc":
            return self.num_ceps  # with use_energy, the energy replaces C0
        return self.num_mel_bins + (1 if self.use_energy else 0)

    def window_samples(self, sample_rate: int) -> tuple[int, int]:
        """(frame length, frame shift) in samples."""
        return int(sample_rate * self.frame_length_ms / 1000), int(sample_rate * self.frame_shift_ms / 1000)

    def num_frames(self, num_samples: int | np.ndarray, sample_rate: int) -> int | np.ndarray:
        """Kaldi's frame count: with snip_edges only whole windows, else one frame per shift (rounded)."""
        length, shift = self.window_samples(sample_rate)
        n = np.asarray(num_samples, dtype=np.int64)
        frames = np.where(n >= length, 1 + (n - length) // shift, 0) if self.snip_edges else (n + shift // 2) // shift
        return int(frames) if np.ndim(frames) == 0 else frames

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_features(samples: np.ndarray, sample_rate: int, opts: FeatureOptions) -> np.ndarray:
    """[num_samples] float in [-1, 1] (or int16) -> [num_frames, dim] features."""
    import kaldi_native_fbank as knf

    knf_opts = knf.FbankOptions() if opts.type == "fbank" else knf.MfccOptions()
    frame = knf_opts.frame_opts
    frame.samp_freq = sample_rate
    frame.frame_length_ms = opts.frame_length_ms
    frame.frame_shift_ms = opts.frame_shift_ms
    frame.dither = opts.dither
    frame.preemph_coeff = opts.preemph_coeff
    frame.window_type = opts.window_type
    frame.snip_edges = opts.snip_edges
    knf_opts.mel_opts.num_bins = opts.num_mel_bins
    knf_opts.mel_opts.low_freq = opts.low_freq
    knf_opts.mel_opts.high_freq = opts.high_freq
    knf_opts.use_energy = opts.use_energy
    if opts.type == "mfcc":
        knf_opts.num_ceps = opts.num_ceps
    computer = knf.OnlineFbank(knf_opts) if opts.type == "fbank" else knf.OnlineMfcc(knf_opts)
    wave = np.asarray(samples, dtype=np.float32)
    if opts.int16_scale and np.issubdtype(np.asarray(samples).dtype, np.floating):
        wave = wave * 32768.0
    computer.accept_waveform(sample_rate, wave)
    computer.input_finished()
    num = computer.num_frames_ready
    out = np.empty((num, computer.dim), dtype=np.float32)
    for i in range(num):
        out[i] = computer.get_frame(i)
    return out.astype(opts.dtype, copy=False)
