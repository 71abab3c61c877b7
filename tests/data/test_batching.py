"""Greedy batching with RETURNN's semantics: exact batch lists for small, hand-checked length lists."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.batching import BatchSpec, Items, LengthFilter, greedy_groups, make_batches, padding_fraction


def _groups(lengths: list[int], **kwargs) -> list[list[int]]:
    return greedy_groups({"data": np.array(lengths)}, **kwargs)


def test_padded_size_bound_is_max_len_times_count() -> None:
    # 3+5 -> max 5 * 2 = 10 <= 10; adding 2 -> 5 * 3 = 15 > 10: closed. Then 2,2,2 -> 2*3 = 6; +4 -> 4*4 = 16 > 10.
    assert _groups([3, 5, 2, 2, 2, 4], batch_size=10) == [[0, 1], [2, 3, 4], [5]]


def test_sequence_longer_than_batch_size_gets_a_batch_of_its_own() -> None:
    assert _groups([2, 30, 2, 2], batch_size=10) == [[0], [1], [2, 3]]
    assert _groups([30], batch_size=10) == [[0]]


def test_max_seqs_closes_batches() -> None:
    assert _groups([1] * 7, batch_size=100, max_seqs=3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert _groups([1] * 4, batch_size=100, max_seqs=-1) == [[0, 1, 2, 3]]


def test_every_key_is_bounded_and_a_dict_bounds_per_key() -> None:
    lengths = {"data": np.array([4, 4, 4]), "classes": np.array([1, 9, 1])}
    # with one bound for all keys, "classes" (9 * 2 = 18 > 12) splits the first pair
    assert greedy_groups(lengths, batch_size=12) == [[0], [1], [2]]
    # "data" alone: 4 * 3 = 12 <= 12
    assert greedy_groups(lengths, batch_size={"data": 12}) == [[0, 1, 2]]
    assert greedy_groups(lengths, batch_size={"data": 12, "classes": 18}) == [[0, 1], [2]]


def test_invalid_limits() -> None:
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        _groups([1], batch_size=0)
    with pytest.raises(ValueError, match=r"names data keys \['clases'\]"):
        _groups([1], batch_size={"clases": 5})


def test_empty_order_gives_no_batches() -> None:
    assert make_batches(Items.whole(np.zeros(0, dtype=np.int64), {"data": np.array([3, 4])}), batch_size=5) == []


def test_make_batches_maps_positions_back_to_sequence_indices() -> None:
    items = Items.whole(np.array([2, 0, 1]), {"data": np.array([1, 1, 6])})
    assert make_batches(items, batch_size=8) == [BatchSpec((2,)), BatchSpec((0, 1))]


def test_max_padding_closes_a_group_early() -> None:
    # 10, 10, 9 -> padding 1/30 = 3.3 % <= 5 %; adding 5 -> real 34 of 40 = 15 % > 5 %
    lengths = {"data": np.array([10, 10, 9, 5, 5])}
    assert greedy_groups(lengths, batch_size=100, max_padding=("data", 0.05)) == [[0, 1, 2], [3, 4]]
    assert greedy_groups(lengths, batch_size=100) == [[0, 1, 2, 3, 4]]


def test_padding_fraction_by_hand() -> None:
    lengths = np.array([4, 2, 3, 3])
    # batch (0, 1): padded 8, real 6; batch (2, 3): padded 6, real 6 -> 1 - 12 / 14
    assert padding_fraction([BatchSpec((0, 1)), BatchSpec((2, 3))], lengths) == pytest.approx(1 - 12 / 14)
    chunked = BatchSpec((0, 0), chunks=({"data": (0, 3)}, {"data": (3, 4)}))
    assert padding_fraction([chunked], lengths) == pytest.approx(1 - 4 / 6)


@pytest.mark.parametrize(
    ("filt", "kept"),
    [
        (LengthFilter(max_len=5), [0, 2]),
        (LengthFilter(min_len=3), [2, 3]),
        (LengthFilter(max_len={"classes": 2}), [0, 1]),
        (LengthFilter(max_len=6, min_len={"data": 4}), [1, 2]),
        (LengthFilter(max_len={"phones": 1}), [0, 1, 2, 3]),
    ],
)
def test_length_filter_any_key_out_of_range_skips(filt: LengthFilter, kept: list[int]) -> None:
    lengths = {"data": np.array([2, 6, 5, 9]), "classes": np.array([1, 2, 3, 3])}
    assert np.flatnonzero(filt.keep_mask(lengths)).tolist() == kept
