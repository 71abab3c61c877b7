"""Rebuilding a net-dict model between epochs: parameters by name, growth in width, optimizer state."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from seqtrain.config import Config
from seqtrain.errors import ConfigError
from seqtrain.model.growth import GrowOptions
from seqtrain.model.param_transfer import TransferOptions, model_layout, transfer_state
from seqtrain.nn.seq import Seq
from tests.nn.helpers import EXTERN_DATA, build, make_batch, make_builder


def _net(width0: int = 4, width1: int = 3, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "l0": {"class": "blstm", "from": "data", "n_out": width0},
        "l1": {"class": "blstm", "from": "l0", "n_out": width1},
        "output": {"class": "softmax", "from": "l1", "n_out": 6, "loss": "ctc", "target": "classes", **(extra or {})},
    }


def _models(old_net: dict[str, Any], new_net: dict[str, Any]) -> tuple[Any, ...]:
    """(old builder, old model, new builder, new model, a copy of the new model's fresh parameters)."""
    old_builder, new_builder = make_builder(old_net), make_builder(new_net)
    old, new = build(old_builder, seed=1), build(new_builder, seed=2)
    fresh = {n: p.detach().clone() for n, p in new.named_parameters()}
    return old_builder, old, new_builder, new, fresh


def _transfer(old_b, old, new_b, new, options: TransferOptions | None = None, optimizers=(None, None)):
    return transfer_state(
        old,
        new,
        optimizers[0],
        optimizers[1],
        options=options,
        old_layout=model_layout(old_b, 1, old)[0],
        new_layout=model_layout(new_b, 1, new)[0],
    )


def test_copies_by_name_and_initializes_new_layers() -> None:
    deeper = {**_net(), "l2": {"class": "blstm", "from": "l1", "n_out": 3}}
    deeper["output"] = {**deeper["output"], "from": "l2"}
    old_b, old, new_b, new, fresh = _models(_net(), deeper)
    report = _transfer(old_b, old, new_b, new)
    old_params, new_params = dict(old.named_parameters()), dict(new.named_parameters())
    assert sorted(report.names("new")) == sorted(n for n in new_params if n.startswith("l2."))
    assert sorted(report.names("copied")) == sorted(old_params)
    for name in old_params:
        assert torch.equal(new_params[name], old_params[name]), name
    for name in report.names("new"):
        assert torch.equal(new_params[name], fresh[name]), name
    assert report.table()[0].split() == [
        "parameter",
        "from",
        "old",
        "shape",
        "new",
        "shape",
        "transfer",
        "optimizer",
        "state",
    ]
    assert len(report.table()) == 1 + len(new_params)


def test_width_growth_keeps_every_old_block_exactly() -> None:
    old_b, old, new_b, new, fresh = _models(_net(4, 3), _net(6, 3))
    report = _transfer(old_b, old, new_b, new)
    o, n = dict(old.named_parameters()), dict(new.named_parameters())
    for gate in range(4):  # l0: [4 gates * n, in] and [4 * n, n]; each gate block keeps its old units first
        rows_new, rows_old = slice(6 * gate, 6 * gate + 4), slice(4 * gate, 4 * gate + 4)
        assert torch.equal(n["l0.weight_ih"][rows_new], o["l0.weight_ih"][rows_old])
        assert torch.equal(n["l0.weight_hh_reverse"][rows_new, :4], o["l0.weight_hh_reverse"][rows_old])
        assert torch.equal(n["l0.bias_ih"][rows_new], o["l0.bias_ih"][rows_old])
        assert torch.equal(
            n["l0.weight_ih"][6 * gate + 4 : 6 * gate + 6], fresh["l0.weight_ih"][6 * gate + 4 : 6 * gate + 6]
        )
    # l1 reads [forward 6, backward 6] instead of [4, 4]: each direction's old columns stay in place
    assert torch.equal(n["l1.weight_ih"][:, 0:4], o["l1.weight_ih"][:, 0:4])
    assert torch.equal(n["l1.weight_ih"][:, 6:10], o["l1.weight_ih"][:, 4:8])
    assert torch.equal(n["l1.weight_ih"][:, 4:6], fresh["l1.weight_ih"][:, 4:6])
    assert torch.equal(n["l1.weight_hh"], o["l1.weight_hh"])
    assert set(report.names("grown")) == {k for k in n if k.startswith("l0.")} | {
        "l1.weight_ih",
        "l1.weight_ih_reverse",
    }


def _log_probs(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    model.eval()
    inputs = {k: Seq(batch.data[k], batch.lengths[k]) for k in batch.data}
    with torch.no_grad():
        return model(inputs, ["output"], {})["output"].tensor


def test_preserve_function_growth_computes_what_the_old_net_did() -> None:
    old_b, old, new_b, new, _ = _models(_net(4, 3), _net(7, 5))
    options = TransferOptions(grow=GrowOptions(init="preserve_function"))
    _transfer(old_b, old, new_b, new, options)
    batch = make_batch([9, 5, 7], [2, 1, 3])
    assert torch.allclose(_log_probs(old, batch), _log_probs(new, batch), atol=1e-6)
    random = _models(_net(4, 3), _net(7, 5))
    _transfer(*random[:4])
    assert not torch.allclose(_log_probs(old, batch), _log_probs(random[3], batch), atol=1e-3)


def test_ifpossible_leaves_changed_shapes_fresh_and_reset_copies_nothing() -> None:
    old_b, old, new_b, new, fresh = _models(_net(4, 3), _net(6, 3))
    report = _transfer(old_b, old, new_b, new, TransferOptions(mode="ifpossible"))
    n = dict(new.named_parameters())
    assert torch.equal(n["l0.weight_ih"], fresh["l0.weight_ih"]) and "l0.weight_ih" in report.names("new")
    assert torch.equal(n["l1.weight_hh"], dict(old.named_parameters())["l1.weight_hh"])
    old_b, old, new_b, new, fresh = _models(_net(4, 3), _net(4, 3))
    report = _transfer(old_b, old, new_b, new, TransferOptions(mode="reset"))
    assert all(torch.equal(p, fresh[k]) for k, p in new.named_parameters())
    assert len(report.names("reset")) == len(fresh)


def test_copy_param_map_renames_and_excludes() -> None:
    renamed = {
        "encoder": {"class": "blstm", "from": "data", "n_out": 4},
        "l1": {"class": "blstm", "from": "encoder", "n_out": 3},
        "output": _net()["output"],
    }
    old_b, old, new_b, new, fresh = _models(_net(), renamed)
    options = TransferOptions(name_map={"encoder.*": "l0.*", "output.bias": None})
    report = _transfer(old_b, old, new_b, new, options)
    o, n = dict(old.named_parameters()), dict(new.named_parameters())
    assert torch.equal(n["encoder.weight_hh_reverse"], o["l0.weight_hh_reverse"])
    assert torch.equal(n["output.bias"], fresh["output.bias"])
    assert report.names("dropped") == ["output.bias"]  # nothing else was left behind
    assert [m.source for m in report.moves if m.name == "encoder.weight_ih"] == ["l0.weight_ih"]


def test_layer_custom_param_importer() -> None:
    doubled = _net(extra={"custom_param_importer": lambda *, name, old, new: old * 2})
    old_b, old, new_b, new, _ = _models(_net(), doubled)
    opts = TransferOptions(layer_modes={"output": new_b.net_spec(1).layers["output"].option("custom_param_importer")})
    _transfer(old_b, old, new_b, new, opts)
    assert torch.equal(dict(new.named_parameters())["output.weight"], 2 * dict(old.named_parameters())["output.weight"])
    with pytest.raises(ConfigError, match="custom_param_importer must be one of"):
        TransferOptions.from_config(Config.from_dict({}), layer_modes={"output": "keep"})


def _adam_with_state(model: torch.nn.Module) -> torch.optim.Adam:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for step in range(2):
        for i, p in enumerate(model.parameters()):
            p.grad = torch.full_like(p, 0.1 * (i + 1 + step))
        optimizer.step()
    return optimizer


@pytest.mark.parametrize("keep", ["all", "same_shape", "none"])
def test_optimizer_state_kept_grown_or_reset(keep: str) -> None:
    old_b, old, new_b, new, _ = _models(_net(4, 3), _net(6, 3))
    old_opt, new_opt = _adam_with_state(old), torch.optim.Adam(new.parameters(), lr=0.1)
    report = _transfer(old_b, old, new_b, new, TransferOptions(optimizer_state=keep), (old_opt, new_opt))
    o, n = dict(old.named_parameters()), dict(new.named_parameters())
    copied, grown = n["l1.weight_hh"], n["l0.weight_ih"]
    if keep == "none":
        assert not new_opt.state
        assert {m.optimizer for m in report.moves} == {"fresh"}
        return
    old_state = old_opt.state[o["l1.weight_hh"]]
    assert all(torch.equal(new_opt.state[copied][k], old_state[k]) for k in ("step", "exp_avg", "exp_avg_sq"))
    if keep == "same_shape":
        assert grown not in new_opt.state
        return
    state, before = new_opt.state[grown], old_opt.state[o["l0.weight_ih"]]
    assert torch.equal(state["step"], before["step"])
    for gate in range(4):
        assert torch.equal(state["exp_avg"][6 * gate : 6 * gate + 4], before["exp_avg"][4 * gate : 4 * gate + 4])
        assert bool((state["exp_avg_sq"][6 * gate + 4 : 6 * gate + 6] == 0).all())
    assert {m.name: m.optimizer for m in report.moves}["l0.weight_ih"] == "grown"
    new_opt.step()  # the carried state has the right shapes for the optimizer


def test_another_optimizer_class_starts_fresh() -> None:
    old_b, old, new_b, new, _ = _models(_net(), _net())
    sgd = torch.optim.SGD(old.parameters(), lr=0.1, momentum=0.9)
    for p in old.parameters():
        p.grad = torch.ones_like(p)
    sgd.step()
    adam = torch.optim.Adam(new.parameters(), lr=0.1)
    report = _transfer(old_b, old, new_b, new, optimizers=(sgd, adam))
    assert not adam.state and len(report.names("copied")) == len(list(new.parameters()))


def test_from_config_reads_the_epoch_keys() -> None:
    config = Config.from_dict(
        {
            "extern_data": EXTERN_DATA,
            "copy_param_mode": "ifpossible",
            "copy_param_map": {"a.*": "b.*"},
            "copy_param_grow_slice": "end",
            "copy_param_grow_init": "preserve_function",
            "copy_param_grow_scale": "fan_in",
            "copy_optimizer_state": "same_shape",
        }
    )
    options = TransferOptions.from_config(config)
    assert (options.mode, dict(options.name_map), options.optimizer_state) == (
        "ifpossible",
        {"a.*": "b.*"},
        "same_shape",
    )
    assert (options.grow.slice_at, options.grow.init, options.grow.scale) == ("end", "preserve_function", "fan_in")
    with pytest.raises(ConfigError, match="copy_param_mode"):
        Config.from_dict({"copy_param_mode": "sometimes"})
