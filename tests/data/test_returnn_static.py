"""`StaticDataset`: RETURNN's inline sequences, with RETURNN's options, tags and sort key."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.epoch import epoch_seq_indices
from seqtrain.data.factory import make_dataset
from seqtrain.errors import ConfigError, DataError

RNG = np.random.RandomState(3)
SEQS = [
    {"classes": RNG.randint(0, 3, size=n).astype("int32"), "data": RNG.randn(n, 2).astype("float32")}
    for n in (5, 2, 9, 4, 7, 1)
]


def test_keys_specs_and_tags_as_in_returnn() -> None:
    dataset = make_dataset(
        {"class": "StaticDataset", "data": SEQS, "output_dim": {"classes": (3, 1)}}, name="t"
    ).dataset
    specs = dataset.data_specs()
    assert list(specs) == ["data", "classes"]  # RETURNN: "data" first
    assert (specs["classes"].sparse, specs["classes"].dim, specs["classes"].dtype) == (True, 3, "int32")
    assert (specs["data"].sparse, specs["data"].feature_shape) == (False, (2,))
    assert [dataset.seq_tag(i) for i in range(2)] == ["seq-0", "seq-1"]
    assert dataset.seq_lengths()["data"].tolist() == [5, 2, 9, 4, 7, 1]
    np.testing.assert_array_equal(dataset.get_seq(2)["data"], SEQS[2]["data"])
    lists = make_dataset({"class": "StaticDataset", "data": [{"data": [[1.0], [2.0]], "classes": [4, 1]}]}, name="t")
    assert lists.dataset.data_specs()["classes"].dim == 5  # no output_dim: largest label + 1


@pytest.mark.parametrize("ordering", ["default", "sorted", "sorted_reverse", "random", "laplace:.2"])
def test_order_equals_returnns(ordering: str) -> None:
    generating = pytest.importorskip("returnn.datasets.generating")
    theirs = generating.StaticDataset(data=SEQS, output_dim={"classes": (3, 1)}, seq_ordering=ordering)
    setup = make_dataset({"class": "StaticDataset", "data": SEQS, "seq_ordering": ordering}, name="train")
    for epoch in (1, 2):
        theirs.init_seq_order(epoch=epoch)
        expected = [theirs.get_corpus_seq_idx(i) for i in range(theirs.num_seqs)]
        assert epoch_seq_indices(setup, epoch, random_seed=42)[0].tolist() == expected


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"data": []}, ConfigError, "non-empty list"),
        ({"data": SEQS, "target_list": ["align"]}, ConfigError, "target_list names 'align'"),
        ({"data": SEQS, "output_dim": {"data": (3, 2)}}, ConfigError, "output_dim of 'data' is 3"),
        ({"data": SEQS, "output_dim": {"classes": "x"}}, ConfigError, r"output_dim\['classes'\]"),
        ({"data": [*SEQS, {"data": np.zeros((2, 2), "float32")}]}, DataError, "keys"),
        ({"data": [*SEQS, {"data": np.zeros((2, 3), "float32"), "classes": np.zeros(2, "int32")}]}, DataError, "data"),
    ],
)
def test_bad_data_is_named(options: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make_dataset({"class": "StaticDataset", **options}, name="train")
