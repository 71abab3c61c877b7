"""RETURNN's `rec` layer with a sub-network `unit`: an explicit recurrence, computed frame by frame.

    "lstm": {"class": "rec", "from": "data", "unit": {
        "input": {"class": "copy", "from": ["prev:output", "data:source"]},
        "c": {"class": "eval", "from": ["input_gate", "cell_in", "forget_gate", "prev:c"],
              "eval": "source(0) * source(1) + source(2) * source(3)"},
        ...
        "output": {"class": "eval", "from": ["output_gate", "c"], "eval": "source(0) * source(1)"}}},

As in RETURNN: at step t, `data:source` (or `data`) is frame t of the rec layer's input, `prev:<name>` is that unit
layer's value at t-1 (zeros at t = 0, or the layer's `initial_output` number), and the rec layer's output is the
unit's "output" layer at every step. The unit becomes a small net of its own (seqtrain's layer classes, run on
one frame) whose inputs are `source` and the `prev:` values; its dims are settled first (a `prev:` value has the
dim its layer computes, found by building the unit until the dims agree). What RETURNN does beyond a frame-wise
recurrence over the input — search (`choice`), attention over `base:` layers, targets inside the loop, layers
that look across time — is not implemented: those give an error naming the unit layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer
from seqtrain.nn.net_dict import NetSpec, parse_net_dict
from seqtrain.nn.returnn_layers import unsupported_message
from seqtrain.nn.seq import Seq, SeqInfo

STEP_CLASSES = ("activation", "combine", "concat", "copy", "eval", "layer_norm", "linear", "softmax")
_NOT_PER_STEP = ("dropout", "L2", "param_variational_noise", "loss", "target", "loss_scale")

BuildNet = Callable[[NetSpec, Mapping[str, SeqInfo]], Any]  # net_module.Network (passed in: no import cycle)


def _where(rec: str, name: str) -> str:
    return f"rec layer {rec!r}: unit layer {name!r}"


def _step_sources(rec: str, name: str, d: dict[str, Any], unit: Mapping[str, Any], prev: set[str]) -> list[str]:
    given = d.get("from", "data:source")
    out = []
    for src in [given] if isinstance(given, str) else list(given):
        if src in ("data", "data:source"):
            out.append("data:source")
        elif isinstance(src, str) and src.startswith("prev:") and src[5:] in unit:
            prev.add(src[5:])
            out.append(f"data:prev:{src[5:]}")
        elif isinstance(src, str) and src in unit:
            out.append(src)
        else:
            why = {"base": "layers outside the loop (base:) are", "data": "data keys other than the input are"}
            kind = str(src).split(":", 1)[0] if ":" in str(src) else ""
            reason = why.get(kind, "unknown names are")
            raise ConfigError(f"{_where(rec, name)}: source {src!r}: {reason} not supported inside a rec unit")
    return out


def _step_dict(
    rec: str, unit: Mapping[str, Any], classes: Mapping[str, type[Layer]]
) -> tuple[dict[str, Any], set[str], dict[str, float]]:
    """The unit as a net dict over the inputs `source` and `prev:<name>`; the prev names and their initial values."""
    if "output" not in unit:
        raise ConfigError(f"rec layer {rec!r}: its unit needs a layer named 'output'")
    prev: set[str] = set()
    initial: dict[str, float] = {}
    step: dict[str, Any] = {}
    for name, d in unit.items():
        if not isinstance(d, dict):
            raise ConfigError(f"{_where(rec, name)}: expected a layer dict, got {d!r}")
        cls = d.get("class")
        if cls not in STEP_CLASSES:
            if cls in classes:
                note = "it computes over the whole sequence, not one frame"
            else:
                note = unsupported_message(cls) if isinstance(cls, str) else None
            raise ConfigError(
                f"{_where(rec, name)} of class {cls!r} is not supported inside a rec unit"
                + (f" ({note})" if note else "")
                + f"; supported: {', '.join(STEP_CLASSES)}"
            )
        bad = [k for k in _NOT_PER_STEP if k in d]
        if bad:
            raise ConfigError(f"{_where(rec, name)}: options {bad} are not supported inside a rec unit")
        value = d.get("initial_output", 0.0)
        if value in (None, "zeros"):
            value = 0.0
        if not isinstance(value, (int, float)):
            raise ConfigError(f"{_where(rec, name)}: initial_output {value!r}: only a number or 'zeros' is supported")
        initial[name] = float(value)
        step[name] = {k: v for k, v in d.items() if k != "initial_output"} | {
            "from": _step_sources(rec, name, d, unit, prev)
        }
    return step, prev, initial


def build_rec_unit(
    rec: str,
    unit: Mapping[str, Any],
    source: SeqInfo,
    *,
    classes: Mapping[str, type[Layer]],
    build_net: BuildNet,
) -> RecUnit:
    step, prev, initial = _step_dict(rec, unit, classes)
    dims = {n: SeqInfo.dense(int(unit[n]["n_out"])) for n in prev if isinstance(unit[n].get("n_out"), int)}
    for attempt in range(len(unit) + 1):  # a prev: dim is what its layer computes; iterate until they agree
        infos = {"source": source, **{f"prev:{n}": dims.get(n, SeqInfo.dense(1)) for n in prev}}
        try:
            net = build_net(parse_net_dict(step, classes=classes, data_keys=infos), infos)
        except ConfigError as e:
            if attempt == len(unit) or all(n in dims for n in prev):
                raise ConfigError(f"rec layer {rec!r}: {e}") from None
            dims = {n: SeqInfo.dense(int(unit[n]["n_out"])) for n in prev if isinstance(unit[n].get("n_out"), int)}
            continue
        found = {n: net.infos[n] for n in prev}
        if all(found[n] == infos[f"prev:{n}"] for n in prev):
            return RecUnit([source], net, {n: initial[n] for n in sorted(prev)})
        dims = found
    raise ConfigError(f"rec layer {rec!r}: the dims of its prev: layers do not settle ({sorted(prev)})")


class RecUnit(Layer):
    """The frame-by-frame loop over a unit net (see the module docstring)."""

    layer_class = "rec"

    def __init__(self, sources: list[SeqInfo], step: Any, initial: dict[str, float]) -> None:
        super().__init__(sources)
        if sources[0].sparse or not sources[0].time_axis:
            raise ConfigError("rec with a unit: needs a dense input with a time axis")
        self.step = step
        self.initial = initial
        self.out_info = step.infos["output"]

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
        frames = []
        for t in range(x.max_len):
            data = {"source": Seq(x.tensor[:, t : t + 1], ones), **{f"prev:{n}": Seq(v, ones) for n, v in prev.items()}}
            values = self.step(data, needed, {})
            frames.append(values["output"].tensor)
            prev = {n: values[n].tensor for n in prev}
        return Seq(torch.cat(frames, dim=1), x.lengths).zero_padding()
