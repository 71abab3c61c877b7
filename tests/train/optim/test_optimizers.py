"""Optimizer construction: classes, options, decoupled weight decay, exclusions, param groups by name."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.train.optim.optimizers import load_optimizer_state, make_optimizer, set_learning_rate


class MyNorm(torch.nn.Module):
    """A user-defined normalization: its scale must not be decayed either (recognized by the class name)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(4))


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(5, 4)
        self.enc = torch.nn.LSTM(4, 4)
        self.norm = torch.nn.LayerNorm(4)
        self.my_norm = MyNorm()
        self.out = torch.nn.Linear(4, 3)
        self.frozen = torch.nn.Parameter(torch.zeros(2), requires_grad=False)


def names_by_group(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> list[set[str]]:
    name_of = {id(p): n for n, p in model.named_parameters()}
    return [{name_of[id(p)] for p in g["params"]} for g in optimizer.param_groups]


DECAYED = {"enc.weight_ih_l0", "enc.weight_hh_l0", "out.weight"}
NOT_DECAYED = {
    "emb.weight",
    "enc.bias_ih_l0",
    "enc.bias_hh_l0",
    "norm.weight",
    "norm.bias",
    "my_norm.scale",
    "out.bias",
}


@contextmanager
def captured_log() -> Iterator[list[str]]:
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("seqtrain")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_default_is_sgd_with_all_trainable_parameters_in_model_order() -> None:
    model = Net()
    optimizer = make_optimizer(None, model, learning_rate=0.1)
    assert type(optimizer) is torch.optim.SGD
    assert optimizer.param_groups[0]["params"] == [p for p in model.parameters() if p.requires_grad]


def test_classes_by_name_path_and_type_with_returnn_option_names() -> None:
    model = Net()
    assert type(make_optimizer("adam", model, learning_rate=1.0)) is torch.optim.Adam
    sgd = make_optimizer({"class": "SGD", "momentum": 0.9, "nesterov": True}, model, learning_rate=1.0)
    assert (sgd.defaults["momentum"], sgd.defaults["nesterov"]) == (0.9, True)
    adam = make_optimizer({"class": "adam", "epsilon": 1e-16}, model, learning_rate=1.0)
    assert adam.defaults["eps"] == 1e-16  # RETURNN's "epsilon"
    assert type(make_optimizer({"class": "torch.optim.Adamax"}, model, learning_rate=1.0)) is torch.optim.Adamax

    class Custom(torch.optim.SGD):
        pass

    assert type(make_optimizer(Custom, model, learning_rate=1.0)) is Custom
    assert type(make_optimizer({"class": Custom, "momentum": 0.5}, model, learning_rate=1.0)) is Custom


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"class": "adma"}, "unknown optimizer class 'adma'; did you mean 'adamax' or 'adam'"),
        ({"class": "adam", "betass": (0.9, 0.98)}, "Adam has no option 'betass'; allowed: .*'betas'"),
        ({"class": "adam", "lr": 0.1}, "set the learning rate with the learning_rate key"),
        ({"class": "lbfgs"}, "LBFGS needs a closure"),
        ({"class": "no_such_module.Optim"}, "cannot import 'no_such_module.Optim'"),
        ({"momentum": 0.9}, "optimizer dict needs a 'class'"),
        ({"class": "adam", "learning_rate_multiplier": 0.5}, "belongs in a param_groups rule"),
        ({"class": "adam", "param_groups": [{"weight_decay": 0.1}]}, r"param_groups\[0\] must be a dict with 'params'"),
        ({"class": "adam", "param_groups": [{"params": "*", "momentum": 0.9}]}, "Adam has no option 'momentum'"),
    ],
)
def test_mistakes_are_config_errors(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_optimizer(spec, Net(), learning_rate=1.0)


def test_weight_decay_spares_biases_norms_and_embeddings() -> None:
    model = Net()
    optimizer = make_optimizer({"class": "adamw", "weight_decay": 0.1}, model, learning_rate=1.0)
    assert names_by_group(optimizer, model) == [NOT_DECAYED, DECAYED]  # groups in order of first appearance
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.0, 0.1]


def test_adam_weight_decay_is_decoupled_sgd_is_l2() -> None:
    param = torch.nn.Parameter(torch.ones(3))
    model = torch.nn.Module()
    model.w = param
    with captured_log() as lines:
        adam = make_optimizer({"class": "adam", "weight_decay": 0.5}, model, learning_rate=0.1)
    assert adam.defaults["decoupled_weight_decay"] is True
    assert any("weight decay decoupled" in line for line in lines)
    param.grad = torch.zeros(3)
    adam.step()  # zero gradient: Adam's own update is 0, only the decoupled decay acts: w *= 1 - lr * wd
    assert torch.allclose(param.detach(), torch.full((3,), 0.95))
    coupled = make_optimizer(
        {"class": "adam", "weight_decay": 0.5, "decoupled_weight_decay": False}, model, learning_rate=0.1
    )
    assert coupled.defaults["decoupled_weight_decay"] is False
    with captured_log() as lines:
        make_optimizer({"class": "sgd", "weight_decay": 0.5}, model, learning_rate=0.1)
    assert any("L2 in the gradient (SGD has no decoupled form" in line for line in lines)


def test_param_group_rules_by_name_first_match_wins() -> None:
    model = Net()
    spec = {
        "class": "adamw",
        "weight_decay": 0.1,
        "param_groups": [
            {"params": "enc.*", "learning_rate_multiplier": 0.1},
            {"params": ["*.bias", "my_norm.*"], "weight_decay": 0.01},
        ],
    }
    optimizer = make_optimizer(spec, model, learning_rate=1.0)
    groups = names_by_group(optimizer, model)
    # enc.* (first rule, its biases keep the default no-decay), other biases + my_norm decayed by 0.01 (second rule),
    # the rest: default decay / no decay
    assert groups == [
        {"emb.weight", "norm.weight"},
        {"enc.weight_ih_l0", "enc.weight_hh_l0"},
        {"enc.bias_ih_l0", "enc.bias_hh_l0"},
        {"norm.bias", "my_norm.scale", "out.bias"},
        {"out.weight"},
    ]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.0, 0.1, 0.0, 0.01, 0.1]
    set_learning_rate(optimizer, 2.0)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([2.0, 0.2, 0.2, 2.0, 2.0])


def test_a_rule_that_matches_nothing_is_reported() -> None:
    with captured_log() as lines:
        make_optimizer(
            {"class": "adam", "param_groups": [{"params": "encoder.*", "betas": (0.9, 0.98)}]}, Net(), learning_rate=1.0
        )
    assert any(
        "param_groups[0] ['encoder.*'] matches no parameter" in line and "enc.weight_ih_l0" in line for line in lines
    )


def test_returnn_weight_decay_options() -> None:
    model = Net()
    only_layer_norm = {"class": "adamw", "weight_decay": 0.1, "weight_decay_modules_blacklist": ["torch.nn.LayerNorm"]}
    optimizer = make_optimizer(only_layer_norm, model, learning_rate=1.0)
    decayed, spared = names_by_group(optimizer, model)  # emb (first parameter) is decayed now
    assert "emb.weight" in decayed and "norm.weight" in spared and "out.bias" in spared

    def include(*, full_param_name, **_kwargs):
        return True if full_param_name == "out.bias" else None

    optimizer = make_optimizer(
        {"class": "adamw", "weight_decay": 0.1, "weight_decay_custom_include_check": include}, model, learning_rate=1.0
    )
    assert names_by_group(optimizer, model) == [NOT_DECAYED - {"out.bias"}, DECAYED | {"out.bias"}]

    def custom(*, model, optimizer_class, optimizer_opts, **_kwargs):
        assert optimizer_class is torch.optim.AdamW and optimizer_opts["weight_decay"] == 0.1
        return [
            {"params": list(model.out.parameters()), "learning_rate_multiplier": 3.0},
            {"params": [p for n, p in model.named_parameters() if not n.startswith("out.") and p.requires_grad]},
        ]

    optimizer = make_optimizer(
        {"class": "adamw", "weight_decay": 0.1, "param_groups_custom": custom}, model, learning_rate=1.0
    )
    set_learning_rate(optimizer, 0.5)
    assert [g["lr"] for g in optimizer.param_groups] == [1.5, 0.5]


def test_loading_a_checkpoint_keeps_moments_but_the_config_wins_for_group_options() -> None:
    torch.manual_seed(0)
    model = Net()
    spec = {"class": "adam", "param_groups": [{"params": "out.*", "learning_rate_multiplier": 0.1}]}
    old = make_optimizer(spec, model, learning_rate=1.0)
    sum(p.sum() for p in model.parameters() if p.requires_grad).backward()
    old.step()
    state = old.state_dict()
    spec["param_groups"][0]["learning_rate_multiplier"] = 0.5
    new = make_optimizer(spec, model, learning_rate=1.0)
    load_optimizer_state(new, state)
    assert new.param_groups[1]["learning_rate_multiplier"] == 0.5
    for p in model.out.parameters():
        assert torch.equal(new.state[p]["exp_avg"], old.state[p]["exp_avg"])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        load_optimizer_state(make_optimizer("adam", model, learning_rate=1.0), state)
