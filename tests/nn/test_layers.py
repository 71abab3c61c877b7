"""Layers: output lengths through subsampling, and padding never leaking into valid frames.

The leak test fills the padding of a batch with large garbage and compares every sequence's valid
frames to the same sequence computed alone: any layer that let padding in would differ.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.layers import layer_classes
from seqtrain.nn.layers.norm import MaskedBatchNorm
from seqtrain.nn.net_dict import parse_net_dict
from seqtrain.nn.net_module import Network
from seqtrain.nn.seq import Seq, SeqInfo

DIM = 8


def _network(net: dict[str, Any], dim: int = DIM) -> Network:
    spec = parse_net_dict(net, classes=layer_classes(), data_keys={"data"})
    torch.manual_seed(0)
    model = Network(spec, {"data": SeqInfo.dense(dim)})
    return model.eval()


def _run(model: Network, x: torch.Tensor, lengths: list[int], layer: str = "out") -> Seq:
    with torch.no_grad():
        return model({"data": Seq(x, torch.tensor(lengths))}, [layer], {})[layer]


@pytest.mark.parametrize(
    ("layer", "lengths", "expected"),
    [
        ({"class": "conv1d", "n_out": 4, "filter_size": 3, "strides": 2}, [10, 7, 1], [5, 4, 1]),
        ({"class": "conv1d", "n_out": 4, "filter_size": 3, "strides": 2, "padding": "valid"}, [10, 7, 3], [4, 3, 1]),
        ({"class": "conv1d", "n_out": 4, "filter_size": 3, "dilation_rate": 2, "padding": "valid"}, [10, 5], [6, 1]),
        ({"class": "pool", "mode": "max", "pool_size": 3, "strides": 2}, [10, 7, 1], [5, 4, 1]),
        ({"class": "pool", "mode": "avg", "pool_size": 2, "padding": "valid"}, [10, 7, 1], [5, 3, 0]),
        ({"class": "slice", "axis": "T", "slice_start": 1, "slice_step": 2}, [10, 7, 1], [5, 3, 0]),
        ({"class": "slice", "axis": "T", "slice_end": 6}, [10, 4], [6, 4]),
    ],
)
def test_output_lengths_through_subsampling(layer: dict, lengths: list[int], expected: list[int]) -> None:
    model = _network({"out": {**layer, "from": "data"}})
    out = _run(model, torch.randn(len(lengths), max(lengths), DIM), lengths)
    assert out.lengths.tolist() == expected
    assert out.tensor.shape[1] >= max(expected)


def test_two_strided_conv2d_give_4x_subsampling_in_time_and_frequency() -> None:
    model = _network(
        {
            "c1": {"class": "conv2d", "from": "data", "n_out": 3, "filter_size": (3, 3), "strides": (2, 2)},
            "c2": {"class": "conv2d", "from": "c1", "n_out": 5, "filter_size": (3, 3), "strides": (2, 2)},
            "out": {"class": "merge_dims", "from": "c2"},
        },
        dim=80,
    )
    out = _run(model, torch.randn(2, 50, 80), [50, 23])
    assert out.lengths.tolist() == [13, 6]
    assert model.infos["c2"].feature_shape == (20, 5) and out.tensor.shape == (2, 13, 100)


LEAK_CASES = {
    "conv1d": {"out": {"class": "conv1d", "from": "data", "n_out": 4, "filter_size": 5, "strides": 2}},
    "conv2d": {"out": {"class": "conv2d", "from": "data", "n_out": 3, "filter_size": (3, 3), "strides": (2, 1)}},
    "max_pool": {"out": {"class": "pool", "from": "data", "mode": "max", "pool_size": 3, "strides": 2}},
    "avg_pool": {"out": {"class": "pool", "from": "data", "mode": "avg", "pool_size": (2, 2)}},
    "blstm": {"out": {"class": "blstm", "from": "data", "n_out": 5}},
    "backward_lstm": {"out": {"class": "lstm", "from": "data", "n_out": 5, "direction": -1}},
    "rec_gru": {"out": {"class": "rec", "unit": "gru", "from": "data", "n_out": 5, "direction": -1}},
    "bgru": {"out": {"class": "bgru", "from": "data", "n_out": 3}},
    "self_attention": {"out": {"class": "self_attention", "from": "data", "num_heads": 2, "pos_enc": "rotary"}},
    "transformer": {"out": {"class": "transformer_block", "from": "data", "num_heads": 2}},
    "conformer": {"out": {"class": "conformer_block", "from": "data", "num_heads": 2, "conv_kernel_size": 5}},
    "conformer_ln": {
        "out": {
            "class": "conformer_block",
            "from": "data",
            "num_heads": 2,
            "conv_kernel_size": 3,
            "conv_norm": "layer_norm",
        }
    },
    "norm_T": {"out": {"class": "norm", "from": "data", "axes": "T"}},
    "reduce_mean": {"out": {"class": "reduce", "from": "data", "mode": "mean", "axis": "T"}},
    "reduce_max": {"out": {"class": "reduce", "from": "data", "mode": "max", "axis": "T"}},
    "stack": {
        "a": {"class": "linear", "from": "data", "n_out": 6, "activation": "tanh"},
        "b": {"class": "conv1d", "from": "a", "n_out": 6, "filter_size": 3},
        "c": {"class": "combine", "from": ["a", "b"], "kind": "add"},
        "d": {"class": "positional_encoding", "from": "c"},
        "out": {"class": "copy", "from": ["c", "d"]},
    },
}


@pytest.mark.parametrize("case", sorted(LEAK_CASES))
def test_padding_never_leaks_into_valid_frames(case: str) -> None:
    model = _network(LEAK_CASES[case])
    lengths = [13, 9, 4]
    torch.manual_seed(1)
    x = torch.randn(3, 13, DIM)
    garbage = x.clone()
    for b, n in enumerate(lengths):
        garbage[b, n:] = 1e3 * torch.randn(13 - n, DIM)
    batched = _run(model, garbage, lengths)
    for b, n in enumerate(lengths):
        alone = _run(model, x[b : b + 1, :n], [n])
        if alone.lengths is None:
            torch.testing.assert_close(batched.tensor[b], alone.tensor[0], rtol=1e-4, atol=1e-5)
        else:
            valid = int(alone.lengths[0])
            assert int(batched.lengths[b]) == valid
            torch.testing.assert_close(batched.tensor[b, :valid], alone.tensor[0, :valid], rtol=1e-4, atol=1e-5)


def test_masked_batch_norm_uses_only_valid_frames() -> None:
    norm = MaskedBatchNorm(3, momentum=0.5)
    x = torch.randn(2, 6, 3)
    x[1, 2:] = 1e4  # padding
    mask = torch.tensor([[True] * 6, [True, True] + [False] * 4])
    y = norm.train()(x, mask)
    frames = torch.cat([x[0], x[1, :2]])
    torch.testing.assert_close(y[mask].mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y[mask].var(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    torch.testing.assert_close(norm.running_mean, 0.5 * frames.mean(0))
    torch.testing.assert_close(norm.running_var, 0.5 + 0.5 * frames.var(0, unbiased=True))


def test_backward_lstm_equals_forward_lstm_on_reversed_input() -> None:
    fwd = _network({"out": {"class": "lstm", "from": "data", "n_out": 4}})
    bwd = _network({"out": {"class": "lstm", "from": "data", "n_out": 4, "direction": -1}})
    bwd.load_state_dict(fwd.state_dict())
    x = torch.randn(1, 7, DIM)
    torch.testing.assert_close(_run(bwd, x, [7]).tensor, _run(fwd, x.flip(1), [7]).tensor.flip(1))


def test_layer_classes_reject_bad_inputs_with_the_layer_named() -> None:
    with pytest.raises(ConfigError, match=r"layer 'out' \(class 'linear'\).*merge_dims"):
        _network(
            {
                "c": {"class": "conv2d", "from": "data", "n_out": 2, "filter_size": (3, 3)},
                "out": {"class": "linear", "from": "c", "n_out": 2},
            }
        )
    with pytest.raises(ConfigError, match="mode must be"):
        _network({"out": {"class": "pool", "from": "data", "mode": "median"}})
    with pytest.raises(ConfigError, match="cannot concatenate"):
        spec = parse_net_dict(
            {"out": {"class": "copy", "from": ["data", "data:classes"]}},
            classes=layer_classes(),
            data_keys={"data", "classes"},
        )
        Network(spec, {"data": SeqInfo.dense(DIM), "classes": SeqInfo.classes(3)})
