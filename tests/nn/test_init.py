"""Initializer strings: parsing, TF-style fans, and the drawn distributions (statistical checks on big tensors)."""

from __future__ import annotations

import math

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.init import fans, parse_initializer
from seqtrain.nn.layers import layer_classes
from seqtrain.nn.net_dict import parse_net_dict
from seqtrain.nn.net_module import Network
from seqtrain.nn.seq import SeqInfo

SHAPE = (600, 400)  # torch layout [out, in]: fan_in 400, fan_out 600


def _draw(spec: str | float, shape: tuple[int, ...] = SHAPE) -> torch.Tensor:
    torch.manual_seed(0)
    t = torch.empty(shape)
    parse_initializer(spec)(t)
    return t


def test_fans_follow_tensorflow_for_linear_and_conv_weights() -> None:
    assert fans((600, 400)) == (400, 600)
    assert fans((32, 8, 3, 5)) == (8 * 15, 32 * 15)
    assert fans((7,)) == (7, 7)


@pytest.mark.parametrize("spec", ["glorot_uniform", "xavier_uniform()", "glorot_uniform_initializer"])
def test_glorot_uniform_bound_and_std(spec: str) -> None:
    t = _draw(spec)
    limit = math.sqrt(6 / (400 + 600))
    assert t.abs().max() <= limit
    assert t.abs().max() > 0.99 * limit
    assert abs(t.std().item() - limit / math.sqrt(3)) < 0.01 * limit


def test_variance_scaling_uniform_fan_in() -> None:
    t = _draw("variance_scaling_initializer(scale=0.78, mode='fan_in', distribution='uniform')")
    limit = math.sqrt(3 * 0.78 / 400)
    assert t.abs().max() <= limit and t.abs().max() > 0.99 * limit
    assert abs(t.std().item() - math.sqrt(0.78 / 400)) < 0.01 * math.sqrt(0.78 / 400)


def test_variance_scaling_default_is_truncated_normal_with_the_requested_variance() -> None:
    t = _draw("variance_scaling_initializer(scale=2.0, mode='fan_out')")
    std = math.sqrt(2.0 / 600)
    assert abs(t.std().item() - std) < 0.01 * std  # TF corrects the stddev for the truncation
    assert t.abs().max() <= 2 * std / 0.87962566103423978


def test_random_normal_and_truncated_normal() -> None:
    t = _draw("random_normal(stddev=0.01)")
    assert abs(t.mean().item()) < 2e-4 and abs(t.std().item() - 0.01) < 2e-4
    assert t.abs().max() > 0.04  # untruncated: 4 sigma occurs among 240k draws
    t = _draw("truncated_normal(mean=1.0, stddev=0.1)")
    assert t.min() >= 0.8 and t.max() <= 1.2


def test_random_uniform_constant_and_number() -> None:
    t = _draw("random_uniform(minval=-0.3, maxval=0.1)")
    assert t.min() >= -0.3 and t.max() <= 0.1 and abs(t.mean().item() + 0.1) < 0.002
    assert torch.all(_draw(0.5) == 0.5)
    assert torch.all(_draw("constant(value=-2)") == -2)
    assert torch.all(_draw("zeros") == 0)


def test_orthogonal_gives_orthonormal_rows() -> None:
    t = _draw("orthogonal(gain=1.0)", (50, 80))
    assert torch.allclose(t @ t.T, torch.eye(50), atol=1e-5)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("glorot_unifrom", "unknown initializer"),
        ("random_normal(stdev=0.1)", "unexpected keyword"),
        ("random_normal(stddev=x)", "literals"),
        ("variance_scaling_initializer(mode='fan_middle')", "fan_in, fan_out or fan_avg"),
        ([1, 2], "expected a number"),
    ],
)
def test_bad_initializers_are_config_errors(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_initializer(spec, where="layer 'x': forward_weights_init")  # type: ignore[arg-type]


def test_layer_init_options_apply_by_role() -> None:
    net = {
        "lstm": {
            "class": "lstm",
            "n_out": 40,
            "forward_weights_init": 0.25,
            "recurrent_weights_init": "orthogonal",
            "bias_init": "constant(value=1.0)",
        },
        "norm": {"class": "layer_norm", "from": "lstm", "forward_weights_init": 3.0},
        "output": {"class": "linear", "from": "norm", "n_out": 3},
    }
    spec = parse_net_dict(net, classes=layer_classes(), data_keys={"data"})
    torch.manual_seed(0)
    model = Network(spec, {"data": SeqInfo.dense(10)})
    assert torch.all(model.lstm.weight_ih == 0.25)
    assert torch.allclose(model.lstm.weight_hh.T @ model.lstm.weight_hh, torch.eye(40), atol=1e-5)
    assert torch.all(model.lstm.bias_ih == 1.0) and torch.all(model.lstm.bias_hh == 1.0)
    assert torch.all(model.norm.weight == 1.0)  # norm scales keep their own init
    limit = math.sqrt(6 / (40 + 3))  # default: glorot_uniform, zero bias
    assert model.output.weight.abs().max() <= limit and torch.all(model.output.bias == 0)
