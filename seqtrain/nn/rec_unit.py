"""RETURNN's `rec` layer with a sub-network `unit`: an explicit recurrence, computed frame by frame.

    "lstm": {"class": "rec", "from": "data", "unit": {
        "input": {"class": "copy", "from": ["prev:output", "data:source"]},
        "c": {"class": "eval", "from": ["input_gate", "cell_in", "forget_gate", "prev:c"],
              "eval": "source(0) * source(1) + source(2) * source(3)"},
        ...
        "output": {"class": "eval", "from": ["output_gate", "c"], "eval": "source(0) * source(1)"}}},

As in RETURNN: at step t, `data:source` (or `data`) is frame t of the rec layer's input, `prev:<name>` is that unit
layer's value at t-1 (zeros at t = 0, or the layer's `initial_output` number), `base:<name>` is a layer of the
network outside the loop (one without time axis, the same at every step), and the rec layer's output is the unit's
"output" layer at every step. The unit becomes a small net of its own (seqtrain's layer classes, run on one frame)
whose inputs are `source`, the `prev:` and the `base:` values; its dims are settled first (a `prev:` value has the
dim its layer computes, found by building the unit until the dims agree). Padding frames of a sequence are computed
but never reach its valid frames (each step only reads earlier steps of the same sequence) and are zeroed in the
output. What RETURNN does beyond a frame-wise recurrence over the input — search (`choice`), attention over a whole
`base:` sequence, targets inside the loop, layers that look across time — gives an error naming the unit layer
(rec_unit_check.py, when the net dict is read).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer
from seqtrain.nn.net_dict import NetSpec, parse_net_dict
from seqtrain.nn.rec_unit_check import step_source, where
from seqtrain.nn.seq import Seq, SeqInfo

BuildNet = Callable[[NetSpec, Mapping[str, SeqInfo]], Any]  # net_module.Network (passed in: no import cycle)


def _step_dict(
    rec: str, unit: Mapping[str, Any], base: Collection[str]
) -> tuple[dict[str, Any], set[str], dict[str, float]]:
    """The unit (checked by check_rec_unit) as a net dict over the inputs `source`, `prev:<name>` and `base:<name>`;
    the prev names and their initial values. (`dropout` and `L2` stay in the step dict: the network applies
    them through `RecUnit.dropout` and `RecUnit.l2`.)"""
    prev: set[str] = set()
    initial: dict[str, float] = {}
    step: dict[str, Any] = {}
    for name, d in unit.items():
        value = d.get("initial_output", 0.0)
        if value in (None, "zeros"):
            value = 0.0
        if not isinstance(value, (int, float)):
            raise ConfigError(f"{where(rec, name)}: initial_output {value!r}: only a number or 'zeros' is supported")
        initial[name] = float(value)
        given = d.get("from", "data")
        sources = [step_source(rec, name, src, unit, base) for src in ([given] if isinstance(given, str) else given)]
        prev.update(src[len("data:prev:") :] for src in sources if src.startswith("data:prev:"))
        step[name] = {k: v for k, v in d.items() if k != "initial_output"} | {"from": sources}
    return step, prev, initial


def _base_info(rec: str, name: str, info: SeqInfo) -> SeqInfo:
    if info.time_axis:
        raise ConfigError(
            f"rec layer {rec!r}: base:{name} has a time axis; inside RETURNN's loop a base: layer with time is the "
            "whole sequence (to attend over), which seqtrain does not implement. base: layers without time axis "
            "(e.g. {'class': 'reduce', 'mode': 'mean', 'axes': 'T'}) are the same at every step and work"
        )
    if info.sparse:
        raise ConfigError(f"rec layer {rec!r}: base:{name} is sparse; embed it first")
    return SeqInfo.dense(*info.feature_shape)


def build_rec_unit(
    rec: str,
    unit: Mapping[str, Any],
    source: SeqInfo,
    base: Mapping[str, SeqInfo],
    *,
    classes: Mapping[str, type[Layer]],
    build_net: BuildNet,
) -> RecUnit:
    """The unit's loop; `base` has the infos of the network layers it reads (base:<name>), in side-source order."""
    step, prev, initial = _step_dict(rec, unit, base)
    base_infos = {f"base:{n}": _base_info(rec, n, info) for n, info in base.items()}
    known = {n: SeqInfo.dense(int(unit[n]["n_out"])) for n in prev if isinstance(unit[n].get("n_out"), int)}
    dims = dict(known)
    guessed_input_dim = False
    for _ in range(len(unit) + 2):  # a prev: dim is what its layer computes; iterate until they agree
        infos = {"source": source, **base_infos, **{f"prev:{n}": dims.get(n, SeqInfo.dense(1)) for n in prev}}
        try:
            net = build_net(parse_net_dict(step, classes=classes, data_keys=infos), infos)
        except ConfigError as e:
            if guessed_input_dim or all(n in known for n in prev):
                raise ConfigError(f"rec layer {rec!r}: {e}") from None
            # a layer without n_out (combine, eval, copy) that adds to its prev: often has the input's dim
            dims = {**{n: SeqInfo.dense(*source.feature_shape) for n in prev}, **known}
            guessed_input_dim = True
            continue
        found = {n: net.infos[n] for n in prev}
        if all(found[n] == infos[f"prev:{n}"] for n in prev):
            layer = RecUnit([source, *base.values()], net, {n: initial[n] for n in sorted(prev)}, list(base))
            layer.dropout = {n: float(d["dropout"]) for n, d in unit.items() if d.get("dropout")}
            layer.l2 = {n: float(d["L2"]) for n, d in unit.items() if d.get("L2")}
            return layer
        dims = found
    raise ConfigError(f"rec layer {rec!r}: the dims of its prev: layers do not settle ({sorted(prev)})")


class RecUnit(Layer):
    """The frame-by-frame loop over a unit net (see the module docstring).

    `dropout`: input dropout rate per unit layer, a fresh mask every step (RETURNN's loop does the same); the
    network puts it into `step_options` (its StepOptions per unit layer). `l2`: the unit layers' L2 coefficients,
    which the step's caller adds to the loss like a top-level layer's `L2`."""

    layer_class = "rec"

    def __init__(self, sources: list[SeqInfo], step: Any, initial: dict[str, float], base: list[str]) -> None:
        super().__init__(sources)
        if sources[0].sparse or not sources[0].time_axis:
            raise ConfigError("rec with a unit: needs a dense input with a time axis")
        self.step = step
        self.initial = initial
        self.base = base
        self.out_info = step.infos["output"]
        self.dropout: dict[str, float] = {}
        self.l2: dict[str, float] = {}
        self.step_options: dict[str, Any] = {}

    def param_roles(self) -> dict[str, str]:
        return {name: "keep" for name, _ in self.named_parameters()}  # the unit's layers are initialized already

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        assert x.lengths is not None
        batch = x.batch_size
        ones = torch.ones(batch, dtype=x.lengths.dtype)
        prev = {
            name: x.tensor.new_full((batch, 1, self.step.infos[name].dim), value)
            for name, value in self.initial.items()
        }
        needed = ["output", *prev]
        fixed = {f"base:{n}": Seq(s.tensor[:, None], ones) for n, s in zip(self.base, sources[1:])}
        frames = []
        for t in range(x.max_len):
            data = {
                "source": Seq(x.tensor[:, t : t + 1], ones),
                **fixed,
                **{f"prev:{n}": Seq(v, ones) for n, v in prev.items()},
            }
            values = self.step(data, needed, self.step_options)
            frames.append(values["output"].tensor)
            prev = {n: values[n].tensor for n in prev}
        return Seq(torch.cat(frames, dim=1), x.lengths).zero_padding()
