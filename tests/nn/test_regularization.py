"""Regularizers: on in training, off in evaluation, reproducible from the seed, scheduled per epoch."""

from __future__ import annotations

import torch
from torch import nn

from seqtrain.config import Config
from seqtrain.model.builder import FunctionModelBuilder
from seqtrain.model.context import StepContext
from seqtrain.nn.regularization import (
    broadcast_axes,
    dropout,
    l2_penalty,
    linear_decay_survival,
    noisy_parameters,
    stochastic_depth,
)
from tests.nn.helpers import build, make_batch, make_builder, run_step


def test_dropout_train_only_seeded_and_broadcast_over_time() -> None:
    x = torch.ones(4, 30, 16)
    assert torch.equal(dropout(x, 0.5, training=False), x)
    torch.manual_seed(0)
    a = dropout(x, 0.5, training=True)
    torch.manual_seed(0)
    assert torch.equal(a, dropout(x, 0.5, training=True))
    assert set(a.unique().tolist()) == {0.0, 2.0}
    assert not torch.equal(a[:, 0], a[:, 1])  # own mask per frame by default
    variational = dropout(x, 0.5, training=True, broadcast=broadcast_axes({"*": None, "T": 1}))
    assert torch.equal(variational, variational[:, :1].expand_as(x))  # one mask per sequence and feature
    assert not torch.equal(variational[0], variational[1])


def test_stochastic_depth_expectation_equals_full_depth() -> None:
    branch = torch.ones(40000, 1)
    torch.manual_seed(0)
    dropped = stochastic_depth(branch, 0.75, training=True)
    assert torch.equal(dropped.unique(), torch.tensor([0.0, 4.0 / 3.0]))
    assert abs(dropped.mean().item() - 1.0) < 0.02  # std of the mean: sqrt(1/3 / 40000) = 0.003
    assert abs((dropped == 0).float().mean().item() - 0.25) < 0.01
    assert torch.equal(stochastic_depth(branch, 0.75, training=False), branch)


def test_linear_decay_survival_over_depth() -> None:
    assert [linear_decay_survival(i, 4, 0.6) for i in (1, 2, 3, 4)] == [0.9, 0.8, 0.7, 0.6]


def test_noisy_parameters_restores_parameters_and_passes_gradients() -> None:
    layer = nn.LSTM(3, 4, batch_first=True)
    names = [n for n, _ in layer.named_parameters()]
    before = {n: p.detach().clone() for n, p in layer.named_parameters()}
    x = torch.randn(2, 5, 3)
    clean = layer(x)[0]
    torch.manual_seed(0)
    with noisy_parameters(layer, 0.1, training=True):
        noisy = layer(x)[0]
    torch.manual_seed(0)
    with noisy_parameters(layer, 0.1, training=True):
        again = layer(x)[0]
    assert torch.equal(noisy, again) and not torch.allclose(noisy, clean)
    noisy.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())
    assert [n for n, _ in layer.named_parameters()] == names  # order kept (optimizer/state_dict rely on it)
    assert all(torch.equal(p, before[n]) for n, p in layer.named_parameters())
    assert torch.equal(layer(x)[0], clean)  # torch's RNN weight list points at the real parameters again
    with noisy_parameters(layer, 0.1, training=False):
        assert torch.equal(layer(x)[0], clean)


NET = {
    "specaug": {
        "class": "specaugment",
        "from": "data",
        "time_mask_num": 2,
        "time_mask_max_width": 3,
        "freq_warp_max": 0.2,
    },
    "hidden": {
        "class": "linear",
        "from": "specaug",
        "n_out": 8,
        "activation": "tanh",
        "dropout": 0.3,
        "param_variational_noise": 0.05,
    },
    "deep": {"class": "linear", "from": "hidden", "n_out": 8, "activation": "tanh"},
    "res": {"class": "residual", "from": ["hidden", "deep"], "survival_prob": 0.5},
    "output": {"class": "softmax", "from": "res", "n_out": 6, "loss": "ctc", "target": "classes"},
}


def test_network_regularizers_are_train_only_and_reproducible() -> None:
    builder = make_builder(NET)
    model = build(builder)
    batch = make_batch([20, 16, 12], [3, 2, 2])
    evals = [run_step(builder, model, batch, train=False, seed=s).losses["output"].summed for s in (1, 2)]
    assert torch.equal(evals[0], evals[1])  # nothing random in evaluation
    trains = [run_step(builder, model, batch, train=True, seed=s).losses["output"].summed.detach() for s in (1, 1, 2)]
    assert torch.equal(trains[0], trains[1]) and not torch.equal(trains[0], trains[2])
    assert not torch.equal(trains[0], evals[0])


def test_regularizers_switched_off_one_by_one_give_the_eval_value() -> None:
    off = {"dropout": 0.0, "param_variational_noise": 0.0}
    net = {
        **NET,
        "specaug": {**NET["specaug"], "time_mask_num": 0, "freq_mask_num": 0, "freq_warp_max": 0.0},
        "hidden": {**NET["hidden"], **off},
        "res": {**NET["res"], "survival_prob": 1.0},
    }
    builder = make_builder(net)
    model = build(builder)
    batch = make_batch([20, 16, 12], [3, 2, 2])
    train = run_step(builder, model, batch, train=True).losses["output"].summed
    assert torch.allclose(train, run_step(builder, model, batch, train=False).losses["output"].summed)


def test_dropout_schedule_per_epoch() -> None:
    net = {
        "hidden": {"class": "linear", "from": "data", "n_out": 8, "dropout": {1: 0.0, 3: 0.5}},
        "output": {"class": "softmax", "from": "hidden", "n_out": 6, "loss": "ctc", "target": "classes"},
    }
    builder = make_builder(net)
    model = build(builder)
    batch = make_batch([20, 16], [3, 2])
    clean = run_step(builder, model, batch, train=False).losses["output"].summed
    for epoch, active in ((1, False), (2, False), (3, True), (9, True)):
        value = run_step(builder, model, batch, train=True, epoch=epoch).losses["output"].summed
        assert torch.allclose(value, clean) != active, epoch
    assert builder.architecture(1) == builder.architecture(3)  # a schedule never rebuilds the model


def test_l2_per_layer_and_global_hand_computed() -> None:
    net = {
        "hidden": {"class": "linear", "from": "data", "n_out": 4, "L2": 0.01},
        "output": {"class": "softmax", "from": "hidden", "n_out": 6, "loss": "ctc", "target": "classes"},
    }
    builder = make_builder(net, L2=0.001)
    model = build(builder)
    ctx = run_step(builder, model, make_batch([20], [3]), train=True)
    hidden = model.hidden.weight.pow(2).sum() + model.hidden.bias.pow(2).sum()
    everything = sum(p.pow(2).sum() for p in model.parameters())
    torch.testing.assert_close(ctx.losses["L2"].summed, 0.01 * hidden + 0.001 * everything)
    assert ctx.losses["L2"].summed.requires_grad and float(ctx.losses["L2"].inv_norm_factor) == 1.0
    assert "L2" not in run_step(builder, model, make_batch([20], [3]), train=False).losses  # train only


def test_global_l2_and_param_noise_for_get_model_configs() -> None:
    model = nn.Linear(3, 2)
    seen = []

    def train_step(*, model, batch, ctx):
        seen.append(model.weight.detach().clone())
        ctx.mark_as_loss("out", model(batch).sum())

    config = Config.from_dict(
        {
            "get_model": lambda **_: model,
            "train_step": train_step,
            "L2": {1: 0.0, 2: 0.5},
            "param_variational_noise": 0.1,
        }
    )
    builder = FunctionModelBuilder(config)
    x = torch.randn(4, 3)
    for train, epoch in ((True, 1), (True, 2), (False, 2)):
        ctx = StepContext(train=train, epoch=epoch, step=0)
        builder.train_step(model=model, batch=x, ctx=ctx)  # type: ignore[arg-type]
        assert ("L2" in ctx.losses) == (train and epoch == 2)
    assert not torch.equal(seen[0], model.weight) and torch.equal(seen[2], model.weight)  # noise in training only
    assert torch.allclose(ctx.losses["out"].summed, model(x).sum())
    torch.testing.assert_close(l2_penalty(model), model.weight.pow(2).sum() + model.bias.pow(2).sum())
