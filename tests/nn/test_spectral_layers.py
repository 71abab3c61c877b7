"""cepstral_smoothing: keeps a frame's spectral envelope, removes its fine structure, has no parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.layers import layer_classes
from seqtrain.nn.layers.spectral import dct_matrix, envelope_projection
from seqtrain.nn.net_dict import parse_net_dict
from seqtrain.nn.net_module import Network
from seqtrain.nn.seq import Seq, SeqInfo

BINS = 80


def _smoothing(num_coefficients: object, source: SeqInfo | None = None) -> Network:
    spec = parse_net_dict(
        {"out": {"class": "cepstral_smoothing", "from": "data", "num_coefficients": num_coefficients}},
        classes=layer_classes(),
        data_keys={"data"},
    )
    return Network(spec, {"data": source or SeqInfo.dense(BINS)}).eval()


def _run(model: Network, x: torch.Tensor) -> torch.Tensor:
    lengths = torch.full((x.shape[0],), x.shape[1])
    with torch.no_grad():
        return model({"data": Seq(x, lengths)}, ["out"], {})["out"].tensor


def test_dct_matrix_is_scipys_orthonormal_dct_ii() -> None:
    frame = np.random.default_rng(0).normal(size=BINS)
    ours = dct_matrix(BINS).numpy() @ frame
    np.testing.assert_allclose(ours, scipy.fft.dct(frame, type=2, norm="ortho"), atol=1e-12)
    projection = envelope_projection(BINS, 20)
    torch.testing.assert_close(projection @ projection, projection)  # a projection: smoothing twice changes nothing


def test_keeps_the_envelope_and_removes_the_harmonics() -> None:
    bins = torch.arange(BINS, dtype=torch.float32)
    envelope = 3.0 * torch.cos(math.pi / BINS * (bins + 0.5) * 2) + torch.cos(math.pi / BINS * (bins + 0.5) * 7)
    harmonics = 2.0 * torch.cos(math.pi / BINS * (bins + 0.5) * 40)  # a ripple every 4 bins: a pitch's harmonics
    frames = (envelope + harmonics).expand(2, 5, BINS).contiguous()
    smoothed = _run(_smoothing(20), frames)
    torch.testing.assert_close(smoothed, envelope.expand(2, 5, BINS), atol=1e-4, rtol=0)


def test_all_coefficients_give_the_input_back_and_nothing_goes_into_checkpoints() -> None:
    model = _smoothing(BINS)
    x = torch.randn(3, 7, BINS)
    torch.testing.assert_close(_run(model, x), x, atol=1e-5, rtol=0)
    assert list(model.state_dict()) == [] and list(model.parameters()) == []


@pytest.mark.parametrize(
    ("num_coefficients", "source", "message"),
    [
        (0, None, r"num_coefficients must be 1\.\.80"),
        (81, None, r"num_coefficients must be 1\.\.80 \(the input's bins\), got 81"),
        (12.5, None, "num_coefficients must be an int, got 12.5"),
        (True, None, "must be an int"),
        (4, SeqInfo.classes(10), "needs dense input"),
        (4, SeqInfo.dense(20, 4), r"needs \[B, T, D\] input"),
    ],
)
def test_bad_options_are_named(num_coefficients: object, source: SeqInfo | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _smoothing(num_coefficients, source)


def test_num_coefficients_is_required() -> None:
    with pytest.raises(ConfigError, match=r"layer 'out' \(class 'cepstral_smoothing'\): missing option\(s\)"):
        parse_net_dict(
            {"out": {"class": "cepstral_smoothing", "from": "data"}}, classes=layer_classes(), data_keys={"data"}
        )
