"""Fixed transforms of log-spectral features, e.g. keeping only the spectral envelope of log-mel frames.

`cepstral_smoothing` is liftering done in the feature domain: a DCT-II of each log-mel frame (its cepstrum,
the MFCCs), only the first `num_coefficients` kept, then the inverse DCT back to the same bins. What the
low coefficients describe is the envelope (formants, tilt); the high ones the harmonics of the voice's pitch
and the synthesizer's fine structure. A model that only sees the envelope cannot learn one speaker's or one
engine's harmonics, and the output still has one value per mel bin, so 2D convolutions and SpecAugment's
frequency masks work on it as on log-mel. It has no parameters (a fixed projection, kept out of checkpoints).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer, require_dense_1d
from seqtrain.nn.seq import Seq, SeqInfo


def dct_matrix(num_bins: int) -> torch.Tensor:
    """The orthonormal DCT-II as a [num_bins, num_bins] matrix: row k is the k-th cosine over the bins."""
    bins = torch.arange(num_bins, dtype=torch.float64)
    k = bins.unsqueeze(1)
    basis = torch.cos(math.pi / num_bins * (bins + 0.5) * k)
    basis[0] *= 1.0 / math.sqrt(2.0)
    return basis * math.sqrt(2.0 / num_bins)


def envelope_projection(num_bins: int, num_coefficients: int) -> torch.Tensor:
    """[num_bins, num_bins]: frame @ P keeps the first `num_coefficients` DCT coefficients of the frame."""
    low = dct_matrix(num_bins)[:num_coefficients]
    return low.T @ low


class CepstralSmoothingLayer(Layer):
    """`{"class": "cepstral_smoothing", "from": "data", "num_coefficients": 20}` on [B, T, bins] log-mel."""

    layer_class = "cepstral_smoothing"

    def __init__(self, sources: list[SeqInfo], *, num_coefficients: int) -> None:
        super().__init__(sources)
        num_bins = require_dense_1d(sources[0], "cepstral_smoothing")
        if isinstance(num_coefficients, bool) or not isinstance(num_coefficients, int):
            raise ConfigError(f"cepstral_smoothing: num_coefficients must be an int, got {num_coefficients!r}")
        if not 1 <= num_coefficients <= num_bins:
            raise ConfigError(
                f"cepstral_smoothing: num_coefficients must be 1..{num_bins} (the input's bins), got {num_coefficients}"
            )
        projection = envelope_projection(num_bins, num_coefficients).to(torch.float32)
        self.register_buffer("projection", projection, persistent=False)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        smoothed = x.tensor.float() @ self.projection
        return x.replace(smoothed.to(x.tensor.dtype))


LAYERS: list[type[Layer]] = [CepstralSmoothingLayer]
