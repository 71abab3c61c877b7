"""RETURNN's net-dict conventions and layers from its demos: n_out from the target, the default target, rec units,
time_chunking/time_unchunking, and clear errors for RETURNN layer classes seqtrain lacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.eval_expr import compile_expression
from seqtrain.nn.layers import layer_classes
from seqtrain.nn.losses import compute_loss
from seqtrain.nn.net_dict import parse_net_dict
from seqtrain.nn.net_module import Network
from seqtrain.nn.returnn_layers import RETURNN_LAYER_CLASSES
from seqtrain.nn.seq import Seq, SeqInfo
from tests.nn.helpers import CLASSES, build, explicit_lstm_unit, make_batch, make_builder, run_step

INFOS = {"data": SeqInfo.dense(6), "classes": SeqInfo.classes(CLASSES)}


def _network(net: dict) -> Network:
    torch.manual_seed(0)
    return Network(parse_net_dict(net, classes=layer_classes(), data_keys=INFOS), INFOS)


def test_n_out_comes_from_the_target_and_loss_defaults_to_classes() -> None:
    """RETURNN's 12AX demos: {"class": "softmax", "loss": "ce", "from": "fw0"} without n_out or target."""
    builder = make_builder({"fw0": {"class": "rec", "unit": "NativeLstm2", "n_out": 7, "from": "data"},
                            "output": {"class": "softmax", "loss": "ce", "from": "fw0"}})  # fmt: skip
    model = build(builder)
    assert model.layer("output").out_info.dim == CLASSES
    ctx = run_step(builder, model, make_batch([5, 3], [], frame_labels=True), train=True)
    assert set(ctx.losses) == {"output", "output_error"} and ctx.losses["output"].summed.requires_grad
    spec = parse_net_dict({"output": {"class": "softmax", "loss": "ce"}}, classes=layer_classes(),
                          data_keys={**INFOS, "labels": SeqInfo.classes(3)}, default_target="labels")  # fmt: skip
    assert spec.layers["output"].options["target"] == "labels" and spec.layers["output"].kwargs["n_out"] == 3


@pytest.mark.parametrize("unit", ["nativelstm", "NativeLstm2", "NativeLstmLowMem", "BasicLSTM", "LSTMBlockFused"])
def test_returnns_lstm_units_are_torch_lstms(unit: str) -> None:
    model = _network({"fw": {"class": "rec", "unit": unit, "n_out": 4, "unroll": True, "max_seq_len": 100}})
    assert model.layer("fw").unit == "lstm"
    out = model({"data": Seq(torch.randn(2, 5, 6), torch.tensor([5, 3]))}, ["fw"], {})["fw"]
    assert out.tensor.shape == (2, 5, 4)


def test_chunking_with_one_window_per_sequence_changes_nothing() -> None:
    """chunk_size >= every length: one window per sequence, so an LSTM between sees whole sequences."""
    chunked = _network({"in": {"class": "time_chunking", "chunk_size": 9, "chunk_step": 4},
                        "fw": {"class": "lstm", "n_out": 3, "from": "in"},
                        "out": {"class": "time_unchunking", "chunking_layer": "in", "from": "fw"}})  # fmt: skip
    plain = _network({"fw": {"class": "lstm", "n_out": 3}})
    x, lengths = torch.randn(3, 7, 6), torch.tensor([7, 4, 1])
    a = chunked({"data": Seq(x, lengths)}, ["out"], {})["out"]
    b = plain({"data": Seq(x, lengths)}, ["fw"], {})["fw"]
    assert torch.equal(a.lengths, lengths)
    mask = b.frame_mask()
    torch.testing.assert_close(a.tensor * mask, b.tensor * mask)


def test_unchunking_averages_the_overlapping_windows() -> None:
    net = _network({"in": {"class": "time_chunking", "chunk_size": 4, "chunk_step": 2},
                    "out": {"class": "time_unchunking", "chunking_layer": "in", "from": "in"}})  # fmt: skip
    x = torch.randn(2, 9, 6, requires_grad=True)
    lengths = torch.tensor([9, 5])
    values = net({"data": Seq(x, lengths)}, ["in", "out"], {})
    windows = values["in"]
    assert windows.tensor.shape == (2 * 4, 4, 6)  # max(9 - 4 + 2 - 1, 0) // 2 + 1 = 4 windows of 4 frames
    assert windows.lengths.tolist() == [4, 4, 4, 3, 4, 3, 1, 0]
    out = values["out"]
    mask = out.frame_mask()
    torch.testing.assert_close(out.tensor * mask, x * mask)  # identical overlaps average to themselves
    (out.tensor * mask).sum().backward()
    torch.testing.assert_close(x.grad, mask.expand_as(x).float())  # each frame's gradient split over its windows


def test_chunking_errors() -> None:
    with pytest.raises(ConfigError, match="chunking_layer 'fw' is not a time_chunking layer"):
        _network({"fw": {"class": "lstm", "n_out": 3},
                  "out": {"class": "time_unchunking", "chunking_layer": "fw", "from": "fw"}})  # fmt: skip
    with pytest.raises(ConfigError, match="chunk_size and chunk_step must be ints >= 1"):
        _network({"in": {"class": "time_chunking", "chunk_size": 0, "chunk_step": 2}})


@pytest.mark.parametrize(
    ("layer_class", "message"),
    [
        ("neural_transducer", "RETURNN layer class 'neural_transducer' is not implemented in seqtrain"),
        ("choice", "beam search inside a rec loop"),
        ("conv", "use conv1d or conv2d"),
        ("lineer", "unknown layer class 'lineer'; did you mean 'linear'"),
    ],
)
def test_returnn_layer_classes_seqtrain_lacks_are_named(layer_class: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _network({"out": {"class": layer_class}})


def test_returnn_layer_class_list_matches_an_installed_returnn() -> None:
    returnn = pytest.importorskip("returnn")
    source = Path(returnn.__file__).parent / "tf" / "layers"
    names = set()
    for path in source.glob("*.py"):
        names |= set(re.findall(r'^    layer_class = "([a-z_0-9]+)"', path.read_text(), flags=re.M))
    assert names - RETURNN_LAYER_CLASSES == set()
    assert RETURNN_LAYER_CLASSES - names == {"neural_transducer", "torch"}  # from older RETURNN versions


def test_rec_unit_is_the_explicit_recurrence_frame_by_frame() -> None:
    """RETURNN's demo-tf-rec-explicit-rnn: output_t = tanh(W [output_{t-1}; x_t] + b)."""
    output = {"class": "linear", "activation": "tanh", "from": ["prev:output", "data:source"], "n_out": 4}
    net = _network({"rnn": {"class": "rec", "from": "data", "unit": {"output": output}}})
    x, lengths = torch.randn(2, 5, 6), torch.tensor([5, 3])
    out = net({"data": Seq(x, lengths)}, ["rnn"], {})["rnn"]
    linear = net.layer("rnn").step.layer("output")
    weight, bias = linear.weight, linear.bias
    for b in range(2):
        h = torch.zeros(4)
        for t in range(int(lengths[b])):
            h = torch.tanh(torch.cat([h, x[b, t]]) @ weight.T + bias)
            torch.testing.assert_close(out.tensor[b, t], h)
    assert bool((out.tensor[1, 3:] == 0).all())  # padding frames are zero
    alone = net({"data": Seq(x[1:, :3], lengths[1:])}, ["rnn"], {})["rnn"]
    torch.testing.assert_close(alone.tensor[0], out.tensor[1, :3])  # padding never leaks into valid frames


def test_rec_unit_lstm_of_eval_strings_settles_its_dims() -> None:
    """RETURNN's demo-tf-rec-explicit-lstm: prev:c and prev:output get the dims their layers compute."""
    unit = explicit_lstm_unit(3, "source(0) * tf.tanh(source(1))")
    net = _network({"lstm": {"class": "rec", "from": "data", "unit": unit}, "out": {"class": "softmax", "n_out": 2,
                                                                               "from": "lstm"}})  # fmt: skip
    assert net.infos["lstm"].dim == 3 and net.layer("lstm").step.infos["input"].dim == 3 + 6
    out = net({"data": Seq(torch.randn(2, 4, 6), torch.tensor([4, 2]))}, ["out"], {})["out"]
    out.tensor.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize(
    ("unit", "message"),
    [
        ({"output": {"class": "linear", "n_out": 2, "from": "base:nowhere"}}, "'nowhere' is no layer of the network"),
        ({"output": {"class": "linear", "n_out": 2, "from": "base:encoder"}}, "base:encoder has a time axis"),
        ({"output": {"class": "linear", "n_out": 2, "from": "data:classes"}}, "targets inside the loop"),
        ({"output": {"class": "linear", "n_out": 2, "from": "prev:s"}}, "'s' is no layer of the unit"),
        (
            {"output": {"class": "choice", "from": "data:source"}},
            "'choice' is not supported inside a rec unit \\(beam search",
        ),
        ({"output": {"class": "self_attention", "from": "data:source"}}, "keys and values of all previous steps"),
        ({"output": {"class": "conv1d", "from": "data:source"}}, "whole sequence, not one frame"),
        ({"output": {"class": ["linear"], "n_out": 2}}, "must be a layer class name inside a rec unit"),
        ({"output": {"class": "rec", "unit": "nativelstm2", "n_out": 2}}, "a recurrence inside a rec unit"),
        ({"s": {"class": "linear", "n_out": 2}}, "needs a layer named 'output'"),
        ({"output": {"class": "linear", "n_out": 2, "param_variational_noise": 0.1}}, r"options \['param_variat"),
        ({"output": {"class": "linear", "n_out": 2, "dropout": {1: 0.1}}}, "only a number >= 0 \\(no schedule\\)"),
        (
            {"output": {"class": "linear", "from": ["prev:output"]}},
            r"layer 'output' \(class 'linear'\): missing .*n_out",
        ),
    ],
)
def test_rec_unit_errors_name_the_unit_layer(unit: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _network({"encoder": {"class": "linear", "n_out": 3}, "rnn": {"class": "rec", "from": "data", "unit": unit}})


def test_eval_strings_are_interpreted_not_executed() -> None:
    a, b = torch.randn(3), torch.randn(3)
    torch.testing.assert_close(compile_expression("tf.nn.relu(source(0)) * 2 - source(1) ** 2")(a, b),
                               torch.relu(a) * 2 - b**2)  # fmt: skip
    for text, message in [
        ("__import__('os').system('true')", "not allowed"),
        ("source(0).exp()", "not allowed"),
        ("open('x')", "open is not allowed"),
        ("source(0) +", "not a valid expression"),
    ]:
        with pytest.raises(ConfigError, match=message):
            compile_expression(text)


def test_only_on_eval_edit_distance_and_darc1() -> None:
    """RETURNN's TIMIT demo: a CTC output with darc1, and an eval-only label error rate by edit distance."""
    net = {
        "output": {"class": "softmax", "loss": "ctc", "n_out": CLASSES + 1, "darc1": 0.001},
        "ler": {"class": "copy", "from": "output", "only_on_eval": True, "loss": "edit_distance",
                "loss_opts": {"ctc_decode": True, "label_map": {1: 0}}},
    }  # fmt: skip
    builder = make_builder(net)
    model = build(builder)
    batch = make_batch([8, 6], [3, 2])
    train = run_step(builder, model, batch, train=True)
    assert "ler" not in train.losses and "darc1" in train.losses
    output = model.layer("output")
    logits = torch.nn.functional.linear(batch["data"], output.weight, output.bias)  # before the log-softmax
    mask = Seq(logits, batch.lengths["data"]).frame_mask().float()
    expected = 0.001 * (logits.abs() * mask).reshape(-1, CLASSES + 1).sum(0).max()
    torch.testing.assert_close(train.losses["darc1"].summed, expected)
    evaluation = run_step(builder, model, batch, train=False)
    ler = evaluation.losses["ler"]
    assert ler.as_error and float(ler.inv_norm_factor) == 5 and not ler.summed.requires_grad
    assert 0 <= float(ler.summed) <= 8 + 6


def test_edit_distance_loss_values() -> None:
    hyp = Seq(torch.tensor([[1, 2, 3, 0], [2, 2, 0, 0]]), torch.tensor([3, 2]))
    ref = Seq(torch.tensor([[1, 3, 0], [2, 0, 0]]), torch.tensor([2, 1]))
    (term,) = compute_loss("edit_distance", hyp, ref, {}, "test")
    assert term.values.tolist() == [1.0, 1.0] and term.inv_norm_factor == 3 and term.as_error
    (mapped,) = compute_loss("edit_distance", hyp, ref, {"label_map": {2: 1, 3: 1}}, "test")
    assert mapped.values.tolist() == [1.0, 1.0]  # [1,1,1] vs [1,1]; [1,1] vs [1]


def test_tensorflow_lstm_cells_add_tfs_forget_bias() -> None:
    """BasicLSTM/StandardLSTM add 1.0 to the forget gate, as TensorFlow's LSTMCell does; RETURNN runs the other
    LSTM names (LSTMBlock(Fused) too, on TensorFlow 2) as its NativeLSTM2 without one."""
    x, lengths = torch.randn(2, 4, 6), torch.tensor([4, 3])
    basic = _network({"fw": {"class": "rec", "unit": "BasicLSTM", "n_out": 3}})
    native = _network({"fw": {"class": "rec", "unit": "NativeLstm2", "n_out": 3}})  # same seed: same parameters
    with torch.no_grad():
        native.layer("fw").bias_ih[3:6] += 1.0
    a = basic({"data": Seq(x, lengths)}, ["fw"], {})["fw"].tensor
    b = native({"data": Seq(x, lengths)}, ["fw"], {})["fw"].tensor
    torch.testing.assert_close(a, b)
    assert basic.layer("fw").forget_bias == 1.0 and native.layer("fw").forget_bias == 0.0
