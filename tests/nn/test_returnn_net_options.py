"""RETURNN net-dict details beyond the layer classes: its options of every layer (accepted without effect, or a named
error), n_out as a check, concat pairs, merge_dims axes, activation expressions, eval functions written for RETURNN,
combine's bias/activation, dropout and L2 inside rec units, and one error listing everything a net dict lacks."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from seqtrain.errors import ConfigError
from seqtrain.model.context import StepContext
from seqtrain.nn.layer import activation_fn
from seqtrain.nn.layers import layer_classes
from seqtrain.nn.net_dict import parse_net_dict
from seqtrain.nn.net_module import Network
from seqtrain.nn.returnn_layers import IGNORED_LAYER_OPTIONS, SAME_NAME_NOTES, UNSUPPORTED_LAYER_OPTIONS
from seqtrain.nn.seq import Seq, SeqInfo
from tests.nn.helpers import explicit_lstm_unit, make_12ax_batch, make_12ax_builder

INFOS = {"data": SeqInfo.dense(9), "classes": SeqInfo.classes(2)}  # RETURNN's 12AX task


def _network(net: dict) -> Network:
    torch.manual_seed(0)
    return Network(parse_net_dict(net, classes=layer_classes(), data_keys=INFOS), INFOS)


def _run(net: Network, name: str, x: torch.Tensor, lengths: list[int]) -> Seq:
    return net({"data": Seq(x, torch.tensor(lengths))}, [name], {})[name]


def test_one_error_lists_every_layer_seqtrain_lacks() -> None:
    """RETURNN's demo-tf-enc-dec shape: top-level classes and rec-unit classes, all named at once."""
    net = {
        "enc": {"class": "rec", "unit": "nativelstm2", "n_out": 4},
        "enc_last": {"class": "get_last_hidden_state", "from": "enc", "n_out": 8},
        "dec": {"class": "rec", "from": [], "target": "classes", "unit": {
            "s": {"class": "rec", "unit": "nativelstm2", "from": ["prev:output", "base:enc_last"], "n_out": 4},
            "prob": {"class": "softmax", "from": "s", "target": "classes", "loss": "ce"},
            "output": {"class": "choice", "from": "prob", "target": "classes", "beam_size": 8}}},
        "eos": {"class": "postfix_in_time", "postfix": 2, "from": "data:classes"},
    }  # fmt: skip
    with pytest.raises(ConfigError) as info:
        _network(net)
    lines = str(info.value).splitlines()
    assert lines[0] == "the net dict has 4 layers whose class seqtrain does not implement:"
    assert lines[1].startswith("  layer 'enc_last': RETURNN layer class 'get_last_hidden_state' is not implemented")
    assert lines[2].startswith("  rec layer 'dec': unit layer 's' of class 'rec' is not supported inside a rec unit")
    assert lines[3].startswith("  rec layer 'dec': unit layer 'output' of class 'choice' is not supported")
    assert lines[4].startswith("  layer 'eos': RETURNN layer class 'postfix_in_time'")
    assert lines[5].startswith("supported unit layer classes: activation, combine")


def test_returnn_options_without_effect_are_accepted_and_the_others_named() -> None:
    plain = _network({"fw": {"class": "rec", "unit": "nativelstm2", "n_out": 3},
                      "output": {"class": "softmax", "from": "fw", "n_out": 2}})  # fmt: skip
    ignored = _network({"fw": {"class": "rec", "unit": "nativelstm2", "n_out": 3, "optimize_move_layers_out": True},
                        "output": {"class": "softmax", "from": "fw", "n_out": 2, "name_scope": "out",
                                   "collocate_with": "fw", "debug_print_layer_output": True}})  # fmt: skip
    x = torch.randn(2, 4, 9)
    torch.testing.assert_close(_run(ignored, "output", x, [4, 2]).tensor, _run(plain, "output", x, [4, 2]).tensor)
    assert set(IGNORED_LAYER_OPTIONS).isdisjoint(UNSUPPORTED_LAYER_OPTIONS)
    for option, value in [("reuse_params", "fw"), ("register_as_extern_data", "x"), ("out_type", {"dim": 2})]:
        message = f"layer 'output' (class 'softmax'): RETURNN layer option {option!r} is not implemented in seqtrain"
        with pytest.raises(ConfigError, match=re.escape(message)):
            _network({"output": {"class": "softmax", "n_out": 2, option: value}})


def test_n_out_of_a_class_that_derives_its_dim_is_checked() -> None:
    net = _network({"a": {"class": "linear", "n_out": 3}, "b": {"class": "linear", "n_out": 3},
                    "sum": {"class": "combine", "kind": "add", "from": ["a", "b"], "n_out": 3},
                    "both": {"class": "copy", "from": ["a", "b"], "n_out": 6}})  # fmt: skip
    assert net.infos["sum"].dim == 3 and net.infos["both"].dim == 6
    with pytest.raises(ConfigError, match=re.escape("layer 'both' (class 'copy'): n_out=5, but the layer's output "
                                                    "has dim 12")):  # fmt: skip
        _network({"a": {"class": "linear", "n_out": 3}, "both": {"class": "copy", "from": ["a", "data"], "n_out": 5}})


def test_concat_takes_returnns_layer_axis_pairs_on_the_feature_axis() -> None:
    net = _network({"a": {"class": "linear", "n_out": 3},
                    "cat": {"class": "concat", "from": [("a", "F"), ("data", "F")]}})  # fmt: skip
    x = torch.randn(2, 4, 9)
    out = net({"data": Seq(x, torch.tensor([4, 3]))}, ["cat", "a"], {})
    torch.testing.assert_close(out["cat"].tensor, torch.cat([out["a"].tensor, x], dim=-1))
    with pytest.raises(ConfigError, match=re.escape("'from' entry ('a', 'T'): only concatenation on the feature")):
        _network({"a": {"class": "linear", "n_out": 3}, "cat": {"class": "concat", "from": [("a", "T")]}})


def test_merge_dims_takes_returnns_axes() -> None:
    infos = {"data": SeqInfo.dense(3, 4)}  # [B, T, 3, 4], e.g. after conv2d
    for axes in ("static", "except_time"):
        spec = parse_net_dict({"flat": {"class": "merge_dims", "axes": axes}}, classes=layer_classes(), data_keys=infos)
        net = Network(spec, infos)
        x = torch.randn(2, 5, 3, 4)
        torch.testing.assert_close(_run(net, "flat", x, [5, 2]).tensor, x.reshape(2, 5, 12))
    with pytest.raises(ConfigError, match="merge_dims: axes 'T' is not supported"):
        _network({"flat": {"class": "merge_dims", "axes": "T"}})


def test_activation_expressions_as_returnn_writes_them() -> None:
    x = torch.randn(3, 5)
    torch.testing.assert_close(activation_fn("2*sigmoid", "t")(x), 2 * torch.sigmoid(x))
    torch.testing.assert_close(activation_fn("3 + 2 * sigmoid", "t")(x), 3 + 2 * torch.sigmoid(x))
    torch.testing.assert_close(activation_fn("tf.nn.relu(x) * 2 - tf.tanh(x)", "t")(x), torch.relu(x) * 2 - x.tanh())
    torch.testing.assert_close(activation_fn("leaky_relu", "t")(x), F.leaky_relu(x, 0.2))  # TensorFlow's slope
    torch.testing.assert_close(activation_fn("none", "t")(x), x)
    for text, message in [("os.system(x)", "os.system is not allowed"), ("2 * y", "'y' is not allowed"),
                          ("sigmoid + 'a'", "only numbers"), ("relu7", "unknown activation 'relu7'")]:  # fmt: skip
        with pytest.raises(ConfigError, match=re.escape(message)):
            activation_fn(text, "layer 'x'")
    net = _network({"dt": {"class": "linear", "activation": "2*sigmoid", "n_out": 1}})
    out = _run(net, "dt", torch.randn(2, 3, 9), [3, 3])
    assert bool(((out.tensor > 0) & (out.tensor < 2)).all())


def test_eval_function_written_for_returnn_is_a_clear_error() -> None:
    def rel_embed(self, source, **kwargs):  # RETURNN's form (demo-tf-hard-att-copy): TensorFlow inside
        raise AssertionError("never called")

    with pytest.raises(ConfigError, match=re.escape("rel_embed takes RETURNN's arguments ['self', 'source']")):
        _network({"e": {"class": "eval", "eval": rel_embed}})
    net = _network({"e": {"class": "eval", "from": ["data", "data"], "eval": lambda a, b: a * b}})
    x = torch.randn(2, 3, 9)
    torch.testing.assert_close(_run(net, "e", x, [3, 2]).tensor, x * x)


def test_combine_with_bias_and_activation_in_a_rec_unit() -> None:
    """RETURNN's demo-tf-att-copy position: t = prev:t + dt, from initial_output -1, a combine with n_out 1."""
    unit = {"dt": {"class": "linear", "activation": "2*sigmoid", "n_out": 1, "from": "data:source"},
            "t": {"class": "combine", "kind": "add", "n_out": 1, "from": ["prev:t", "dt"], "initial_output": -1},
            "output": {"class": "combine", "kind": "add", "from": ["t", "t"], "with_bias": True,
                       "activation": "tanh"}}  # fmt: skip
    net = _network({"rnn": {"class": "rec", "from": "data", "unit": unit}})
    step = net.layer("rnn").step
    assert dict(step.named_parameters())["output.bias"].shape == (1,)
    with torch.no_grad():
        step.layer("output").bias.fill_(0.5)
    x = torch.randn(2, 4, 9)
    out = _run(net, "rnn", x, [4, 3])
    dt = 2 * torch.sigmoid(F.linear(x, step.layer("dt").weight, step.layer("dt").bias))
    t = -1 + dt.cumsum(dim=1)
    expected = torch.tanh(2 * t + 0.5) * torch.tensor([[1.0] * 4, [1.0] * 3 + [0.0]])[:, :, None]
    torch.testing.assert_close(out.tensor, expected)


def test_dropout_and_l2_inside_a_rec_unit() -> None:
    unit = {"h": {"class": "linear", "activation": "tanh", "n_out": 4, "from": ["prev:h", "data:source"],
                  "dropout": 0.5, "L2": 0.01},
            "output": {"class": "copy", "from": "h"}}  # fmt: skip
    network = {"rnn": {"class": "rec", "from": "data", "unit": unit},
               "output": {"class": "softmax", "loss": "ce", "from": "rnn"}}  # fmt: skip
    builder = make_12ax_builder(network)
    torch.manual_seed(0)
    model = builder.build(epoch=1, step=0)
    x = torch.randn(2, 5, 9)
    model.train(False)
    evaluated = model({"data": Seq(x, torch.tensor([5, 4]))}, ["rnn"], {})["rnn"].tensor
    model.train(True)
    torch.manual_seed(1)
    trained = model({"data": Seq(x, torch.tensor([5, 4]))}, ["rnn"], {})["rnn"].tensor
    assert not torch.allclose(trained, evaluated)  # dropout on the step input in training only
    ctx = StepContext(train=True, epoch=1, step=0)
    builder.train_step(model=model, batch=make_12ax_batch([5, 4]), ctx=ctx)
    h = model.layer("rnn").step.layer("h")
    expected = 0.01 * (h.weight.pow(2).sum() + h.bias.pow(2).sum())
    torch.testing.assert_close(ctx.losses["L2"].summed, expected)
    torch.stack([t.summed * t.scale for t in ctx.losses.values() if not t.as_error]).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_explicit_lstm_demo_shape_trains_with_the_output_dim_from_the_target() -> None:
    """RETURNN's demo-tf-rec-explicit-lstm: an LSTM of linear/eval layers in a rec unit, softmax without n_out."""
    unit = explicit_lstm_unit(5, "source(0) * source(1)")
    builder = make_12ax_builder({"lstm": {"class": "rec", "from": ["data"], "unit": unit},
                        "output": {"class": "softmax", "loss": "ce", "from": ["lstm"]}})  # fmt: skip
    torch.manual_seed(0)
    model = builder.build(epoch=1, step=0)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert shapes["lstm.step.input_gate.weight"] == (5, 5 + 9) and shapes["output.weight"] == (2, 5)
    ctx = StepContext(train=True, epoch=1, step=0)
    builder.train_step(model=model, batch=make_12ax_batch([6, 3]), ctx=ctx)
    assert set(ctx.losses) == {"output", "output_error"} and float(ctx.losses["output"].inv_norm_factor) == 9
    ctx.losses["output"].summed.backward()
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters())


def test_notes_name_classes_seqtrain_has() -> None:
    assert set(SAME_NAME_NOTES) <= set(layer_classes())
