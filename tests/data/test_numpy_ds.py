"""NumpyDataset: specs derived from the arrays, consistency checked, usable like any dataset."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.dataset import DataSpec
from seqtrain.data.numpy_ds import NumpyDataset
from seqtrain.errors import DataError


def test_specs_lengths_and_data() -> None:
    seqs = [
        {"data": np.ones((3, 2, 4), dtype="float16"), "classes": np.array([1, 5], dtype="int64")},
        {"data": np.zeros((5, 2, 4), dtype="float16"), "classes": np.array([2], dtype="int64")},
    ]
    dataset = NumpyDataset(seqs, tags=["x", "y"], vocabs={"classes": list("abcdefg")})
    assert dataset.data_specs() == {
        "data": DataSpec(dim=4, dtype="float16", feature_shape=(2, 4)),
        "classes": DataSpec(dim=7, dtype="int64", sparse=True),
    }
    assert dataset.labels("classes") == list("abcdefg")
    assert dataset.seq_lengths()["data"].tolist() == [3, 5] and dataset.seq_tag(1) == "y"
    assert dataset.get_seq(1)["classes"].tolist() == [2]
    assert NumpyDataset(seqs).data_specs()["classes"].dim == 6  # largest label + 1
    assert NumpyDataset(seqs, dims={"classes": 30}).data_specs()["classes"].dim == 30


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"data": np.ones((2, 3))}, r"sequence 'numpy-1' has keys \['data'\], not \['classes', 'data'\]"),
        (
            {"data": np.ones((2, 4)), "classes": np.array([1])},
            r"data key 'data' of sequence 'numpy-1' is float64 \(2, 4\)",
        ),
    ],
)
def test_inconsistent_sequences(second: dict, message: str) -> None:
    first = {"data": np.ones((2, 3)), "classes": np.array([0, 1])}
    with pytest.raises(DataError, match=message):
        NumpyDataset([first, second])
    with pytest.raises(DataError, match="needs at least one sequence"):
        NumpyDataset([])
