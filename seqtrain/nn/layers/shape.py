"""Slicing, reducing and reshaping: slice (time or features), reduce (time or features), merge_dims.

Slicing time gives every sequence its own new length; reducing over time only counts valid frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer
from seqtrain.nn.seq import Seq, SeqInfo


def _axis(axis: str, where: str) -> str:
    name = {"t": "T", "time": "T", "f": "F", "feature": "F"}.get(str(axis).lower())
    if name is None:
        raise ConfigError(f"{where}: axis must be 'T' (time) or 'F' (feature), got {axis!r}")
    return name


class SliceLayer(Layer):
    """x[start:end:step] on the time axis ("T"; start/end >= 0) or the last feature axis ("F")."""

    layer_class = "slice"
    allow_sparse_sources = True

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        axis: str,
        slice_start: int | None = None,
        slice_end: int | None = None,
        slice_step: int | None = None,
    ) -> None:
        super().__init__(sources)
        self.axis = _axis(axis, "slice")
        self.start, self.end, self.step = slice_start, slice_end, slice_step or 1
        info = sources[0]
        if self.step < 1:
            raise ConfigError(f"slice: slice_step must be >= 1, got {slice_step}")
        if self.axis == "T":
            if (self.start or 0) < 0 or (self.end is not None and self.end < 0):
                raise ConfigError("slice: on the time axis, slice_start/slice_end must be >= 0")
            self.out_info = info
        else:
            if info.sparse:
                raise ConfigError("slice: a sparse input has no feature axis")
            width = len(range(info.dim)[slice(self.start, self.end, self.step)])
            if width == 0:
                raise ConfigError(
                    f"slice: [{slice_start}:{slice_end}:{slice_step}] selects none of {info.dim} features"
                )
            self.out_info = SeqInfo.dense(*info.feature_shape[:-1], width)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        if self.axis == "F":
            return x.replace(x.tensor[..., self.start : self.end : self.step])
        assert x.lengths is not None
        start = self.start or 0
        ends = x.lengths.long() if self.end is None else x.lengths.long().clamp(max=self.end)
        lengths = ((ends - start).clamp(min=0) + self.step - 1) // self.step
        return Seq(x.tensor[:, start : self.end : self.step], lengths)


class ReduceLayer(Layer):
    """`mode` sum, mean, max or min over `axis` (or RETURNN's `axes`) "T" (valid frames only; no time axis left)
    or "F" (kept as size 1)."""

    layer_class = "reduce"

    def __init__(self, sources: list[SeqInfo], *, mode: str, axis: str = "T", axes: str | None = None) -> None:
        super().__init__(sources)
        if mode not in ("sum", "mean", "max", "min"):
            raise ConfigError(f"reduce: mode must be sum, mean, max or min, got {mode!r}")
        self.mode = mode
        self.axis = _axis(axis if axes is None else axes, "reduce")  # RETURNN writes either
        info = sources[0]
        if info.sparse:
            raise ConfigError("reduce: needs dense input")
        if self.axis == "T":
            self.out_info = SeqInfo.dense(*info.feature_shape, time_axis=False)
        else:
            self.out_info = SeqInfo.dense(*info.feature_shape[:-1], 1, time_axis=info.time_axis)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        if self.axis == "F":
            op = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin}[self.mode]
            return x.replace(op(x.tensor, dim=-1, keepdim=True))
        assert x.lengths is not None
        mask = x.frame_mask()
        if self.mode in ("sum", "mean"):
            total = (x.tensor * mask.to(x.tensor.dtype)).sum(dim=1)
            if self.mode == "mean":
                counts = x.lengths.to(x.tensor.device, x.tensor.dtype).clamp(min=1)
                total = total / counts.view(-1, *([1] * (total.dim() - 1)))
            return Seq(total, None)
        fill = -math.inf if self.mode == "max" else math.inf
        values = x.tensor.masked_fill(~mask, fill)
        return Seq(values.amax(dim=1) if self.mode == "max" else values.amin(dim=1), None)


class MergeDimsLayer(Layer):
    """Flattens all feature axes: [B, T, F, C] -> [B, T, F * C] (e.g. after conv2d).

    RETURNN's `axes` may be given as "static" or "except_time" (here both mean all feature axes) and `keep_order`
    as True (RETURNN's default since behaviour version 6); merging other axes (batch, time) is not implemented."""

    layer_class = "merge_dims"

    def __init__(self, sources: list[SeqInfo], *, axes: str = "static", keep_order: bool = True) -> None:
        super().__init__(sources)
        if axes not in ("static", "except_time"):
            raise ConfigError(
                f"merge_dims: axes {axes!r} is not supported; only 'static' / 'except_time' (all feature axes)"
            )
        if keep_order is not True:
            raise ConfigError("merge_dims: only keep_order=True (RETURNN's default) is supported")
        info = sources[0]
        if info.sparse:
            raise ConfigError("merge_dims: needs dense input")
        self.out_info = SeqInfo.dense(math.prod(info.feature_shape), time_axis=info.time_axis)

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        keep = 2 if x.lengths is not None else 1
        return x.replace(x.tensor.reshape(*x.tensor.shape[:keep], -1))


LAYERS: list[type[Layer]] = [SliceLayer, ReduceLayer, MergeDimsLayer]
