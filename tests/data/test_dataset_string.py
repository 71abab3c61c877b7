"""RETURNN's dataset strings ("Task12AXDataset:num_seqs=100", a dict literal, HDF files), read without eval."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.dataset_string import parse_dataset_string
from seqtrain.data.factory import make_dataset
from seqtrain.data.returnn_tasks import Task12AXDataset
from seqtrain.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Task12AXDataset:num_seqs=100", {"class": "Task12AXDataset", "num_seqs": 100}),
        ("Task12AXDataset: num_seqs=100, fixed_random_seed=1",
         {"class": "Task12AXDataset", "num_seqs": 100, "fixed_random_seed": 1}),
        ("Task12AXDataset(num_seqs=100)", {"class": "Task12AXDataset", "num_seqs": 100}),
        ("CopyTaskDataset(nsymbols=5, num_seqs=3, minlen=1, seq_ordering='random')",
         {"class": "CopyTaskDataset", "nsymbols": 5, "num_seqs": 3, "minlen": 1, "seq_ordering": "random"}),
        ("DummyDataset:input_dim=2,output_dim={'classes': (3, 1)},num_seqs=4",
         {"class": "DummyDataset", "input_dim": 2, "output_dim": {"classes": (3, 1)}, "num_seqs": 4}),
        ("Task12AXDataset:", {"class": "Task12AXDataset"}),
        ("GeneratingDataset::Task12AXDataset(num_seqs=100)", {"class": "Task12AXDataset", "num_seqs": 100}),
        (" GeneratingDataset::Task12AXDataset ( num_seqs=100, fixed_random_seed=1 ) ",
         {"class": "Task12AXDataset", "num_seqs": 100, "fixed_random_seed": 1}),
        ("GeneratingDataset::Task12AXDataset", {"class": "Task12AXDataset"}),
        ("{'class': 'Task12AXDataset', 'num_seqs': 5}", {"class": "Task12AXDataset", "num_seqs": 5}),
        ("data/a.hdf,data/b.hdf", {"class": "HDFDataset", "files": ["data/a.hdf", "data/b.hdf"]}),
        ("train.hdf", {"class": "HDFDataset", "files": ["train.hdf"]}),
        ("sprint:--config=x.config", {"class": "ExternSprintDataset"}),
    ],
)  # fmt: skip
def test_returnns_string_forms(text: str, expected: dict) -> None:
    assert parse_dataset_string(text, where="dataset 'train'") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Task12AXDataset:num_seqs=10*10", r"dataset 'dev': option num_seqs=10 \* 10 .* is not a literal"),
        ("Task12AXDataset:num_seqs=__import__('os').getpid()", "dataset 'dev': option num_seqs=.* is not a literal"),
        ("Task12AXDataset(num_seqs=1", "dataset 'dev': cannot read the dataset string"),
        ("Task12AXDataset:num_seqs=", "dataset 'dev': cannot read the arguments"),
        ("Task12AXDataset:100", "dataset 'dev': .* may only have key=value arguments"),
        ("Task12AXDataset:num_seqs=1,num_seqs=2", "dataset 'dev': .* sets 'num_seqs' twice"),
        ("GeneratingDataset::Task12AXDataset(num_seqs=100", "dataset 'dev': cannot read the dataset string"),
        ("GeneratingDataset::12AX", "dataset 'dev': cannot read the dataset string"),
        ("GeneratingDataset::Task12AXDataset(100)", "dataset 'dev': .* may only have key=value arguments"),
        ("{'class': 'Task12AXDataset', 'num_seqs': n}", "dataset 'dev': .* is not a dict of literals"),
        ("{'num_seqs': 3}", "dataset 'dev': .* must be a dict with a 'class'"),
        ("config:my_train", "dataset 'dev': RETURNN's 'config:...' .* give the variable 'my_train' itself"),
        ("  ", "dataset 'dev': the dataset string is empty"),
    ],
)
def test_malformed_strings_name_the_dataset(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_dataset(text, name="dev")


def test_a_string_builds_the_same_dataset_as_the_dict() -> None:
    setup = make_dataset("Task12AXDataset:num_seqs=6,fixed_random_seed=3,seq_ordering='random'", name="train")
    assert isinstance(setup.dataset, Task12AXDataset) and setup.dataset.name == "train"
    assert setup.options.seq_ordering == "random" and setup.options.fixed_random_seed == 3
    same = make_dataset({"class": "Task12AXDataset", "num_seqs": 6, "fixed_random_seed": 3}, name="train").dataset
    np.testing.assert_array_equal(setup.dataset.get_seq(2)["data"], same.get_seq(2)["data"])
    with pytest.raises(ConfigError, match="RETURNN's ExternSprintDataset is not available"):
        make_dataset("sprint:--config=x", name="train")


def test_a_function_returning_the_dict_is_called() -> None:
    setup = make_dataset(lambda: {"class": "Task12AXDataset", "num_seqs": 4}, name="train")
    assert setup.dataset.num_seqs == 4
