"""Checks a `rec` layer's sub-network `unit` when the net dict is read, before anything is built.

Kept apart from rec_unit.py (which builds the unit as a small net and so imports net_dict) so that net_dict can run
these checks while parsing: an unsupported RETURNN construct (search, attention, a loop driven by its target) is
reported with the unit layer's name before RETURNN-only options of the rec layer (`size_target`, ...) would be.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from seqtrain.errors import ConfigError
from seqtrain.nn.returnn_layers import NOTES, RETURNN_LAYER_CLASSES

STEP_CLASSES = ("activation", "combine", "concat", "copy", "eval", "layer_norm", "linear", "softmax")
"""Layer classes a rec unit may use: they compute on one frame, so they run inside the per-frame loop."""
NOT_PER_STEP = (
    "param_variational_noise",
    "dropout_noise_shape",
    "loss",
    "target",
    "loss_scale",
    "loss_opts",
    "loss_only_eval",
    "only_on_eval",
    "darc1",
    "custom_param_importer",
)
"""Unit-layer options seqtrain does not apply per step (losses inside the loop, per-layer noise); `dropout` (a fresh
mask every step, as in RETURNN's loop) and `L2` (on the unit layer's parameters) work, as numbers."""
PER_STEP_NUMBERS = ("dropout", "L2")
_RECURRENCE = (
    "a recurrence inside a rec unit (RETURNN runs its cell one step per frame) is not implemented; write the cell "
    "with linear/eval layers and prev: (RETURNN's demo-tf-rec-explicit-lstm), or use the layer outside the unit"
)
UNIT_CLASS_NOTES: dict[str, str] = {
    "self_attention": "inside a rec loop RETURNN attends over the keys and values of all previous steps, which "
    "seqtrain does not implement; outside a rec unit, self_attention with attention_left_only=True computes the "
    "same over the whole sequence",
    **{name: _RECURRENCE for name in ("rec", "lstm", "blstm", "gru", "bgru")},
}
"""Why a seqtrain layer class cannot be a layer of a rec unit (the others: they compute over the whole sequence)."""


def where(rec: str, name: str) -> str:
    return f"rec layer {rec!r}: unit layer {name!r}"


def step_source(rec: str, name: str, src: Any, unit: Mapping[str, Any], layer_names: Collection[str]) -> str:
    """One `from` entry of a unit layer as a key of the step net: "data:source", "data:prev:<name>",
    "data:base:<name>" or a unit layer's name."""
    if src in ("data", "data:source"):
        return "data:source"
    if isinstance(src, str) and src.startswith("prev:") and src[5:] in unit:
        return f"data:{src}"
    if isinstance(src, str) and src.startswith("base:") and src[5:] in layer_names:
        return f"data:{src}"
    if isinstance(src, str) and src in unit:
        return src
    if isinstance(src, str) and src.startswith("base:"):
        reason = f"{src[5:]!r} is no layer of the network"
    elif isinstance(src, str) and src.startswith("prev:"):
        reason = f"{src[5:]!r} is no layer of the unit"
    elif isinstance(src, str) and src.startswith("data:"):
        reason = "data keys other than the rec layer's input (targets inside the loop) are not supported in a rec unit"
    else:
        reason = "not a unit layer, 'data:source', 'prev:<unit layer>' or 'base:<layer>'"
    raise ConfigError(f"{where(rec, name)}: source {src!r}: {reason}")


def unit_class_problems(unit: Mapping[str, Any], classes: Collection[str]) -> list[str]:
    """ "'c' of class 'dot_attention' (why)" for each unit layer whose class cannot run per frame."""
    problems = []
    for name, d in unit.items():
        cls = d.get("class") if isinstance(d, Mapping) else None
        if cls in STEP_CLASSES:
            continue
        if not isinstance(cls, str):
            note = "the class must be a layer class name inside a rec unit"
        elif cls in UNIT_CLASS_NOTES:
            note = UNIT_CLASS_NOTES[cls]
        elif cls in classes:
            note = "it computes over the whole sequence, not one frame"
        elif cls in RETURNN_LAYER_CLASSES:
            note = NOTES.get(cls, "a RETURNN layer class seqtrain does not implement")
        else:
            note = "unknown layer class"
        problems.append(f"{name!r} of class {cls!r} ({note})")
    return problems


def check_rec_unit(
    rec: str, layer: Mapping[str, Any], classes: Collection[str], layer_names: Collection[str]
) -> tuple[str, ...]:
    """Raises a ConfigError naming the unit layer for what a rec unit cannot do here; returns the names of the
    network's layers the unit reads (`base:<name>`), which the rec layer then depends on."""
    unit = layer["unit"]
    for name, d in unit.items():
        if not isinstance(d, dict):
            raise ConfigError(f"{where(rec, name)}: expected a layer dict, got {d!r}")
    problems = unit_class_problems(unit, classes)
    if problems:
        first, *more = problems
        raise ConfigError(
            f"rec layer {rec!r}: unit layer {first.replace(' (', ' is not supported inside a rec unit (', 1)}"
            + (f"; neither is {'; '.join(more)}" if more else "")
            + f"; supported unit layer classes: {', '.join(STEP_CLASSES)}"
        )
    if "output" not in unit:
        raise ConfigError(f"rec layer {rec!r}: its unit needs a layer named 'output'")
    given = layer.get("from", "data")
    if given in ([], (), None):
        raise ConfigError(
            f"rec layer {rec!r}: 'from': [] is a loop without input, driven by its target or by search (RETURNN's "
            "decoders), which seqtrain does not implement; a rec unit runs over its input frame by frame"
        )
    base: list[str] = []
    for name, d in unit.items():
        bad = [k for k in NOT_PER_STEP if k in d]
        if bad:
            raise ConfigError(f"{where(rec, name)}: options {bad} are not supported inside a rec unit")
        for key in PER_STEP_NUMBERS:
            value = d.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(
                    f"{where(rec, name)}: {key} {value!r}: inside a rec unit only a number >= 0 (no schedule)"
                )
        sources = d.get("from", "data")
        for src in [sources] if isinstance(sources, str) else list(sources):
            key = step_source(rec, name, src, unit, layer_names)
            if key.startswith("data:base:") and key[10:] not in base:
                base.append(key[10:])
    return tuple(base)
