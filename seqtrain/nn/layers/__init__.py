"""The built-in layer classes of net dicts, one module per family, registered in `LAYERS` by their "class" name.

A new layer: a `Layer` subclass with `layer_class = "MyLayer"` in a family module (its `LAYERS` tuple)."""

from __future__ import annotations

from seqtrain.nn.layer import Layer
from seqtrain.nn.layers import (
    attention,
    chunking,
    combine,
    conformer,
    conv,
    embedding,
    linear,
    norm,
    pooling,
    recurrent,
    regularization,
    shape,
    spectral,
    transducer,
)
from seqtrain.registry import Registry

_FAMILIES = (
    linear,
    embedding,
    recurrent,
    conv,
    pooling,
    norm,
    regularization,
    combine,
    shape,
    attention,
    conformer,
    transducer,
    chunking,
    spectral,
)


LAYERS: Registry[type[Layer]] = Registry("layer class", hint="own classes: config key network_layer_classes")
for _family in _FAMILIES:
    for _cls in _family.LAYERS:
        LAYERS.register(_cls.layer_class, _cls)


def layer_classes() -> dict[str, type[Layer]]:
    """A fresh dict (callers may add user classes to it without touching the registry)."""
    return LAYERS.as_dict()
