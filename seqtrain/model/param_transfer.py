"""Carrying parameters (and optimizer state) over when the model is rebuilt between epochs.

Pretraining and pipelines change the network between epochs; the new model is built with fresh
parameters, then this module fills them from the old model, parameter by parameter, and logs a table:

- source: the parameter of the same name, or the one `copy_param_map` names ("enc.*": "lstm.*" maps
  prefixes; None means "initialize fresh");
- how (`copy_param_mode`, or the layer's `custom_param_importer`, RETURNN's names): same shape is
  always copied; a changed shape is resized into the matching blocks with "subset" (grow or shrink in
  width, see `seqtrain.model.growth`) and left fresh with "ifpossible"; "reset" copies nothing;
  a function `f(*, name, old, new)` returns the values itself (None = keep fresh);
- optimizer state (`copy_optimizer_state`): "all" keeps the state of copied parameters and grows the
  state of grown ones like the values (old block kept, new entries 0, the step count kept: with Adam,
  new entries' first updates then use the old parameter's bias correction and are up to
  (1 - beta1) / sqrt(1 - beta2) ~ 3x a fresh Adam's first step); "same_shape" gives grown parameters
  fresh state; "none" keeps none. A different optimizer class never inherits state.

Buffers (norm statistics) follow the same rules without optimizer state, scaling or zeroing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from seqtrain.config import Config
from seqtrain.config.settings import PretrainSettings
from seqtrain.errors import ConfigError
from seqtrain.model.growth import GrowOptions, compatible_parts, resize, resize_state
from seqtrain.nn.param_layout import layer_import_modes, network_layout

log = logging.getLogger("seqtrain")

MODES = ("subset", "ifpossible", "reset")


@dataclass(frozen=True)
class TransferOptions:
    mode: str = "subset"
    name_map: Mapping[str, str | None] = field(default_factory=dict)
    layer_modes: Mapping[str, Any] = field(default_factory=dict)  # layer name -> mode or function
    grow: GrowOptions = field(default_factory=GrowOptions)
    optimizer_state: str = "all"  # "all" | "same_shape" | "none"

    @classmethod
    def from_config(cls, config: Config, *, layer_modes: Mapping[str, Any] | None = None) -> TransferOptions:
        """The epoch's transfer keys (a net dict's `#config` / a pipeline stage may set them per epoch)."""
        for layer, mode in (layer_modes or {}).items():
            if not (callable(mode) or mode in MODES):
                raise ConfigError(
                    f"layer {layer!r}: custom_param_importer must be one of {list(MODES)} or a function "
                    f"f(*, name, old, new), got {mode!r}"
                )
        copy = PretrainSettings.from_config(config)
        return cls(
            mode=copy.copy_param_mode,
            name_map=dict(copy.copy_param_map or {}),
            layer_modes=dict(layer_modes or {}),
            grow=GrowOptions(
                slice_at=copy.copy_param_grow_slice, init=copy.copy_param_grow_init, scale=copy.copy_param_grow_scale
            ),
            optimizer_state=copy.copy_optimizer_state,
        )


@dataclass(frozen=True)
class ParamMove:
    """What happened to one parameter: copied, grown, shrunk, resized, new, reset, custom or dropped."""

    name: str
    action: str
    source: str | None
    old_shape: tuple[int, ...] | None
    new_shape: tuple[int, ...] | None
    optimizer: str = "-"  # kept, grown, reset, fresh


@dataclass
class TransferReport:
    moves: list[ParamMove] = field(default_factory=list)
    buffers_copied: int = 0

    def names(self, action: str) -> list[str]:
        return [m.name for m in self.moves if m.action == action]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for move in self.moves:
            counts[move.action] = counts.get(move.action, 0) + 1
        return counts

    def table(self) -> list[str]:
        def shape(s: tuple[int, ...] | None) -> str:
            return "-" if s is None else str(list(s))

        rows = [("parameter", "from", "old shape", "new shape", "transfer", "optimizer state")]
        for m in self.moves:
            source = "" if m.source in (None, m.name) else m.source
            rows.append((m.name, source, shape(m.old_shape), shape(m.new_shape), m.action, m.optimizer))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]

    def summary(self) -> str:
        counts = self.counts()
        order = ("copied", "grown", "shrunk", "resized", "custom", "new", "reset", "dropped")
        return ", ".join(f"{counts[a]} {a}" for a in order if a in counts) or "no parameters"


def source_name(name: str, name_map: Mapping[str, str | None]) -> str | None:
    """The old parameter that `name` is filled from: `name` itself unless `copy_param_map` says otherwise."""
    if name in name_map:
        return name_map[name]
    for pattern, target in name_map.items():
        if pattern.endswith("*") and name.startswith(pattern[:-1]):
            if target is None:
                return None
            if not target.endswith("*"):
                raise ConfigError(f"copy_param_map: {pattern!r} maps a prefix, so its target must end in '*' too")
            return target[:-1] + name[len(pattern) - 1 :]
    return name


def _mode_for(name: str, options: TransferOptions) -> Any:
    return options.layer_modes.get(name.split(".", 1)[0], options.mode)


def _shape_action(old: tuple[int, ...], new: tuple[int, ...]) -> str:
    if all(n >= o for o, n in zip(old, new)):
        return "grown"
    if all(n <= o for o, n in zip(old, new)):
        return "shrunk"
    return "resized"


class _Transfer:
    """One rebuild: fills the new model's parameters from the old model, and the optimizer state with them."""

    def __init__(
        self,
        old_model: torch.nn.Module,
        old_optimizer: torch.optim.Optimizer | None,
        new_optimizer: torch.optim.Optimizer | None,
        options: TransferOptions,
        layouts: tuple[Mapping[str, Any], Mapping[str, Any]],
    ) -> None:
        self.old_params = dict(old_model.named_parameters())
        self.old_buffers = dict(old_model.named_buffers())
        self.options = options
        self.old_layout, self.new_layout = layouts
        same_class = old_optimizer is not None and type(old_optimizer) is type(new_optimizer)
        self.old_optimizer = old_optimizer if same_class and options.optimizer_state != "none" else None
        self.new_optimizer = new_optimizer
        self.in_new_optimizer = (
            {id(p) for g in new_optimizer.param_groups for p in g["params"]} if new_optimizer is not None else set()
        )
        self.used: set[str] = set()

    def param(self, name: str, new_p: torch.nn.Parameter) -> ParamMove:
        new_shape = tuple(new_p.shape)
        source = source_name(name, self.options.name_map)
        old_p = self.old_params.get(source) if source is not None else None
        if source is not None and old_p is None and source != name:
            log.warning("WARNING: copy_param_map: no old parameter %r for %r; it is initialized fresh", source, name)
        if old_p is None:
            return ParamMove(name, "new", source, None, new_shape, "fresh")
        self.used.add(source or "")
        old_shape = tuple(old_p.shape)
        mode = _mode_for(name, self.options)
        if callable(mode):
            values = mode(name=name, old=old_p.detach().clone(), new=new_p.detach().clone())
            if values is not None:
                new_p.data.copy_(values)
            return ParamMove(name, "custom" if values is not None else "reset", source, old_shape, new_shape, "fresh")
        if mode == "reset":
            return ParamMove(name, "reset", source, old_shape, new_shape, "fresh")
        if old_shape == new_shape:
            new_p.data.copy_(old_p.data)
            return ParamMove(name, "copied", source, old_shape, new_shape, self._optimizer_state(old_p, new_p, None))
        parts = compatible_parts(old_shape, new_shape, self.old_layout.get(source), self.new_layout.get(name))
        if mode != "subset" or parts is None:
            return ParamMove(name, "new", source, old_shape, new_shape, "fresh")
        new_p.data.copy_(resize(old_p.data, new_p.data, parts[0], parts[1], self.options.grow))
        state = self._optimizer_state(old_p, new_p, parts)
        return ParamMove(name, _shape_action(old_shape, new_shape), source, old_shape, new_shape, state)

    def _optimizer_state(
        self, old_p: torch.Tensor, new_p: torch.Tensor, parts: tuple[list[list[int]], list[list[int]]] | None
    ) -> str:
        """Carries the old parameter's optimizer state over; returns what happened to it (for the table)."""
        if id(new_p) not in self.in_new_optimizer:
            return "-"  # not trained (trainable: False)
        if self.old_optimizer is None or old_p not in self.old_optimizer.state:
            return "fresh"
        old_state = self.old_optimizer.state[old_p]
        assert self.new_optimizer is not None
        if parts is None:
            self.new_optimizer.state[new_p] = {k: _clone(v) for k, v in old_state.items()}
            return "kept"
        moments = [v for v in old_state.values() if isinstance(v, torch.Tensor) and v.dim() > 0]
        if self.options.optimizer_state != "all" or any(v.shape != old_p.shape for v in moments):
            return "fresh"
        self.new_optimizer.state[new_p] = {
            k: resize_state(v, new_p.shape, parts[0], parts[1], self.options.grow.slice_at)
            if isinstance(v, torch.Tensor) and v.dim() > 0
            else _clone(v)
            for k, v in old_state.items()
        }
        return "grown"

    def buffer(self, name: str, new_b: torch.Tensor) -> bool:
        source = source_name(name, self.options.name_map)
        old_b = self.old_buffers.get(source) if source is not None else None
        mode = _mode_for(name, self.options)
        if old_b is None or callable(mode) or mode == "reset":
            return False
        if old_b.shape == new_b.shape:
            new_b.copy_(old_b)
            return True
        parts = compatible_parts(old_b.shape, new_b.shape, self.old_layout.get(source), self.new_layout.get(name))
        if mode != "subset" or parts is None or not new_b.is_floating_point():
            return False
        new_b.copy_(resize(old_b, new_b, parts[0], parts[1], GrowOptions(slice_at=self.options.grow.slice_at)))
        return True


def _clone(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value


def transfer_state(
    old_model: torch.nn.Module,
    new_model: torch.nn.Module,
    old_optimizer: torch.optim.Optimizer | None,
    new_optimizer: torch.optim.Optimizer | None,
    *,
    options: TransferOptions | None = None,
    old_layout: Mapping[str, Any] | None = None,
    new_layout: Mapping[str, Any] | None = None,
    log_table: bool = True,
) -> TransferReport:
    """Fills `new_model` (freshly initialized) and `new_optimizer` from the old ones; returns what happened.

    `old_layout` / `new_layout`: per parameter name its per-axis blocks (`seqtrain.nn.param_layout`);
    without them each axis is one block.
    """
    options = options or TransferOptions()
    if options.mode not in MODES:
        raise ConfigError(f"copy_param_mode must be one of {list(MODES)}, got {options.mode!r}")
    transfer = _Transfer(old_model, old_optimizer, new_optimizer, options, (old_layout or {}, new_layout or {}))
    report = TransferReport()
    with torch.no_grad():
        for name, new_p in new_model.named_parameters():
            report.moves.append(transfer.param(name, new_p))
        for name, buf in new_model.named_buffers():
            report.buffers_copied += transfer.buffer(name, buf)
    for name, old_p in transfer.old_params.items():
        if name not in transfer.used:
            report.moves.append(ParamMove(name, "dropped", None, tuple(old_p.shape), None))
    if old_optimizer is not None and new_optimizer is not None and type(old_optimizer) is not type(new_optimizer):
        log.info(
            "optimizer changed from %s to %s: every parameter starts with fresh optimizer state",
            type(old_optimizer).__name__,
            type(new_optimizer).__name__,
        )
    if log_table:
        _log_report(report, options)
    return report


def model_layout(builder: Any, epoch: int, model: torch.nn.Module) -> tuple[dict[str, Any], dict[str, Any]]:
    """(per-parameter blocks, per-layer custom_param_importer) of a net-dict model; empty for other models."""
    net_spec = getattr(builder, "net_spec", None)
    spec = net_spec(epoch) if callable(net_spec) else None
    if spec is None:
        return {}, {}
    network = getattr(model, "module", model)
    return network_layout(spec, network), layer_import_modes(spec)


def _log_report(report: TransferReport, options: TransferOptions) -> None:
    log.info(
        "parameter transfer (copy_param_mode %r, copy_optimizer_state %r): %s; %d buffers copied",
        options.mode,
        options.optimizer_state,
        report.summary(),
        report.buffers_copied,
    )
    for line in report.table():
        log.info("  %s", line)
