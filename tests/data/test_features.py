"""Feature options: Kaldi's frame count from the sample count alone, fbank/MFCC dims, option errors."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.features import FeatureOptions, compute_features
from seqtrain.errors import ConfigError


@pytest.mark.parametrize("snip_edges", [False, True])
def test_frame_count_without_decoding_matches_the_computed_features(snip_edges: bool) -> None:
    opts = FeatureOptions(num_mel_bins=23, snip_edges=snip_edges)
    rng = np.random.RandomState(0)
    for num_samples in (0, 79, 80, 159, 160, 399, 400, 401, 4000, 4079, 4080, 16001):
        samples = rng.uniform(-0.5, 0.5, size=num_samples).astype("float32")
        feats = compute_features(samples, 16000, opts) if num_samples else np.zeros((0, 23))
        assert opts.num_frames(num_samples, 16000) == feats.shape[0], num_samples
    lengths = np.array([160, 4000])
    assert opts.num_frames(lengths, 16000).tolist() == [opts.num_frames(160, 16000), opts.num_frames(4000, 16000)]


@pytest.mark.parametrize(
    ("options", "dim"),
    [({}, 80), ({"num_mel_bins": 40, "use_energy": True}, 41), ({"type": "mfcc"}, 13),
     ({"type": "mfcc", "num_ceps": 20, "num_mel_bins": 30, "use_energy": True}, 20)],
)  # fmt: skip
def test_dims(options: dict, dim: int) -> None:
    opts = FeatureOptions.parse(options, where="x")
    samples = np.random.RandomState(1).uniform(-0.1, 0.1, size=3200).astype("float32")
    feats = compute_features(samples, 16000, opts)
    assert opts.dim == dim and feats.shape == (20, dim) and feats.dtype == np.float32 and np.isfinite(feats).all()


def test_int16_scale_is_kaldi_convention() -> None:
    ints = np.random.RandomState(2).randint(-3000, 3000, size=1600).astype("int16")
    as_float = compute_features(ints.astype("float32") / 32768.0, 16000, FeatureOptions())
    as_int = compute_features(ints, 16000, FeatureOptions())
    assert np.array_equal(as_float, as_int)


@pytest.mark.parametrize(
    ("value", "message"),
    [({"typ": "fbank"}, r"unknown feature options \['typ'\]"), ({"type": "plp"}, "features type 'plp'"),
     ("fbank", "features must be a dict")],
)  # fmt: skip
def test_option_errors(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FeatureOptions.parse(value, where="dataset 'train'")
