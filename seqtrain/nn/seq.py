"""A padded batch of sequences with its lengths: what flows between net-dict layers.

Every layer gets and returns a `Seq`, so sequence lengths travel with the values through the whole
network; a layer that subsamples time returns new lengths, and masks are always derived from the
lengths at hand. Padded frames hold unspecified values: whatever mixes frames over time (conv,
pooling, attention, norms, reductions, losses) masks them first, so padding never leaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class SeqInfo:
    """What a layer output looks like, known before any data is seen (parameters are built from it).

    Dense: values [B, T, *feature_shape], `dim` = last feature axis. Sparse: class indices [B, T],
    `dim` = number of classes, `feature_shape` = ().
    """

    dim: int
    sparse: bool = False
    feature_shape: tuple[int, ...] = ()
    time_axis: bool = True

    @staticmethod
    def dense(*feature_shape: int, time_axis: bool = True) -> SeqInfo:
        return SeqInfo(dim=feature_shape[-1], sparse=False, feature_shape=tuple(feature_shape), time_axis=time_axis)

    @staticmethod
    def classes(num_classes: int) -> SeqInfo:
        return SeqInfo(dim=num_classes, sparse=True, feature_shape=())

    def describe(self) -> str:
        time = "T, " if self.time_axis else ""
        if self.sparse:
            return f"sparse [B, {time.rstrip(', ')}] with {self.dim} classes"
        return f"dense [B, {time}{', '.join(map(str, self.feature_shape))}]"


def sequence_mask(lengths: torch.Tensor, max_len: int, device: torch.device | None = None) -> torch.Tensor:
    """[B, max_len] bool, True on the valid frames of each sequence."""
    positions = torch.arange(max_len, device=device)
    return positions[None, :] < lengths.to(device=device, dtype=torch.long)[:, None]


@dataclass
class Seq:
    """Values [B, T, ...] (or [B, ...] without time axis) and per-sequence lengths [B] (int, on the CPU).

    Lengths stay on the CPU because packing (RNNs) and CTC want them there; masks are made on the
    values' device when needed and cached.
    """

    tensor: torch.Tensor
    lengths: torch.Tensor | None
    _mask: torch.Tensor | None = field(default=None, repr=False, compare=False)
    # set by a `time_chunking` layer: how its windows map back (layers that keep the batch carry it along)
    chunking: Any = field(default=None, repr=False, compare=False)
    # the values before the layer's activation, kept only when the network asks (RETURNN's darc1 needs them)
    pre_activation: torch.Tensor | None = field(default=None, repr=False, compare=False)

    @property
    def batch_size(self) -> int:
        return self.tensor.shape[0]

    @property
    def max_len(self) -> int:
        return self.tensor.shape[1]

    def mask(self) -> torch.Tensor:
        """[B, T] bool on the values' device: True for valid frames."""
        if self.lengths is None:
            raise ValueError("this sequence has no time axis, so it has no mask")
        if self._mask is None or self._mask.shape[1] != self.max_len:
            self._mask = sequence_mask(self.lengths, self.max_len, self.tensor.device)
        return self._mask

    def frame_mask(self) -> torch.Tensor:
        """The mask broadcastable to the values: [B, T, 1, ...]."""
        mask = self.mask()
        return mask.view(*mask.shape, *([1] * (self.tensor.dim() - 2)))

    def zero_padding(self) -> Seq:
        """Same sequence with exact zeros in the padded frames (before mixing frames over time)."""
        if self.lengths is None or bool((self.lengths >= self.max_len).all()):
            return self
        return Seq(self.tensor * self.frame_mask().to(self.tensor.dtype), self.lengths, self._mask, self.chunking)

    def replace(self, tensor: torch.Tensor, lengths: torch.Tensor | str | None = "same") -> Seq:
        """A new Seq with other values; lengths (and the cached mask) kept unless given."""
        chunking = self.chunking if tensor.shape[0] == self.batch_size else None
        if isinstance(lengths, str):
            same_time = self.lengths is not None and tensor.dim() >= 2 and tensor.shape[1] == self.max_len
            return Seq(tensor, self.lengths, self._mask if same_time else None, chunking)
        return Seq(tensor, lengths, chunking=chunking)


def same_lengths(seqs: list[Seq]) -> bool:
    """True if all sequences have the same per-sequence lengths (or all have no time axis)."""
    first = seqs[0].lengths
    for s in seqs[1:]:
        if (s.lengths is None) != (first is None):
            return False
        if first is not None and s.lengths is not None and not torch.equal(first.long(), s.lengths.long()):
            return False
    return True
