"""preload_from_files: matching by name, prefix, ignore_missing, mappings, shape errors, when entries apply."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqtrain.checkpoint.store import save_checkpoint
from seqtrain.errors import CheckpointError, ConfigError
from seqtrain.model.preload import apply_preload
from tests.nn.helpers import build, make_builder

NET = {
    "lstm": {"class": "lstm", "n_out": 4},
    "output": {"class": "linear", "from": "lstm", "n_out": 3},
}


def _models(net: dict | None = None) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Two models with different random weights: the source and the one to preload into."""
    return build(make_builder(NET), seed=1), build(make_builder(net or NET), seed=2)


def _entry(path: Path, **opts: object) -> dict:
    return {"pre": {"filename": str(path), "init_for_train": True, **opts}}


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a.detach(), b.detach())


def test_loads_our_checkpoints_and_plain_state_dicts(tmp_path: Path) -> None:
    source, target = _models()
    save_checkpoint(tmp_path / "model.005.pt", {"model": source.state_dict(), "epoch": 5})
    torch.save(source.state_dict(), tmp_path / "plain.pt")
    for name in ("model.005.pt", "plain.pt"):
        model = _models()[1]
        report = apply_preload(model, _entry(tmp_path / name), training=True)
        assert all(_same(p, source.state_dict()[n]) for n, p in model.state_dict().items())
        assert sorted(report.loaded) == sorted(source.state_dict())
    assert not _same(target.lstm.weight_ih, source.lstm.weight_ih)


def test_prefix_loads_a_submodule_state_dict(tmp_path: Path) -> None:
    source, target = _models()
    torch.save(source.lstm.state_dict(), tmp_path / "lstm.pt")  # names without "lstm."
    output_before = target.output.weight.detach().clone()
    report = apply_preload(target, _entry(tmp_path / "lstm.pt", prefix="lstm."), training=True)
    assert sorted(report.loaded) == ["lstm.bias_hh", "lstm.bias_ih", "lstm.weight_hh", "lstm.weight_ih"]
    assert _same(target.lstm.weight_hh, source.lstm.weight_hh)
    assert _same(target.output.weight, output_before)  # outside the prefix: untouched, not "missing"


def test_missing_parameters_are_an_error_unless_ignore_missing(tmp_path: Path) -> None:
    source, _ = _models()
    wider = {**NET, "extra": {"class": "linear", "from": "output", "n_out": 2}}
    torch.save(source.state_dict(), tmp_path / "small.pt")
    with pytest.raises(CheckpointError, match=r"lacks model parameter\(s\) \['extra.bias', 'extra.weight'\]"):
        apply_preload(build(make_builder(wider)), _entry(tmp_path / "small.pt"), training=True)
    model = build(make_builder(wider), seed=3)
    extra_before = model.extra.weight.detach().clone()
    report = apply_preload(model, _entry(tmp_path / "small.pt", ignore_missing=True), training=True)
    assert sorted(report.missing) == ["extra.bias", "extra.weight"]
    assert _same(model.extra.weight, extra_before) and _same(model.output.weight, source.output.weight)


def test_shape_mismatch_names_the_parameter_and_both_shapes(tmp_path: Path) -> None:
    source, _ = _models()
    torch.save(source.state_dict(), tmp_path / "a.pt")
    bigger = {**NET, "output": {"class": "linear", "from": "lstm", "n_out": 7}}
    with pytest.raises(
        CheckpointError, match=r"'output.weight' has shape \(3, 4\) in .*a.pt, but \(7, 4\) in the model"
    ):
        apply_preload(build(make_builder(bigger)), _entry(tmp_path / "a.pt"), training=True)


def test_ignore_params_and_var_name_mapping(tmp_path: Path) -> None:
    source, target = _models()
    state = {k.replace("output.", "classifier."): v for k, v in source.state_dict().items()}
    torch.save({"model_state": state}, tmp_path / "renamed.pt")
    ih_before = target.lstm.weight_ih.detach().clone()
    mapping = {"output.weight": "classifier.weight", "output.bias": "classifier.bias"}
    report = apply_preload(
        target,
        _entry(
            tmp_path / "renamed.pt",
            checkpoint_key="model_state",
            var_name_mapping=mapping,
            ignore_params=["lstm.weight_ih"],
            ignore_missing=True,
        ),
        training=True,
    )
    assert report.missing == ["lstm.weight_ih"]
    assert _same(target.lstm.weight_ih, ih_before)
    assert _same(target.lstm.weight_hh, source.lstm.weight_hh)
    assert _same(target.output.weight, source.output.weight) and _same(target.output.bias, source.output.bias)


def test_entries_apply_in_reversed_name_order_so_the_first_name_wins(tmp_path: Path) -> None:
    a, b = build(make_builder(NET), seed=5), build(make_builder(NET), seed=6)
    torch.save(a.state_dict(), tmp_path / "a.pt")
    torch.save(b.state_dict(), tmp_path / "b.pt")
    model = build(make_builder(NET), seed=7)
    preload = {
        "1_first": {"filename": str(tmp_path / "a.pt"), "init_for_train": True},
        "2_second": {"filename": str(tmp_path / "b.pt"), "init_for_train": True},
    }
    report = apply_preload(model, preload, training=True)
    assert _same(model.lstm.weight_ih, a.lstm.weight_ih)
    assert report.loaded["lstm.weight_ih"] == "1_first: a.pt"


def test_init_for_train_decides_training_versus_recognition(tmp_path: Path) -> None:
    source, target = _models()
    torch.save(source.state_dict(), tmp_path / "a.pt")
    recog_entry = {"for_recog": {"filename": str(tmp_path / "a.pt")}}  # default init_for_train=False
    assert not apply_preload(target, recog_entry, training=True).loaded
    assert not _same(target.lstm.weight_ih, source.lstm.weight_ih)
    assert apply_preload(target, recog_entry, training=False).loaded
    assert _same(target.lstm.weight_ih, source.lstm.weight_ih)


@pytest.mark.parametrize(
    ("opts", "error", "message"),
    [
        ({"filename": "nowhere.pt", "init_for_train": True}, CheckpointError, "does not exist"),
        ({"filename": "a.pt", "init_for_train": "always"}, ConfigError, "'always' is not supported"),
        ({"filename": "a.pt", "init_for_train": True, "prefx": "x"}, ConfigError, "unknown options"),
        ({"init_for_train": True}, ConfigError, "needs a dict with 'filename'"),
        ({"filename": "a.pt", "init_for_train": True, "prefix": "decoder."}, CheckpointError, "no model parameter"),
        ({"filename": "other.pt", "init_for_train": True}, CheckpointError, "none of the names"),
    ],
)
def test_preload_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opts: dict, error: type, message: str
) -> None:
    source, target = _models()
    monkeypatch.chdir(tmp_path)
    torch.save(source.state_dict(), "a.pt")
    torch.save({"something.else": torch.zeros(2)}, "other.pt")
    with pytest.raises(error, match=message):
        apply_preload(target, {"pre": opts}, training=True)
