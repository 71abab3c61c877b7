"""One registry API for every kind of named component, and the same error for an unknown name everywhere."""

from __future__ import annotations

import typing

import pytest

from seqtrain.config.registry import get_key
from seqtrain.data.dataset import DATASETS
from seqtrain.errors import ConfigError
from seqtrain.nn.layers import LAYERS
from seqtrain.nn.losses import LOSSES
from seqtrain.recog.decoders import DECODERS
from seqtrain.registry import Registry
from seqtrain.train.optim.lr_rules import RULES
from seqtrain.train.optim.optimizers import OPTIMIZERS


def test_register_get_and_decorator() -> None:
    reg: Registry[object] = Registry("widget", hint="see the docs")

    @reg.register("square")
    def square(x: int) -> int:
        return x * x

    reg.register("cube", lambda x: x**3)
    assert reg.get("square") is square and reg.get("cube")(2) == 8
    assert reg.names() == ["cube", "square"] and "cube" in reg and list(reg) == ["cube", "square"]
    copy = reg.as_dict()
    copy["other"] = 1
    assert "other" not in reg


def test_unknown_name_names_kind_place_closest_and_all() -> None:
    reg: Registry[int] = Registry("widget", hint="see the docs")
    reg.register("square", 2)
    reg.register("circle", 3)
    with pytest.raises(ConfigError) as e:
        reg.get("sqare", where="layer 'x'")
    expected = "layer 'x': unknown widget 'sqare'; did you mean 'square'? (known: circle, square); see the docs"
    assert str(e.value) == expected


def test_two_different_entries_under_one_name_are_a_bug_but_a_redefinition_is_not() -> None:
    reg: Registry[object] = Registry("widget")

    def make() -> type:
        class Thing:
            pass

        return Thing

    reg.register("thing", make())
    reg.register("thing", make())  # a config loaded twice defines its class again
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("thing", 5)


def test_lazy_loading_runs_once() -> None:
    calls = []

    def load() -> None:
        calls.append(1)
        reg.register("late", 1)

    reg: Registry[int] = Registry("widget", load=load)
    assert reg.get("late") == 1 and reg.names() == ["late"] and calls == [1]


@pytest.mark.parametrize(
    ("registry", "kind", "some"),
    [
        (LAYERS, "layer class", "linear"),
        (LOSSES, "loss", "ctc"),
        (DATASETS, "dataset class", "HDFDataset"),
        (RULES, "learning_rate_control rule", "newbob_rel"),
        (DECODERS, "decoder", "hmm_viterbi"),
        (OPTIMIZERS, "optimizer class", "adamw"),
    ],
)
def test_every_component_kind_uses_the_registry(registry: Registry[object], kind: str, some: str) -> None:
    assert some in registry.names()
    with pytest.raises(ConfigError, match=f"x: unknown {kind} '{some}x'; did you mean '{some}'"):
        registry.get(some + "x", where="x")


def _choices(key: str) -> set[str]:
    return set(typing.get_args(get_key(key).type))


def test_config_key_choices_match_the_registries() -> None:
    """The keys list their choices (for `seqtrain config --list` and the check at load); they must not drift."""
    assert _choices("recog_decoder") == set(DECODERS.names())
    aliases = {"newbob", "newbob_relative"}  # RETURNN's names of newbob_rel
    assert _choices("learning_rate_control") == set(RULES.names()) | aliases
