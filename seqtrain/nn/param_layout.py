"""Which blocks each parameter axis of a net-dict network is made of, for growing networks in width.

See `seqtrain.model.growth`: an LSTM's gates, a BLSTM's two directions and the concatenated sources
of a layer are blocks that grow separately. The blocks of a layer's input follow from its sources
(data keys are one block, a BLSTM gives [n, n], shape-preserving layers pass their input's blocks on,
several sources concatenate), and the blocks of its parameters from its class. Layers seqtrain does not
know may describe themselves with a method `param_axes_parts(input_parts) -> {param name: parts}`;
otherwise each axis is one block, which is right for everything without internal structure.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from seqtrain.nn.layer import Layer
from seqtrain.nn.layers.conv import Conv1dLayer
from seqtrain.nn.layers.linear import LinearLayer
from seqtrain.nn.layers.norm import BatchNormLayer, LayerNormLayer, NormLayer
from seqtrain.nn.layers.recurrent import _GATES, _Recurrent
from seqtrain.nn.net_dict import NetSpec

# Layers whose output has the blocks of their (first) input: elementwise, normalizing, masking.
_SHAPE_PRESERVING = {
    "activation",
    "dropout",
    "specaugment",
    "norm",
    "layer_norm",
    "batch_norm",
    "combine",
    "residual",
    "positional_encoding",
}
_CONCATENATING = {"copy", "concat"}

Layout = dict[str, list[list[int]]]  # full parameter/buffer name -> per-axis block sizes


def _recurrent_parts(layer: _Recurrent, in_parts: list[int]) -> dict[str, list[list[int]]]:
    gates = [layer.n_out] * _GATES[layer.unit]
    layout = {}
    for suffix in ("", "_reverse") if layer.bidirectional else ("",):
        layout[f"weight_ih{suffix}"] = [gates, in_parts]
        layout[f"weight_hh{suffix}"] = [gates, [layer.n_out]]
        layout[f"bias_ih{suffix}"] = [gates]
        layout[f"bias_hh{suffix}"] = [gates]
    return layout


def _layer_parts(layer: Layer, in_parts: list[int]) -> dict[str, list[list[int]]]:
    """Blocks of the layer's own parameters and buffers (names relative to the layer)."""
    own = getattr(layer, "param_axes_parts", None)
    if callable(own):
        return dict(own(in_parts))
    if isinstance(layer, _Recurrent):
        return _recurrent_parts(layer, in_parts)
    if isinstance(layer, LinearLayer):
        n_out = layer.weight.shape[0]
        inputs = [layer.weight.shape[1]] if layer.sparse_input else in_parts
        return {"weight": [[n_out], inputs], "bias": [[n_out]]}
    if isinstance(layer, Conv1dLayer) and layer.groups == 1:
        n_out, _, *kernel = layer.weight.shape
        return {"weight": [[n_out], in_parts, *[[k] for k in kernel]], "bias": [[n_out]]}
    if isinstance(layer, (NormLayer, LayerNormLayer, BatchNormLayer)):
        names = [n for n, _ in layer.named_parameters()] + [n for n, b in layer.named_buffers() if b.dim() == 1]
        return {name: [in_parts] for name in names}
    return {}


def _output_parts(layer: Layer, layer_class: str, in_parts: list[int], source_parts: list[list[int]]) -> list[int]:
    dim = layer.out_info.dim
    if isinstance(layer, _Recurrent) and layer.bidirectional:
        return [layer.n_out, layer.n_out]
    if layer_class in _CONCATENATING and len(layer.out_info.feature_shape) == 1:
        return [p for parts in source_parts for p in parts]
    if layer_class in _SHAPE_PRESERVING and sum(in_parts) == dim:
        return list(in_parts)
    return [dim]


def network_layout(spec: NetSpec, network: nn.Module) -> Layout:
    """Blocks of every parameter and buffer of a `Network` built from `spec` (those seqtrain can tell)."""
    layers: dict[str, Any] = dict(network.named_children())
    infos = getattr(network, "infos", {})
    outputs: dict[str, list[int]] = {k: [int(v.dim)] for k, v in infos.items() if k.startswith("data:")}
    layout: Layout = {}
    for name, layer_spec in spec.layers.items():
        layer = layers.get(name)
        if not isinstance(layer, Layer):
            continue
        source_parts = [outputs.get(s, [int(infos[s].dim)] if s in infos else [0]) for s in layer_spec.sources]
        concat = layer_spec.cls.concat_sources
        in_parts = [p for parts in source_parts for p in parts] if concat else list(source_parts[0])
        for param, parts in _layer_parts(layer, in_parts).items():
            layout[f"{name}.{param}"] = [list(p) for p in parts]
        outputs[name] = _output_parts(layer, layer_spec.cls.layer_class, in_parts, source_parts)
    return layout


def layer_import_modes(spec: NetSpec) -> dict[str, Any]:
    """RETURNN's per-layer `custom_param_importer` ("reset", "subset", "ifpossible" or a function), by layer."""
    return {
        name: s.option("custom_param_importer")
        for name, s in spec.layers.items()
        if s.option("custom_param_importer") is not None
    }
