"""Resizing tensors block by block: old values land exactly in the matching slices, new ones stay fresh."""

from __future__ import annotations

import math

import torch

from seqtrain.model.growth import GrowOptions, axis_blocks, compatible_parts, resize, resize_state


def _numbered(*shape: int) -> torch.Tensor:
    return torch.arange(1, math.prod(shape) + 1, dtype=torch.float32).view(*shape)


def test_axis_blocks_start_and_end() -> None:
    # two blocks of 2 grow to two blocks of 3: each old block goes to the start (or end) of its new block
    assert axis_blocks([2, 2], [3, 3], "start") == [(slice(0, 2), slice(0, 2)), (slice(2, 4), slice(3, 5))]
    assert axis_blocks([2, 2], [3, 3], "end") == [(slice(0, 2), slice(1, 3)), (slice(2, 4), slice(4, 6))]
    # shrinking keeps the first (or last) entries of each block
    assert axis_blocks([3], [2], "start") == [(slice(0, 2), slice(0, 2))]
    assert axis_blocks([3], [2], "end") == [(slice(1, 3), slice(0, 2))]


def test_gate_blocks_grow_separately() -> None:
    """An LSTM-like weight [4 gates * n, in]: n 2 -> 3, in 2 -> 4 (two source blocks of 1 -> 2)."""
    old = _numbered(8, 2)
    fresh = torch.full((12, 4), -1.0)
    new = resize(old, fresh, [[2] * 4, [1, 1]], [[3] * 4, [2, 2]], GrowOptions())
    for gate in range(4):
        assert torch.equal(new[3 * gate : 3 * gate + 2, 0], old[2 * gate : 2 * gate + 2, 0])
        assert torch.equal(new[3 * gate : 3 * gate + 2, 2], old[2 * gate : 2 * gate + 2, 1])
        assert bool((new[3 * gate + 2] == -1).all())  # the new unit of each gate: fresh
    assert bool((new[:, [1, 3]] == -1).all())  # the new input columns: fresh
    assert int((new != -1).sum()) == old.numel()


def test_end_slice_and_fan_in_scale() -> None:
    old = _numbered(2, 2)
    new = resize(old, torch.zeros(3, 4), [[2], [2]], [[3], [4]], GrowOptions(slice_at="end", scale="fan_in"))
    assert torch.allclose(new[1:, 2:], old * math.sqrt(2 / 4))
    assert int((new != 0).sum()) == 4
    assert torch.equal(resize(old, torch.zeros(2, 3), [[2], [2]], [[2], [3]], GrowOptions(scale=0.5))[:, :2], old / 2)


def test_preserve_function_zeroes_new_inputs_of_old_units_only() -> None:
    old = _numbered(2, 2)
    fresh = torch.full((3, 3), 7.0)
    new = resize(old, fresh, [[2], [2]], [[3], [3]], GrowOptions(init="preserve_function"))
    expected = torch.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0], [7.0, 7.0, 7.0]])
    assert torch.equal(new, expected)  # old units ignore the new input; the new unit keeps its random weights


def test_optimizer_moments_grow_with_zeros() -> None:
    moment = _numbered(2, 2)
    grown = resize_state(moment, (4, 2), [[1, 1], [2]], [[2, 2], [2]], "start")
    assert torch.equal(grown, torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]))


def test_parts_fall_back_to_whole_axes() -> None:
    assert compatible_parts((4, 2), (6, 2), [[2, 2], [2]], [[3, 3], [2]]) == ([[2, 2], [2]], [[3, 3], [2]])
    # a layout that does not fit the tensor, or block counts that differ, means one block per axis
    assert compatible_parts((4, 2), (6, 2), [[3, 3], [2]], [[3, 3], [2]]) == ([[4], [2]], [[6], [2]])
    assert compatible_parts((4, 2), (6, 2), [[2, 2], [2]], [[6], [2]]) == ([[4], [2]], [[6], [2]])
    assert compatible_parts((4,), (4, 1), None, None) is None
