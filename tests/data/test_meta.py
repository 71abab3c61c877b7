"""MetaDataset: features from one file, alignments from another, joined by sequence tag."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqtrain.data.dataset import DataSpec
from seqtrain.data.epoch import epoch_seq_indices
from seqtrain.data.factory import make_dataset
from seqtrain.data.hdf import HDFWriter
from seqtrain.errors import ConfigError, DataError

FRAMES = {"u1": 4, "u2": 6, "u3": 3}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    feats = tmp_path / "feats.hdf"
    with HDFWriter(feats, {"data": DataSpec(dim=2, feature_shape=(2,))}) as writer:
        for tag, n in FRAMES.items():
            writer.add(tag, {"data": np.full((n, 2), float(n), dtype="float32")})
    align = tmp_path / "align.hdf"  # written in another order, with one extra sequence
    with HDFWriter(align, {"data": DataSpec(dim=9, dtype="int32", sparse=True)}) as writer:
        for tag in ("u3", "extra", "u1", "u2"):
            n = FRAMES.get(tag, 2)
            writer.add(tag, {"data": np.arange(n, dtype="int32") + 10 * int(tag[-1] if tag != "extra" else 0) % 9})
    return {"feats": feats, "align": align}


def _meta(files: dict[str, Path], **extra) -> dict:
    return {
        "class": "MetaDataset",
        "datasets": {
            "feats": {"class": "HDFDataset", "files": [str(files["feats"])], "seq_ordering": "sorted"},
            "align": {"class": "HDFDataset", "files": [str(files["align"])]},
        },
        "data_map": {"data": ("feats", "data"), "classes": ("align", "data")},
        **extra,
    }


def test_keys_are_joined_by_tag(files: dict[str, Path]) -> None:
    setup = make_dataset(_meta(files), name="train")
    dataset = setup.dataset
    assert [dataset.seq_tag(i) for i in range(dataset.num_seqs)] == ["u1", "u2", "u3"]
    assert dataset.seq_lengths()["data"].tolist() == dataset.seq_lengths()["classes"].tolist() == [4, 6, 3]
    for i, tag in enumerate(["u1", "u2", "u3"]):
        seq = dataset.get_seq(i)
        assert seq["data"][0, 0] == FRAMES[tag]
        assert seq["classes"].tolist() == (np.arange(FRAMES[tag]) + 10 * int(tag[-1]) % 9).tolist()
        assert np.array_equal(dataset.get_data(i, "classes"), seq["classes"])
    assert dataset.data_specs()["classes"] == DataSpec(dim=9, dtype="int32", sparse=True)


def test_ordering_of_the_control_dataset_is_used_unless_the_meta_dataset_sets_one(files: dict[str, Path]) -> None:
    inherited = make_dataset(_meta(files), name="train")
    assert inherited.options.seq_ordering == "sorted"
    assert epoch_seq_indices(inherited, 1, random_seed=42)[0].tolist() == [2, 0, 1]  # lengths 3, 4, 6
    own = make_dataset(_meta(files, seq_ordering="reverse"), name="train")
    assert epoch_seq_indices(own, 1, random_seed=42)[0].tolist() == [2, 1, 0]


def test_a_tag_missing_in_another_dataset(files: dict[str, Path]) -> None:
    spec = _meta(files, seq_order_control_dataset="align")
    with pytest.raises(
        DataError, match=r"sequence 'extra' of 'align' is missing in 'feats' \(3 sequences, e.g. 'u1'\)"
    ):
        make_dataset(spec, name="train")


@pytest.mark.parametrize(
    ("data_map", "error", "message"),
    [
        ({"data": ("feat", "data")}, ConfigError, r"data_map\['data'\] = \('feat', 'data'\) must be"),
        ({"data": ("feats", "features")}, DataError, r"wants key 'features' of dataset 'feats', which has \['data'\]"),
        ({}, ConfigError, "data_map is empty"),
    ],
)
def test_data_map_errors(files: dict[str, Path], data_map: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make_dataset({**_meta(files), "data_map": data_map}, name="train")
