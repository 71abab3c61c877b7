"""The built-in layer classes of net dicts, one module per family; `layer_classes()` maps "class" names to them."""

from __future__ import annotations

from seqtrain.nn.layer import Layer
from seqtrain.nn.layers import (
    attention,
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
    transducer,
)

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
)


def layer_classes() -> dict[str, type[Layer]]:
    """A fresh dict (callers may add user classes to it without touching the built-in table)."""
    return {cls.layer_class: cls for family in _FAMILIES for cls in family.LAYERS}
