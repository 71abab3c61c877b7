"""Copying a tensor into a tensor of another shape: growing (or shrinking) a network in width.

An axis of a parameter is often made of blocks that must be grown separately: an LSTM's
`weight_ih` [4 * n, in] stacks the four gates, and the input of a layer after a BLSTM is [forward n,
backward n]. Growing n from 256 to 512 must put the old forward gate weights into the first part of
the new forward gate block, not the first 1024 rows into the first 1024 rows. So every axis is given
as its list of block sizes ("parts", RETURNN's param axes split info), old and new, and each block is
copied on its own: the overlap min(old, new) goes to the start (or end) of the new block, the rest
keeps its fresh initialization.

`preserve_function` then zeroes the weights from new input units into old output units (torch layout:
axis 0 = output units, axes 1.. = inputs), so old units compute what they computed before and, when the
next layer is grown the same way, the grown network computes the old function (Net2Net's idea with
zero instead of duplicated units). New units keep random incoming weights, so they still learn.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

Parts = Sequence[Sequence[int]]  # per axis: its block sizes


@dataclass(frozen=True)
class GrowOptions:
    """How a tensor is resized: where old values go in each block, how new entries and old values are treated."""

    slice_at: str = "start"  # "start" | "end"
    init: str = "random"  # "random" | "preserve_function"
    scale: float | str = 1.0  # a factor on the copied values, or "fan_in"


def whole_axes(shape: Sequence[int]) -> list[list[int]]:
    """The parts of a tensor without known blocks: each axis is one block (RETURNN's fallback)."""
    return [[int(d)] for d in shape]


def fits(parts: Parts | None, shape: Sequence[int]) -> bool:
    return parts is not None and len(parts) == len(shape) and all(sum(p) == d for p, d in zip(parts, shape))


def compatible_parts(
    old_shape: Sequence[int], new_shape: Sequence[int], old_parts: Parts | None, new_parts: Parts | None
) -> tuple[list[list[int]], list[list[int]]] | None:
    """Per-axis blocks for both tensors, or None if they cannot be mapped onto each other (ndim differs).

    Block lists that do not fit their tensor, or whose block counts differ between old and new on an
    axis, fall back to the whole axis as one block there.
    """
    if len(old_shape) != len(new_shape):
        return None
    old_ok = fits(old_parts, old_shape)
    new_ok = fits(new_parts, new_shape)
    old_out, new_out = [], []
    for axis, (o, n) in enumerate(zip(old_shape, new_shape)):
        op = list(old_parts[axis]) if old_ok and old_parts is not None else [int(o)]
        np_ = list(new_parts[axis]) if new_ok and new_parts is not None else [int(n)]
        if len(op) != len(np_):
            op, np_ = [int(o)], [int(n)]
        old_out.append(op)
        new_out.append(np_)
    return old_out, new_out


def axis_blocks(old_parts: Sequence[int], new_parts: Sequence[int], slice_at: str) -> list[tuple[slice, slice]]:
    """(old slice, new slice) of each block's overlap along one axis."""
    blocks = []
    old_offset = new_offset = 0
    for old_size, new_size in zip(old_parts, new_parts):
        size = min(old_size, new_size)
        if slice_at == "end":
            old_start, new_start = old_offset + old_size - size, new_offset + new_size - size
        else:
            old_start, new_start = old_offset, new_offset
        blocks.append((slice(old_start, old_start + size), slice(new_start, new_start + size)))
        old_offset += old_size
        new_offset += new_size
    return blocks


def copied_mask(
    new_shape: Sequence[int], new_parts: Parts, old_parts: Parts, slice_at: str, device: torch.device | None = None
) -> list[torch.Tensor]:
    """Per axis: which positions of the new tensor receive old values."""
    masks = []
    for axis, size in enumerate(new_shape):
        mask = torch.zeros(int(size), dtype=torch.bool, device=device)
        for _, new_slice in axis_blocks(old_parts[axis], new_parts[axis], slice_at):
            mask[new_slice] = True
        masks.append(mask)
    return masks


def copy_blocks(old: torch.Tensor, new: torch.Tensor, old_parts: Parts, new_parts: Parts, slice_at: str) -> None:
    """Writes the overlap of every block combination of `old` into `new` (in place)."""
    per_axis = [axis_blocks(o, n, slice_at) for o, n in zip(old_parts, new_parts)]
    for combination in itertools.product(*per_axis):
        old_index = tuple(old_slice for old_slice, _ in combination)
        new_index = tuple(new_slice for _, new_slice in combination)
        new[new_index] = old[old_index].to(new.dtype)


def fan_in_scale(old_shape: Sequence[int], new_shape: Sequence[int]) -> float:
    """sqrt(old fan-in / new fan-in) for torch-layout weights [out, in, *kernel]; 1 for vectors."""
    if len(new_shape) < 2:
        return 1.0
    return math.sqrt(math.prod(old_shape[1:]) / math.prod(new_shape[1:]))


def resize(
    old: torch.Tensor, fresh: torch.Tensor, old_parts: Parts, new_parts: Parts, options: GrowOptions
) -> torch.Tensor:
    """`fresh` (the new tensor, already initialized) with the old values copied into the matching blocks."""
    result = fresh.detach().clone()
    copy_blocks(old.detach(), result, old_parts, new_parts, options.slice_at)
    masks = copied_mask(result.shape, new_parts, old_parts, options.slice_at, result.device)
    scale = fan_in_scale(old.shape, result.shape) if options.scale == "fan_in" else float(options.scale)
    if scale != 1.0:
        copied = _outer_and(masks)
        result[copied] *= scale
    if options.init == "preserve_function" and result.dim() >= 2:
        new_inputs = ~_outer_and([torch.ones_like(masks[0]), *masks[1:]])  # some input index is a new unit
        old_outputs = masks[0].view(-1, *([1] * (result.dim() - 1)))
        result[new_inputs & old_outputs] = 0
    return result


def resize_state(
    old: torch.Tensor, new_shape: Sequence[int], old_parts: Parts, new_parts: Parts, slice_at: str
) -> torch.Tensor:
    """An optimizer moment of a grown parameter: old blocks kept, new entries 0."""
    result = torch.zeros(tuple(new_shape), dtype=old.dtype, device=old.device)
    copy_blocks(old, result, old_parts, new_parts, slice_at)
    return result


def _outer_and(masks: list[torch.Tensor]) -> torch.Tensor:
    """Broadcast AND of per-axis masks: True where every axis index is True."""
    result = torch.ones((), dtype=torch.bool, device=masks[0].device)
    for axis, mask in enumerate(masks):
        shape = [1] * len(masks)
        shape[axis] = mask.numel()
        result = result & mask.view(shape)
    return result
