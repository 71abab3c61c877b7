"""RETURNN's `time_chunking` / `time_unchunking`: windows of the sequences as a bigger batch, and back.

    "in":  {"class": "time_chunking", "chunk_size": 22, "chunk_step": 11, "from": "data"},
    ...    (layers on [B * n_chunks, chunk_size, D], e.g. LSTMs that then see only their window)
    "out": {"class": "time_unchunking", "chunking_layer": "in", "from": [...]},

As RETURNN's native ops: a batch of max length T gives n = max(T - size + step - 1, 0) // step + 1 windows
per sequence, window c covering frames [c*step, c*step + size) cut to the sequence's length (windows past
the end have length 0); unchunking sums each frame's windows and divides by their count (the average of
the overlaps; the gradient is split the same way). The window layout travels with the values (`Seq.chunking`)
through the layers in between; `chunking_layer` must name a time_chunking layer (checked with the net dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer
from seqtrain.nn.seq import Seq, SeqInfo


@dataclass(frozen=True)
class ChunkLayout:
    """Which chunking made a chunked batch, and what to undo it to."""

    batch_size: int
    num_chunks: int
    size: int
    step: int
    max_len: int
    lengths: torch.Tensor  # the original sequence lengths [B]


class TimeChunkingLayer(Layer):
    layer_class = "time_chunking"
    allow_sparse_sources = True

    def __init__(self, sources: list[SeqInfo], *, chunk_size: int, chunk_step: int) -> None:
        super().__init__(sources)
        if not all(isinstance(v, int) and v >= 1 for v in (chunk_size, chunk_step)):
            raise ConfigError(
                f"time_chunking: chunk_size and chunk_step must be ints >= 1, got {chunk_size}, {chunk_step}"
            )
        if not sources[0].time_axis:
            raise ConfigError("time_chunking: needs a time axis")
        self.size, self.step = chunk_size, chunk_step
        self.out_info = sources[0]

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0].zero_padding()
        assert x.lengths is not None
        batch, max_len = x.batch_size, x.max_len
        n = max(max_len - self.size + self.step - 1, 0) // self.step + 1
        padded_len = (n - 1) * self.step + self.size
        values = x.tensor
        if padded_len > max_len:
            pad = values.new_zeros(batch, padded_len - max_len, *values.shape[2:])
            values = torch.cat([values, pad], dim=1)
        windows = values.unfold(1, self.size, self.step)  # [B, n, ..., size]
        windows = windows.movedim(-1, 2).reshape(batch * n, self.size, *values.shape[2:])
        starts = torch.arange(n) * self.step
        lengths = (x.lengths.long()[:, None] - starts[None, :]).clamp(0, self.size).reshape(-1)
        layout = ChunkLayout(batch, n, self.size, self.step, max_len, x.lengths)
        return Seq(windows, lengths.to(x.lengths.dtype), chunking=layout)


class TimeUnChunkingLayer(Layer):
    layer_class = "time_unchunking"
    allow_sparse_sources = True

    def __init__(self, sources: list[SeqInfo], *, chunking_layer: str) -> None:
        super().__init__(sources)
        self.chunking_layer = chunking_layer
        self.out_info = sources[0]

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        y = sources[0]
        layout = y.chunking
        if not isinstance(layout, ChunkLayout) or y.lengths is None:
            raise ConfigError(
                f"time_unchunking (chunking_layer {self.chunking_layer!r}): its input is not a chunked batch; the "
                "layers between time_chunking and time_unchunking must keep the batch and time axes"
            )
        batch, n, size, step = layout.batch_size, layout.num_chunks, layout.size, layout.step
        frames = y.tensor * y.frame_mask().to(y.tensor.dtype)
        frames = frames.reshape(batch, n, size, *y.tensor.shape[2:])
        weights = y.mask().to(y.tensor.dtype).reshape(batch, n, size)
        padded_len = (n - 1) * step + size
        out = frames.new_zeros(batch, padded_len, *y.tensor.shape[2:])
        count = weights.new_zeros(batch, padded_len)
        for c in range(n):  # few windows (max length / step); each adds its frames in place
            out[:, c * step : c * step + size] += frames[:, c]
            count[:, c * step : c * step + size] += weights[:, c]
        count = count[:, : layout.max_len].clamp(min=1)
        out = out[:, : layout.max_len] / count.view(*count.shape, *([1] * (out.dim() - 2)))
        return Seq(out, layout.lengths)


LAYERS: list[type[Layer]] = [TimeChunkingLayer, TimeUnChunkingLayer]
