"""Net dicts shaped like RETURNN's demos (12AX: dense input dim 9, sparse target dim 2): they build, train a step,
get RETURNN's defaults; what seqtrain lacks fails with a ConfigError naming the layer."""

from __future__ import annotations

import re

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.model.context import StepContext
from seqtrain.nn.layers import LAYERS, layer_classes
from seqtrain.nn.net_dict import parse_net_dict
from seqtrain.nn.net_module import Network
from seqtrain.nn.regularization import filter_grad
from seqtrain.nn.returnn_layers import returnn_layer_support
from seqtrain.nn.seq import Seq, SeqInfo
from tests.nn.helpers import make_12ax_batch, make_12ax_builder


def _train_step(network: dict) -> tuple[torch.nn.Module, StepContext]:
    """Builds the net, runs one training step and its backward pass; every parameter gets a gradient."""
    builder = make_12ax_builder(network)
    torch.manual_seed(0)
    model = builder.build(epoch=1, step=0)
    model.train(True)
    ctx = StepContext(train=True, epoch=1, step=0)
    builder.train_step(model=model, batch=make_12ax_batch([7, 4]), ctx=ctx)
    total = torch.stack([t.summed * t.scale for t in ctx.losses.values() if not t.as_error]).sum()
    total.backward()
    assert all(p.grad is not None for p in model.parameters())
    return model, ctx


@pytest.mark.parametrize(
    "unit", ["nativelstm", "NativeLstm2", "NativeLstmLowMem", "BasicLSTM", "LSTMBlock", "LSTMBlockFused", "lstmp"]
)
def test_12ax_lstm_demos_train_with_n_out_from_the_target(unit: str) -> None:
    model, ctx = _train_step({"fw0": {"class": "rec", "unit": unit, "n_out": 10, "L2": 0.01, "dropout": 0.1},
                              "output": {"class": "softmax", "loss": "ce", "from": ["fw0"]}})  # fmt: skip
    assert model.fw0.weight_ih.shape == (4 * 10, 9) and model.fw0.weight_hh.shape == (4 * 10, 10)
    assert model.output.weight.shape == (2, 10)  # n_out from "classes" (dim 2), target "classes" by default
    assert {"output", "output_error", "L2"} <= set(ctx.losses)
    expected_forget_bias = 1.0 if unit == "BasicLSTM" else 0.0  # RETURNN on TF 2: LSTMBlock* are NativeLSTM2
    assert model.fw0.forget_bias == expected_forget_bias


def test_12ax_tuned_demo_shape_with_bidirectional_stack() -> None:
    net = {
        "fw0": {"class": "rec", "unit": "NativeLstm2", "direction": 1, "n_out": 5, "dropout": 0.1},
        "bw0": {"class": "rec", "unit": "NativeLstm2", "direction": -1, "n_out": 5},
        "output": {"class": "softmax", "loss": "ce", "loss_opts": {"use_fused": False}, "from": ["fw0", "bw0"],
                   "L2": 0.01, "dropout": 0.1, "grad_filter": 1.0, "darc1": 0.01},
    }  # fmt: skip
    model, ctx = _train_step(net)
    assert model.output.weight.shape == (2, 10)
    assert {"output", "output_error", "L2", "darc1"} <= set(ctx.losses)


def test_chunking_blstm_demo_shape_trains() -> None:
    net = {
        "in": {"class": "time_chunking", "chunk_size": 4, "chunk_step": 2, "from": "data"},
        "fw0": {"class": "rec", "unit": "BasicLSTM", "n_out": 3, "from": "in"},
        "bw0": {"class": "rec", "unit": "BasicLSTM", "n_out": 3, "direction": -1, "from": "in"},
        "out": {"class": "time_unchunking", "chunking_layer": "in", "from": ["fw0", "bw0"]},
        "output": {"class": "softmax", "loss": "ce", "from": "out"},
    }
    model, ctx = _train_step(net)
    assert model.output.weight.shape == (2, 6) and float(ctx.losses["output"].inv_norm_factor) == 11


def test_ctc_output_without_n_out_gets_one_more_for_the_blank() -> None:
    spec = parse_net_dict({"output": {"class": "softmax", "loss": "ctc"}}, classes=layer_classes(),
                          data_keys={"data": SeqInfo.dense(9), "classes": SeqInfo.classes(61)})  # fmt: skip
    assert spec.layers["output"].kwargs["n_out"] == 62 and spec.layers["output"].options["target"] == "classes"


def test_unit_opts_forget_bias_and_unsupported_rec_options() -> None:
    model, _ = _train_step({"fw0": {"class": "rec", "unit": "StandardLSTM", "n_out": 3,
                                    "unit_opts": {"forget_bias": 0.5}, "initial_state": "zeros"},
                            "output": {"class": "softmax", "loss": "ce", "from": "fw0"}})  # fmt: skip
    assert model.fw0.forget_bias == 0.5
    for layer, message in [
        ({"unit": "rhn", "n_out": 3}, "unit 'rhn' is not supported (RETURNN's recurrent highway network"),
        ({"unit": "nativelstm2", "n_out": 3, "unit_opts": {"forget_bias": 1.0}}, "unit_opts ['forget_bias'] are not"),
        ({"unit": "lstm", "n_out": 3, "initial_state": "keep_over_epoch"}, "initial_state 'keep_over_epoch'"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            make_12ax_builder({"fw0": {"class": "rec", **layer}, "output": {"class": "softmax", "loss": "ce"}}).build(
                epoch=1, step=0
            )


def test_grad_filter_drops_the_gradient_of_sequences_over_the_threshold() -> None:
    x = torch.ones(3, 2, 4, requires_grad=True)
    scale = torch.tensor([0.1, 5.0, 0.5])[:, None, None]  # squared peaks 0.01, 25, 0.25 against threshold 1
    (filter_grad(x, 1.0) * scale).sum().backward()
    assert x.grad is not None
    assert x.grad[:, 0, 0].tolist() == pytest.approx([0.1, 0.0, 0.5])


def _rec_unit_net(unit: dict, **extra: dict) -> Network:
    infos = {"data": SeqInfo.dense(9), "classes": SeqInfo.classes(2)}
    net = {**extra, "rnn": {"class": "rec", "from": "data", "unit": unit}}
    torch.manual_seed(0)
    return Network(parse_net_dict(net, classes=layer_classes(), data_keys=infos), infos)


def test_rec_unit_reads_a_base_layer_without_time_axis_at_every_step() -> None:
    """base:<name> of a per-sequence layer (reduce over T) is the same value at every step of the loop."""
    unit = {"output": {"class": "linear", "activation": "tanh", "n_out": 3,
                       "from": ["prev:output", "data:source", "base:summary"]}}  # fmt: skip
    net = _rec_unit_net(unit, summary={"class": "reduce", "mode": "mean", "axes": "T", "from": "data"})
    x, lengths = torch.randn(2, 5, 9), torch.tensor([5, 2])
    out = net({"data": Seq(x, lengths)}, ["rnn"], {})["rnn"]
    linear = net.layer("rnn").step.layer("output")
    for b in range(2):
        summary = x[b, : int(lengths[b])].mean(dim=0)
        h = torch.zeros(3)
        for t in range(int(lengths[b])):
            h = torch.tanh(torch.cat([h, x[b, t], summary]) @ linear.weight.T + linear.bias)
            torch.testing.assert_close(out.tensor[b, t], h)
    assert bool((out.tensor[1, 2:] == 0).all())
    padded = x.clone()
    padded[1, 2:] = 100.0  # other padding values: the valid frames stay the same
    again = net({"data": Seq(padded, lengths)}, ["rnn"], {})["rnn"]
    torch.testing.assert_close(again.tensor, out.tensor)


def test_rec_unit_initial_output_is_the_value_of_prev_at_the_first_step() -> None:
    unit = {"acc": {"class": "combine", "kind": "add", "from": ["prev:acc", "data:source"], "initial_output": 1},
            "output": {"class": "copy", "from": "acc"}}  # fmt: skip
    net = _rec_unit_net(unit)
    x, lengths = torch.randn(2, 4, 9), torch.tensor([4, 3])
    out = net({"data": Seq(x, lengths)}, ["rnn"], {})["rnn"]
    torch.testing.assert_close(out.tensor[0], 1.0 + x[0].cumsum(dim=0))


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (  # demo-tf-attention's decoder: the first unsupported unit layer is named, the others listed
            {"from": [], "target": "classes", "loss": "ce", "unit": {
                "s": {"class": "rnn_cell", "unit": "LSTMBlock", "from": ["prev:c"], "n_out": 4},
                "c": {"class": "dot_attention", "from": ["s"], "base": "base:enc"},
                "output": {"class": "softmax", "from": ["s", "c"], "target": "classes"}}},
            "rec layer 'dec': unit layer 's' of class 'rnn_cell' is not supported inside a rec unit (an RNN cell as "
            "one step of a rec unit is not implemented",
        ),
        (  # named before RETURNN-only options of the rec layer such as size_target
            {"from": [], "size_target": "classes", "unit": {
                "att": {"class": "gauss_window_attention", "base": "base:enc"}, "output": {"class": "copy"}}},
            "unit layer 'att' of class 'gauss_window_attention' is not supported inside a rec unit",
        ),
        (
            {"from": [], "unit": {"output": {"class": "linear", "n_out": 2, "from": "prev:output"}}},
            "'from': [] is a loop without input, driven by its target or by search",
        ),
        (
            {"unit": {"output": {"class": "softmax", "from": "data:source", "target": "classes", "loss": "ce"}}},
            "unit layer 'output': options ['loss', 'target'] are not supported inside a rec unit",
        ),
    ],
)  # fmt: skip
def test_rec_units_returnn_decoders_are_clear_errors(layer: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_12ax_builder({"enc": {"class": "linear", "n_out": 4}, "dec": {"class": "rec", **layer},
                  "output": {"class": "softmax", "loss": "ce", "from": "enc"}}).build(epoch=1, step=0)  # fmt: skip


def test_returnn_layer_support_lists_both_sides() -> None:
    same, missing = returnn_layer_support(LAYERS.names())
    assert {"rec", "softmax", "linear", "time_chunking", "eval", "copy"} <= set(same)
    assert "self_attention" in same and "choice" in missing and "neural_transducer" in missing
    assert "beam search" in missing["choice"] and not set(same) & set(missing)
