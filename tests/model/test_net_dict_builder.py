"""The net-dict builder: losses and their scales, eval-only losses, outputs, user layers, checks, signatures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqtrain.config import Config
from seqtrain.errors import ConfigError
from seqtrain.model.builder import FunctionModelBuilder
from seqtrain.model.context import ForwardContext, StepContext
from seqtrain.model.net_dict_builder import NetDictModelBuilder
from seqtrain.nn.layer import Layer
from seqtrain.nn.seq import Seq, SeqInfo
from tests.nn.helpers import CLASSES, FEATURES, build, make_batch, make_builder, run_step

BATCH = make_batch([20, 15, 9], [4, 3, 2])


def _ctc_net(**aux: Any) -> dict[str, Any]:
    return {
        "hidden": {"class": "linear", "from": "data", "n_out": 8, "activation": "tanh"},
        "aux": {"class": "softmax", "from": "hidden", "n_out": CLASSES + 1, "loss": "ctc", "target": "classes", **aux},
        "lstm": {"class": "blstm", "from": "hidden", "n_out": 4},
        "output": {"class": "softmax", "from": "lstm", "n_out": CLASSES + 1, "loss": "ctc", "target": "classes"},
    }


def test_parameter_names_are_the_layer_names() -> None:
    model = build(make_builder(_ctc_net()))
    assert [n for n, _ in model.named_parameters()] == [
        "hidden.weight", "hidden.bias", "aux.weight", "aux.bias",
        "lstm.weight_ih", "lstm.weight_hh", "lstm.bias_ih", "lstm.bias_hh",
        "lstm.weight_ih_reverse", "lstm.weight_hh_reverse", "lstm.bias_ih_reverse", "lstm.bias_hh_reverse",
        "output.weight", "output.bias",
    ]  # fmt: skip


def test_loss_scales_combine_into_the_objective_as_documented() -> None:
    builder = make_builder(_ctc_net(loss_scale=0.3))
    model = build(builder)
    ctx = run_step(builder, model, BATCH, train=True)
    aux, out = ctx.losses["aux"], ctx.losses["output"]
    torch.testing.assert_close(ctx.total_loss(), 0.3 * aux.summed + out.summed)  # summed, like RETURNN
    assert float(out.inv_norm_factor) == 9.0  # CTC is reported per target label
    assert ctx.losses["output_error"].as_error and not ctx.losses["output_error"].summed.requires_grad
    normalized = make_builder(_ctc_net(loss_scale=0.3, loss_opts={"use_normalized_loss": True}))
    ctx = run_step(normalized, build(normalized), BATCH, train=True)
    aux, out = ctx.losses["aux"], ctx.losses["output"]
    torch.testing.assert_close(ctx.total_loss(), 0.3 * aux.summed / 9.0 + out.summed)


def test_eval_only_loss_is_reported_in_eval_and_gives_no_gradient() -> None:
    builder = make_builder(_ctc_net(loss_only_eval=True))
    model = build(builder)
    ctx = run_step(builder, model, BATCH, train=True)
    assert "aux" not in ctx.losses  # not even computed in training
    ctx.total_loss().backward()
    assert model.aux.weight.grad is None and model.output.weight.grad is not None
    evaluated = run_step(builder, model, BATCH, train=False)
    assert {"aux", "aux_error", "output", "output_error"} <= set(evaluated.losses)
    assert torch.isfinite(evaluated.losses["aux"].summed)


def test_zero_loss_scale_is_reported_in_training_without_gradient() -> None:
    builder = make_builder(_ctc_net(loss_scale=0))
    model = build(builder)
    ctx = run_step(builder, model, BATCH, train=True)
    assert "aux" in ctx.losses and not ctx.losses["aux"].summed.requires_grad
    ctx.total_loss().backward()
    assert model.aux.weight.grad is None


class _CtcModel(nn.Module):
    """The same network written by hand, for the get_model style."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(FEATURES, 8)
        self.lstm = nn.LSTM(8, 4, bidirectional=True, batch_first=True)
        self.out = nn.Linear(8, CLASSES + 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.hidden(x))
        packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
        h, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        return self.out(h).log_softmax(-1)


def _train_step(*, model: nn.Module, batch: Any, ctx: StepContext) -> None:
    log_probs = model(batch["data"], batch.lengths["data"])
    loss = F.ctc_loss(
        log_probs.transpose(0, 1),
        batch["classes"].long(),
        batch.lengths["data"],
        batch.lengths["classes"],
        blank=CLASSES,
        reduction="none",
    )
    ctx.mark_as_loss("output", loss, custom_inv_norm_factor=batch.lengths["classes"].sum())


def test_net_dict_and_equivalent_get_model_give_the_same_loss() -> None:
    net = _ctc_net()
    del net["aux"]
    builder = make_builder(net)
    model = build(builder)
    hand = _CtcModel()
    renamed = {
        "hidden.weight": "hidden.weight",
        "hidden.bias": "hidden.bias",
        "out.weight": "output.weight",
        "out.bias": "output.bias",
    }
    for suffix in ("", "_reverse"):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            renamed[f"lstm.{kind}_l0{suffix}"] = f"lstm.{kind}{suffix}"
    params = dict(model.named_parameters())
    hand.load_state_dict({mine: params[theirs] for mine, theirs in renamed.items()})
    function_builder = FunctionModelBuilder(
        Config.from_dict({"get_model": lambda **_: hand, "train_step": _train_step})
    )
    theirs = StepContext(train=True, epoch=1, step=0)
    function_builder.train_step(model=hand, batch=BATCH, ctx=theirs)
    mine = run_step(builder, model, BATCH, train=True)
    torch.testing.assert_close(mine.losses["output"].summed, theirs.losses["output"].summed)
    assert float(mine.losses["output"].inv_norm_factor) == float(theirs.losses["output"].inv_norm_factor)
    mine.total_loss().backward()
    theirs.total_loss().backward()
    torch.testing.assert_close(model.lstm.weight_hh_reverse.grad, hand.lstm.weight_hh_l0_reverse.grad)


class _Counting(Layer):
    """A user layer: scales its input by a schedulable factor and counts its calls."""

    layer_class = "counting"
    schedulable: ClassVar[Mapping[str, Any]] = {"factor": 1.0}
    calls = 0

    def __init__(self, sources: list[SeqInfo], *, extra_dim: int = 0) -> None:
        super().__init__(sources)
        self.out_info = SeqInfo.dense(sources[0].dim + extra_dim)
        self.extra_dim = extra_dim

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        type(self).calls += 1
        x = sources[0].tensor * options["factor"]
        return sources[0].replace(F.pad(x, (0, self.extra_dim)))


def test_user_layers_custom_losses_and_forward_outputs() -> None:
    def penalty(*, output: Seq, target: Seq | None, weight: float) -> torch.Tensor:
        return weight * output.tensor.pow(2).sum(-1)[output.mask()]

    net = {
        "scaled": {"class": "counting", "from": "data", "extra_dim": 2, "factor": {1: 1.0, 2: 3.0}},
        "aux": {"class": _Counting, "from": "data", "loss": penalty, "loss_opts": {"weight": 0.5}},
        "output": {"class": "softmax", "from": "scaled", "n_out": CLASSES + 1, "loss": "ctc", "target": "classes"},
    }
    builder = make_builder(net, network_layer_classes={"counting": _Counting})
    model = build(builder)
    ctx = run_step(builder, model, BATCH, train=True)
    frames = BATCH["data"][BATCH["data"].abs().sum(-1) > 0]
    torch.testing.assert_close(ctx.losses["aux"].summed, 0.5 * frames.pow(2).sum())
    assert model.output.weight.shape == (CLASSES + 1, FEATURES + 2)
    _Counting.calls = 0
    out = ForwardContext(epoch=2)
    with torch.no_grad():
        builder.forward_step(model=model.eval(), batch=BATCH, ctx=out)
    assert _Counting.calls == 1, "forward computes only what the outputs need (not the aux loss branch)"
    log_probs, lengths = out.outputs["log_probs"]
    assert lengths.tolist() == [20, 15, 9]
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 20))
    assert set(out.outputs) == {"output", "log_probs"}


def test_get_network_config_overrides_and_signatures() -> None:
    def get_network(epoch: int, **_kwargs: Any) -> dict[str, Any]:
        net = _ctc_net(dropout=0.1 * epoch)
        if epoch >= 3:
            net["lstm"]["n_out"] = 6
        net["#config"] = {"gradient_clip": 10.0 if epoch < 2 else 0.0}
        return net

    builder = make_builder(get_network=get_network)
    assert builder.epoch_config(1) == {"gradient_clip": 10.0} and builder.epoch_config(2) == {"gradient_clip": 0.0}
    assert builder.architecture(1) == builder.architecture(2)  # dropout changed: same parameters
    assert builder.architecture(2) != builder.architecture(3)  # n_out changed: rebuild
    assert build(builder, epoch=3).lstm.weight_hh.shape == (24, 6)


@pytest.mark.parametrize(
    ("net", "message"),
    [
        ({"output": {"class": "lineer", "n_out": 3}}, "unknown layer class 'lineer'; did you mean 'linear'"),
        ({"output": {"class": "linear", "n_ot": 3}}, "unknown option 'n_ot'; did you mean 'n_out'"),
        ({"output": {"class": "linear"}}, r"missing option\(s\) \['n_out'\]"),
        ({"output": {"class": "linear", "n_out": 3, "from": "hiden"}}, "unknown layer 'hiden'"),
        ({"output": {"class": "linear", "n_out": 3, "from": "data:feats"}}, "no data key 'feats'"),
        ({"a": {"class": "copy", "from": "b"}, "b": {"class": "copy", "from": "a"}}, "cycle: a -> b -> a"),
        ({"output": {"class": "linear", "n_out": 3, "loss": "ce", "target": "labels"}}, "not a data key"),
        ({"out.put": {"class": "copy"}}, "must be a Python identifier"),
        ({"forward": {"class": "copy"}}, "clashes with a torch.nn.Module attribute"),
        ({"output": {"class": "softmax", "n_out": CLASSES, "loss": "ctc", "target": "classes"}}, "one more output"),
        ({"output": {"class": "linear", "n_out": 3, "activation": "relux"}}, "unknown activation 'relux'"),
    ],
)
def test_net_dict_mistakes_are_config_errors_naming_the_layer(net: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(make_builder(net))


def test_a_net_dict_without_losses_cannot_train() -> None:
    builder = make_builder({"output": {"class": "linear", "n_out": 3}})
    with pytest.raises(ConfigError, match="defines no loss"):
        run_step(builder, build(builder), BATCH, train=True)


def test_extern_data_without_dims_is_taken_from_the_dataset(tiny_corpus: dict) -> None:
    config = Config.from_dict(
        {
            "network": {"output": {"class": "softmax", "n_out": 6, "loss": "ctc", "target": "classes"}},
            "train": {"class": "HDFDataset", "files": [str(tiny_corpus["train"])]},
        }
    )
    infos = NetDictModelBuilder(config).data_infos()
    assert infos == {"data": SeqInfo.dense(8), "classes": SeqInfo.classes(5)}


def test_sparse_inputs_eval_layers_and_frozen_layers() -> None:
    net = {
        "emb": {"class": "embedding", "from": "data:classes", "n_out": 3, "trainable": False},
        "onehot": {"class": "linear", "from": "data:classes", "n_out": 3, "with_bias": False},
        "both": {"class": "eval", "from": ["emb", "onehot"], "eval": lambda a, b: a - b},
        "output": {"class": "reduce", "from": "both", "mode": "sum", "axis": "F", "loss": "as_is"},
    }
    builder = make_builder(net)
    model = build(builder)
    model.onehot.weight.data.copy_(model.emb.weight.data.T)  # linear on class indices = embedding lookup
    ctx = run_step(builder, model, BATCH, train=True)
    assert ctx.losses["output"].summed.item() == 0.0
    assert not model.emb.weight.requires_grad and model.onehot.weight.requires_grad
    ctx.total_loss().backward()
    assert model.emb.weight.grad is None and model.onehot.weight.grad is not None
