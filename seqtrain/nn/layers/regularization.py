"""Regularization layers: dropout (a copy that applies its `dropout` option) and specaugment.

Both do nothing in evaluation. All SpecAugment options are schedulable (e.g. no masking in the first
epochs: `"time_mask_num": {1: 0, 3: (1, 2)}`); see `seqtrain.nn.specaugment.SpecAugmentOptions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, ClassVar

from seqtrain.nn.layer import Layer, require_dense_1d
from seqtrain.nn.layers.linear import CopyLayer
from seqtrain.nn.seq import Seq, SeqInfo
from seqtrain.nn.specaugment import SpecAugmentOptions, spec_augment


class DropoutLayer(CopyLayer):
    """`{"class": "dropout", "dropout": 0.1, "dropout_noise_shape": {"*": None, "T": 1}}`."""

    layer_class = "dropout"
    allow_sparse_sources = False


class SpecAugmentLayer(Layer):
    """Time warping, time masks and frequency masks on [B, T, F] features, per sequence and length-aware."""

    layer_class = "specaugment"
    schedulable: ClassVar[Mapping[str, Any]] = asdict(SpecAugmentOptions())

    def __init__(self, sources: list[SeqInfo]) -> None:
        super().__init__(sources)
        require_dense_1d(sources[0], self.layer_class)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        if not self.training:
            return x
        assert x.lengths is not None
        opts = SpecAugmentOptions.from_dict(dict(options), self.layer_class)
        return x.replace(spec_augment(x.tensor, x.lengths, opts, training=True))


LAYERS: list[type[Layer]] = [DropoutLayer, SpecAugmentLayer]
