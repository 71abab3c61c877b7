"""The `nn.Module` built from a net dict: one submodule per layer, named like the layer.

So parameters read `lstm1.weight_ih`, `output.weight`, and checkpoints, preloading and pretraining match
them by name. What every layer supports is done here around the layer: concatenating sources, input
dropout, variational parameter noise, trainable=False, and initialization. The forward pass computes
only the layers that the requested outputs depend on (in recognition, an auxiliary loss branch is not
computed at all).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from seqtrain.errors import ConfigError, DataError
from seqtrain.nn.init import initialize, parse_initializer
from seqtrain.nn.layer import KEEP_PRE_ACTIVATION, Layer
from seqtrain.nn.layers import layer_classes
from seqtrain.nn.net_dict import LayerSpec, NetSpec
from seqtrain.nn.rec_unit import build_rec_unit
from seqtrain.nn.regularization import dropout, noisy_parameters
from seqtrain.nn.seq import Seq, SeqInfo, same_lengths

log = logging.getLogger("seqtrain")

DEFAULT_INIT = {"forward_weights_init": "glorot_uniform", "recurrent_weights_init": "glorot_uniform", "bias_init": 0.0}


def _rec_unit(spec: LayerSpec, source: SeqInfo, base: dict[str, SeqInfo]) -> Layer:
    """RETURNN's rec layer with a sub-network unit (rec_unit.py); its unit is a Network of its own."""
    options = {k: v for k, v in spec.kwargs.items() if k not in ("unit", "unroll", "max_seq_len")}
    if options.get("direction", 1) != 1:
        raise ConfigError("a rec unit runs forward in time; direction -1 is not supported with a sub-network unit")
    if options.get("unit_opts"):
        raise ConfigError("unit_opts are options of a named unit (BasicLSTM, ...), not of a sub-network unit")
    layer = build_rec_unit(spec.name, spec.kwargs["unit"], source, base, classes=layer_classes(), build_net=Network)
    n_out = options.get("n_out")
    if n_out is not None and n_out != layer.out_info.dim:
        raise ConfigError(f"n_out={n_out}, but the unit's 'output' layer has dim {layer.out_info.dim}")
    layer.step_options = {name: StepOptions(dropout=rate) for name, rate in layer.dropout.items()}
    return layer


@dataclass(frozen=True)
class StepOptions:
    """A layer's schedulable values resolved for one step (see `seqtrain.model.net_dict_builder`)."""

    dropout: float = 0.0
    dropout_broadcast: frozenset[str] = frozenset()
    param_noise: float = 0.0
    layer: Mapping[str, Any] = field(default_factory=dict)
    keep_pre_activation: bool = False  # return the values before the activation too (Seq.pre_activation; darc1)


def _concat_info(infos: list[SeqInfo], where: str) -> SeqInfo:
    if len(infos) == 1:
        return infos[0]
    if any(i.sparse for i in infos):
        raise ConfigError(f"{where}: cannot concatenate sparse sources; embed them first")
    leading = {i.feature_shape[:-1] for i in infos}
    if len(leading) != 1:
        raise ConfigError(f"{where}: sources cannot be concatenated: {[i.describe() for i in infos]}")
    return SeqInfo.dense(*infos[0].feature_shape[:-1], sum(i.dim for i in infos), time_axis=infos[0].time_axis)


class Network(nn.Module):
    def __init__(self, spec: NetSpec, data_infos: Mapping[str, SeqInfo]) -> None:
        super().__init__()
        self._sources: dict[str, tuple[str, ...]] = {}
        self._concat: dict[str, bool] = {}
        self._side: dict[str, int] = {}  # how many of a layer's sources are side sources (after `from`)
        self.infos: dict[str, SeqInfo] = {f"data:{k}": v for k, v in data_infos.items()}
        for layer_spec in spec.layers.values():
            self._add_layer(layer_spec)
        for layer_spec in spec.layers.values():
            self._initialize(layer_spec)

    def _add_layer(self, spec: LayerSpec) -> None:
        inputs = [self.infos[s] for s in spec.sources]
        if not spec.cls.allow_sparse_sources and any(i.sparse for i in inputs):
            raise ConfigError(f"{spec.where}: needs dense input, but a source is sparse (use 'embedding' or 'linear')")
        if spec.cls.concat_sources:
            inputs = [_concat_info(inputs, spec.where)]
        if spec.option("dropout") and any(i.sparse for i in inputs):
            raise ConfigError(f"{spec.where}: dropout on a sparse input is not possible")
        try:
            if spec.cls.layer_class == "rec" and isinstance(spec.kwargs.get("unit"), dict):
                layer = _rec_unit(spec, inputs[0], {s: self.infos[s] for s in spec.side_sources})
            else:
                layer = spec.cls(inputs, **spec.kwargs)
        except ConfigError as e:
            raise ConfigError(f"{spec.where}: {e}") from None
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{spec.where}: {e}") from e
        n_out = spec.option("n_out")  # given to a class without n_out: RETURNN checks the output dim against it
        if n_out is not None and n_out != layer.out_info.dim:
            raise ConfigError(
                f"{spec.where}: n_out={n_out!r}, but the layer's output has dim {layer.out_info.dim} (its dim follows "
                "from its sources; n_out only checks it, as in RETURNN)"
            )
        try:
            self.add_module(spec.name, layer)
        except KeyError as e:
            raise ConfigError(f"layer name {spec.name!r} clashes with a torch.nn.Module attribute; rename it") from e
        if not spec.option("trainable", True):
            layer.requires_grad_(False)
        self._sources[spec.name] = spec.sources + spec.side_sources
        self._side[spec.name] = len(spec.side_sources)
        self._concat[spec.name] = spec.cls.concat_sources
        self.infos[spec.name] = layer.out_info

    def _initialize(self, spec: LayerSpec) -> None:
        """Initializes in net-dict dependency order, parameters in registration order: same seed, same weights."""
        inits = {k: parse_initializer(spec.option(k, v), where=f"{spec.where}: {k}") for k, v in DEFAULT_INIT.items()}
        layer = self.layer(spec.name)
        initialize(
            layer,
            forward=inits["forward_weights_init"],
            recurrent=inits["recurrent_weights_init"],
            bias=inits["bias_init"],
            overrides=layer.param_roles(),
        )

    def layer(self, name: str) -> Layer:
        module = self._modules[name]
        assert isinstance(module, Layer)
        return module

    def layer_names(self) -> list[str]:
        return list(self._sources)

    def dependencies(self, names: Sequence[str]) -> list[str]:
        """`names` and every layer they depend on, in computation order."""
        todo, needed = list(names), set()
        while todo:
            name = todo.pop()
            if name in needed or name.startswith("data:"):
                continue
            if name not in self._sources:
                raise ConfigError(f"no layer {name!r} in the network; layers: {self.layer_names()}")
            needed.add(name)
            todo.extend(self._sources[name])
        return [n for n in self._sources if n in needed]

    def forward(
        self, data: Mapping[str, Seq], needed: Sequence[str], options: Mapping[str, StepOptions]
    ) -> dict[str, Seq]:
        """Computes the layers in `needed` (and what they depend on); returns every computed layer's output."""
        values: dict[str, Seq] = {f"data:{k}": v for k, v in data.items()}
        for name in self.dependencies(needed):
            values[name] = self._run(name, [values[s] for s in self._sources[name]], options.get(name, StepOptions()))
        return values

    def _run(self, name: str, sources: list[Seq], opts: StepOptions) -> Seq:
        """Concatenation, length check and input dropout apply to the `from` sources; side sources come after."""
        side = sources[len(sources) - self._side[name] :]
        sources = sources[: len(sources) - self._side[name]]
        if len(sources) > 1 and self.layer(name).same_length_sources and not same_lengths(sources):
            lengths = {
                s: tuple(values.lengths.tolist()[:3]) if values.lengths is not None else None
                for s, values in zip(self._sources[name], sources)
            }
            raise DataError(f"layer {name!r}: its sources have different sequence lengths: {lengths}...")
        if self._concat[name] and len(sources) > 1:
            sources = [sources[0].replace(torch.cat([s.tensor for s in sources], dim=-1))]
        if opts.dropout > 0 and self.training:
            sources = [
                s.replace(
                    dropout(
                        s.tensor,
                        opts.dropout,
                        training=True,
                        broadcast=opts.dropout_broadcast,
                        time_axis=s.lengths is not None,
                    )
                )
                for s in sources
            ]
        layer = self.layer(name)
        layer_options = {**layer.schedulable, **opts.layer}  # defaults for options the step did not resolve
        if opts.keep_pre_activation:
            layer_options[KEEP_PRE_ACTIVATION] = True
        with noisy_parameters(layer, opts.param_noise, training=self.training):
            return layer(sources + side, layer_options)
