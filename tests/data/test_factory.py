"""Dataset dicts from the config: class lookup, option checks before anything is read, epoch options."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.dataset import Dataset, DataSpec
from seqtrain.data.factory import make_dataset, register_dataset
from seqtrain.errors import ConfigError


class _Tiny(Dataset):
    def __init__(self, frames: int = 3) -> None:
        self.frames = frames

    @property
    def num_seqs(self) -> int:
        return 2

    def data_specs(self) -> dict[str, DataSpec]:
        return {"data": DataSpec(dim=1, feature_shape=(1,))}

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return {"data": np.full(2, self.frames)}

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        return {"data": np.zeros((self.frames, 1), dtype="float32")}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"class": "HDFDatset", "files": []}, r"unknown dataset class 'HDFDatset'; did you mean 'HDFDataset'"),
        ({"class": "HDFDataset", "file": ["x.hdf"]}, r"HDFDataset has no option 'file'; did you mean 'files'\?"),
        ({"class": "HDFDataset", "files": ["x.hdf"], "seq_order": "random"}, r"did you mean 'seq_ordering'\?"),
        ({"class": "HDFDataset"}, r"HDFDataset needs the option\(s\) \['files'\]"),
        ({"class": dict}, "class dict is not a seqtrain Dataset; subclass seqtrain.data.dataset.Dataset"),
        ({"class": _Tiny, "partition_epoch": 0}, "partition_epoch must be an int >= 1"),
        ([1, 2], r"expected a dict \{'class': ...\}, a Dataset instance or RETURNN's dataset string, got list"),
    ],
)
def test_config_errors_before_any_data_is_read(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"dataset 'train': .*{message}"):
        make_dataset(spec, name="train")


def test_custom_class_instance_and_registered_name() -> None:
    setup = make_dataset({"class": _Tiny, "frames": 5, "seq_ordering": "sorted", "partition_epoch": 2}, name="dev")
    assert setup.dataset.name == "dev" and setup.dataset.seq_lengths()["data"].tolist() == [5, 5]
    assert (setup.options.seq_ordering, setup.options.partition_epoch) == ("sorted", 2)
    register_dataset("Tiny", _Tiny)
    assert isinstance(make_dataset({"class": "Tiny"}, name="x").dataset, _Tiny)
    instance = _Tiny()
    assert make_dataset(instance, name="x").dataset is instance


def test_options_passed_on_by_kwargs_are_checked_against_the_base_constructor() -> None:
    with pytest.raises(ConfigError, match="CopyTaskDataset has no option 'num_seq'; did you mean 'num_seqs'"):
        make_dataset({"class": "CopyTaskDataset", "nsymbols": 5, "num_seq": 3}, name="train")
    with pytest.raises(ConfigError, match=r"CopyTaskDataset needs the option\(s\) \['num_seqs'\]"):
        make_dataset({"class": "CopyTaskDataset", "nsymbols": 5}, name="train")
    dataset = make_dataset(
        {"class": "CopyTaskDataset", "nsymbols": 5, "minlen": 1, "maxlen": 3, "num_seqs": 4, "partition_epoch": 2},
        name="t",
    )
    assert (dataset.dataset.name, dataset.dataset.partition_epoch) == ("t", 2)  # name and epoch option reach the base
