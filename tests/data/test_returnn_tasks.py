"""RETURNN's generated tasks: the same numbers and order as RETURNN, new data per epoch, same batches for any
worker count, end to end in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seqtrain.config import Config
from seqtrain.data.dataset import DATASETS
from seqtrain.data.epoch import epoch_seq_indices, plan_epoch
from seqtrain.data.factory import make_dataset
from seqtrain.data.loader import iterate_batches
from seqtrain.data.returnn_datasets import ADVICE, PROVIDED
from seqtrain.data.returnn_dummy import DummyDataset, DummyDatasetMultipleDataKeys, DummyDatasetMultipleSequenceLength
from seqtrain.data.returnn_memory_tasks import (
    TaskEpisodicCopyDataset,
    TaskNumberBaseConvertDataset,
    TaskVariableAssignmentDataset,
    TaskXmlModelingDataset,
)
from seqtrain.data.returnn_tasks import CopyTaskDataset, Task12AXDataset
from seqtrain.data.setup import build_data
from seqtrain.errors import ConfigError
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli

MULTI_KEYS = {
    "output_dim": {"data": (3, 2), "classes": (4, 1), "align": [5, 1]},
    "seq_len": {"data": 3, "classes": 4, "align": 2},
    "data_keys": ["data", "classes", "align"],
    "num_seqs": 6,
}
CASES = [
    ("Task12AXDataset", {"num_seqs": 20}),
    ("Task12AXDataset", {"num_seqs": 20, "fixed_random_seed": 1}),
    ("Task12AXDataset", {"num_seqs": 20, "partition_epoch": 2}),
    ("Task12AXDataset", {"num_seqs": 12, "random_seed_offset": 5}),
    ("TaskEpisodicCopyDataset", {"num_seqs": 12}),
    ("TaskXmlModelingDataset", {"num_seqs": 12}),
    ("TaskXmlModelingDataset", {"num_seqs": 12, "limit_stack_depth": 2, "fixed_random_seed": 42}),
    ("TaskVariableAssignmentDataset", {"num_seqs": 12}),
    ("TaskNumberBaseConvertDataset", {"num_seqs": 12}),
    ("TaskNumberBaseConvertDataset", {"num_seqs": 12, "input_base": 16, "output_base": 10, "max_input_seq_len": 30}),
    ("DummyDataset", {"input_dim": 3, "output_dim": 4, "num_seqs": 6, "seq_len": 5}),
    ("DummyDataset", {"input_dim": 2, "output_dim": {"classes": (3, 1)}, "num_seqs": 4, "input_max_value": 4.0}),
    ("DummyDatasetMultipleSequenceLength", {"input_dim": 3, "output_dim": 4, "num_seqs": 6}),
    ("DummyDatasetMultipleDataKeys", MULTI_KEYS),
    ("CopyTaskDataset", {"nsymbols": 10, "num_seqs": 8, "minlen": 1, "maxlen_epoch_factor": 20}),
    ("CopyTaskDataset", {"nsymbols": 10, "num_seqs": 8, "minlen": 1, "maxlen_epoch_factor": 3, "partition_epoch": 2}),
    ("CopyTaskDataset", {"nsymbols": 10, "num_seqs": 8, "minlen": 5, "maxlen": 5, "fixed_random_seed": 42}),
]


class _Python3RandomState(np.random.RandomState):
    """RETURNN's TaskVariableAssignmentDataset passes `dict.keys()` to `choice`, which numpy rejects on Python 3;
    as a list (what Python 2 gave it) its draws are the ones RETURNN meant."""

    def choice(self, a, *args, **kwargs):  # type: ignore[override]
        return super().choice(list(a) if isinstance(a, type({}.keys())) else a, *args, **kwargs)


def _returnn_dataset(name: str, options: dict):
    generating = pytest.importorskip("returnn.datasets.generating")
    theirs = getattr(generating, name)(**options)
    if name == "TaskVariableAssignmentDataset":
        theirs.random = _Python3RandomState(1)
    return theirs


@pytest.mark.parametrize(("name", "options"), CASES)
def test_sequences_equal_returnns_bit_for_bit(name: str, options: dict) -> None:
    theirs = _returnn_dataset(name, options)
    ours = make_dataset({"class": name, **options}, name="train").dataset
    for epoch in (1, 2, 3, 4):
        theirs.init_seq_order(epoch=epoch)
        theirs.load_seqs(0, theirs.num_seqs)
        mine = ours.for_epoch(epoch)
        if "partition_epoch" not in options:  # else RETURNN counts the sub-epoch's share; we partition in the plan
            assert theirs.num_seqs == mine.num_seqs
        for i in range(theirs.num_seqs):
            corpus_idx = theirs.get_corpus_seq_idx(i)
            assert theirs.get_tag(i) == mine.seq_tag(corpus_idx)
            seq = mine.get_seq(corpus_idx)
            assert set(seq) == set(mine.data_specs())
            for key, got in seq.items():
                expected = theirs.get_data(i, key)
                assert expected.dtype == got.dtype == np.dtype(mine.data_specs()[key].dtype), (epoch, i, key)
                np.testing.assert_array_equal(expected, got, err_msg=f"epoch {epoch}, seq {i}, {key}")


def test_specs_equal_returnns_dims() -> None:
    for name, options in CASES:
        theirs = _returnn_dataset(name, options)
        specs = make_dataset({"class": name, **options}, name="train").dataset.data_specs()
        for key, (dim, ndim) in theirs.num_outputs.items():
            assert (specs[key].dim, specs[key].sparse) == (dim, ndim == 1), (name, key)


@pytest.mark.parametrize(
    "options",
    [
        {"seq_ordering": "default"},
        {"seq_ordering": "random"},
        {"seq_ordering": "random:2"},
        {"seq_ordering": "random", "fixed_random_seed": 3},
        {"seq_ordering": "random", "partition_epoch": 3},
        {"seq_ordering": "random", "random_seed_offset": 11},
        {"seq_ordering": "reverse"},
    ],
)
def test_order_equals_returnns(options: dict) -> None:
    theirs = _returnn_dataset("Task12AXDataset", {"num_seqs": 20, **options})
    setup = make_dataset({"class": "Task12AXDataset", "num_seqs": 20, **options}, name="train")
    for epoch in (1, 2, 3, 5):
        theirs.init_seq_order(epoch=epoch)
        order, _ = epoch_seq_indices(setup, epoch, random_seed=42)
        assert order.tolist() == [theirs.get_corpus_seq_idx(i) for i in range(theirs.num_seqs)], epoch


def test_new_data_every_epoch_unless_the_seed_is_fixed() -> None:
    train, dev = Task12AXDataset(num_seqs=20), Task12AXDataset(num_seqs=20, fixed_random_seed=1)
    assert not np.array_equal(train.for_epoch(1).seq_lengths()["data"], train.for_epoch(2).seq_lengths()["data"])
    assert dev.for_epoch(2) is dev and dev.for_epoch(5) is dev
    again = Task12AXDataset(num_seqs=20).for_epoch(2)  # a resumed run rebuilds the dataset: same epoch, same data
    np.testing.assert_array_equal(again.get_seq(7)["data"], train.for_epoch(2).get_seq(7)["data"])
    assert train.for_epoch(2) is train.for_epoch(2)  # generated once per epoch
    halves = Task12AXDataset(num_seqs=20, partition_epoch=2)
    assert halves.for_epoch(2) is halves and halves.for_epoch(3) is not halves  # one full epoch = 2 sub-epochs
    other_offset = Task12AXDataset(num_seqs=20, random_seed_offset=1)
    np.testing.assert_array_equal(other_offset.get_seq(3)["data"], train.for_epoch(2).get_seq(3)["data"])


def test_dummy_data_is_the_same_every_epoch_and_copy_task_lengths_grow() -> None:
    dummy = DummyDataset(2, 3, 4)
    assert dummy.for_epoch(7) is dummy
    growing = CopyTaskDataset(5, minlen=1, maxlen_epoch_factor=4, num_seqs=30, fixed_random_seed=1)
    assert growing.for_epoch(3).seq_lengths()["data"].max() > growing.seq_lengths()["data"].max()
    assert growing.for_epoch(3).seq_lengths()["data"].max() <= 12


@pytest.mark.parametrize(("name", "options"), CASES)
def test_deterministic_across_constructions(name: str, options: dict) -> None:
    a = make_dataset({"class": name, **options}, name="train").dataset.for_epoch(3)
    b = make_dataset({"class": name, **options}, name="train").dataset.for_epoch(3)
    for i in range(a.num_seqs):
        for key, value in a.get_seq(i).items():
            np.testing.assert_array_equal(value, b.get_seq(i)[key])


def test_task_targets_follow_their_rules() -> None:
    inputs = [Task12AXDataset.INPUTS.index(c) for c in "1AXBY2BYAX3CZ1CAX"]
    assert "".join("LR"[t] for t in Task12AXDataset.targets(inputs)) == "LLRLLLLRLLLLLLLLR"
    seq = Task12AXDataset(num_seqs=3).get_seq(0)
    assert seq["data"].shape == (len(seq["classes"]), 9) and (seq["data"].sum(axis=1) == 1).all()
    assert TaskXmlModelingDataset.next_chars(" <ab><c></c></ab>") == "<   <  < c>< ab><"
    for cls in (TaskEpisodicCopyDataset, TaskXmlModelingDataset, TaskVariableAssignmentDataset):
        dataset = cls(num_seqs=5)
        for i in range(5):
            seq = dataset.get_seq(i)
            text = "".join(cls.CHARS[c] for c in seq["data"].argmax(axis=1))
            target = "".join(cls.CHARS[c] for c in seq["classes"])
            assert len(text) == len(target)
            if cls is TaskEpisodicCopyDataset:  # the digits come back after the first "."
                digits = text[: text.index(" ")]
                assert target.endswith(digits + ".") and text.endswith("." * (len(digits) + 2))
            if cls is TaskVariableAssignmentDataset:  # the queried value is spelled after ")"
                query = text[text.index("Q(") + 2 : text.index(")", text.index("Q("))]
                value = text[text.index(f"S({query},") + len(query) + 3]
                assert target.strip() == value + "."
    convert = TaskNumberBaseConvertDataset(input_base=8, output_base=3, num_seqs=10)
    for i in range(10):
        seq = convert.get_seq(i)
        number = int("".join(map(str, seq["data"])), 8)
        assert int("".join(map(str, seq["classes"])), 3) == number
    assert convert.labels("classes") == ["0", "1", "2"]


def test_dummy_variants() -> None:
    seqs = DummyDatasetMultipleSequenceLength(2, 5, 3, seq_len={"data": 4, "classes": 7})
    assert seqs.seq_lengths()["classes"].tolist() == [7, 7, 7]
    assert seqs.get_seq(1)["data"].shape == (4, 2) and seqs.get_seq(1)["classes"].max() < 5
    keys = make_dataset({"class": "DummyDatasetMultipleDataKeys", **MULTI_KEYS}, name="train").dataset
    assert list(keys.data_specs()) == ["data", "classes", "align"]
    assert keys.data_specs()["align"].sparse and keys.data_specs()["align"].dim == 5
    uniform = DummyDatasetMultipleDataKeys({"data": 2, "y": 3}, 2, seq_len=6, data_keys=["data", "y"])
    assert uniform.seq_lengths()["y"].tolist() == [6, 6] and uniform.get_seq(0)["data"].shape == (6, 2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"class": "CopyTaskDataset", "nsymbols": 5, "num_seqs": 4}, "minlen"),  # RETURNN's defaults: no length
        ({"class": "CopyTaskDataset", "nsymbols": 300, "num_seqs": 4, "minlen": 1, "maxlen": 2}, "nsymbols"),
        ({"class": "CopyTaskDataset", "nsymbols": 5, "num_seqs": 4, "minlen": 1, "maxlen": 2, "maxln": 3}, "maxlen"),
        ({"class": "Task12AXDataset", "num_seqs": 0}, "num_seqs"),
        ({"class": "Task12AXDataset"}, "num_seqs"),
        ({"class": "Task12AXDataset", "num_seqs": 3, "fixed_random_seed": "1"}, "fixed_random_seed must be an int"),
        ({"class": "TaskXmlModelingDataset", "num_seqs": 3, "limit_stack_depth": 0}, "limit_stack_depth"),
        ({"class": "TaskNumberBaseConvertDataset", "num_seqs": 3, "output_base": 1}, "output_base"),
        ({"class": "TaskNumberBaseConvertDataset", "num_seqs": 3, "min_input_seq_len": 4, "max_input_seq_len": 2},
         "min_input_seq_len"),
        ({"class": "DummyDataset", "input_dim": 2, "output_dim": "x", "num_seqs": 2}, "output_dim"),
        ({"class": "DummyDataset", "input_dim": 2, "output_dim": {"data": 2}, "num_seqs": 2}, "classes"),
        ({"class": "DummyDatasetMultipleSequenceLength", "input_dim": 2, "output_dim": 2, "num_seqs": 2,
          "seq_len": 3}, "seq_len"),
        ({"class": "DummyDatasetMultipleDataKeys", "output_dim": {"data": 2}, "num_seqs": 2}, "data_keys"),
        ({"class": "DummyDatasetMultipleDataKeys", "output_dim": {"data": (2, 3), "classes": 2}, "num_seqs": 2},
         "ndim"),
    ],
)  # fmt: skip
def test_bad_options_are_config_errors(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_dataset(spec, name="train")


def _batches(setup, epoch: int, workers: int) -> list[dict[str, torch.Tensor]]:
    plan = plan_epoch(setup, epoch, random_seed=42, batch_size=500, max_seqs=8)
    dtypes = {"data": "float32", "classes": "int32"}
    batches = iterate_batches(setup.dataset, plan.batches, dtypes=dtypes, num_workers=workers, random_seed=42,
                              epoch=epoch)  # fmt: skip
    return [{key: batch[key].clone() for key in ("data", "classes")} for batch in batches]


def test_loader_workers_read_the_epochs_data_and_give_identical_batches() -> None:
    setup = make_dataset({"class": "Task12AXDataset", "num_seqs": 30, "seq_ordering": "random"}, name="train")
    for epoch in (1, 2):
        plan = plan_epoch(setup, epoch, random_seed=42, batch_size=500, max_seqs=8)
        in_process, forked = _batches(setup, epoch, 0), _batches(setup, epoch, 1)
        assert len(in_process) == len(forked) == len(plan.batches)
        epoch_data = setup.dataset.for_epoch(epoch)
        for spec, a, b in zip(plan.batches, in_process, forked, strict=True):
            assert all(torch.equal(a[key], b[key]) for key in a)
            for row, index in enumerate(spec.seq_indices):
                seq = epoch_data.get_seq(int(index))
                np.testing.assert_array_equal(a["classes"][row, : len(seq["classes"])].numpy(), seq["classes"])
    assert not torch.equal(_batches(setup, 1, 0)[0]["data"][:, :10], _batches(setup, 2, 0)[0]["data"][:, :10])


def test_batching_is_the_default_order_of_train_only() -> None:
    task = {"class": "Task12AXDataset", "num_seqs": 30}
    config = Config.from_dict({"train": task, "dev": {**task, "fixed_random_seed": 1}, "batching": "random"})
    data = build_data(config, need_train=True)
    assert data.train.options.seq_ordering == "random" and data.evals["dev"].options.seq_ordering == "default"
    in_dict = build_data(Config.from_dict({"train": {**task, "seq_ordering": "random"}}), need_train=True)
    for epoch in (1, 2):
        assert (
            epoch_seq_indices(data.train, epoch, random_seed=42)[0].tolist()
            == epoch_seq_indices(in_dict.train, epoch, random_seed=42)[0].tolist()
        )
    assert epoch_seq_indices(data.evals["dev"], 1, random_seed=42)[0].tolist() == list(range(30))
    own = build_data(config.with_values({"train": {**task, "seq_ordering": "sorted"}}), need_train=True)
    assert own.train.options.seq_ordering == "sorted"  # a dataset's own seq_ordering wins
    with pytest.raises(ConfigError, match="seq_ordering"):
        build_data(config.with_values({"batching": "randomly"}), need_train=True)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NltkTimitDataset", "RETURNN's NltkTimitDataset is not available in seqtrain: .*HDFDataset"),
        ("OggZipDataset", "RETURNN's OggZipDataset is not available in seqtrain: .*AudioDataset"),
        ("LmDataset", "RETURNN's LmDataset is not available in seqtrain: .*hdf_dump.py"),
        ("Task12AxDataset", "unknown dataset class 'Task12AxDataset'; did you mean 'Task12AXDataset'"),
    ],
)
def test_returnn_datasets_seqtrain_lacks_say_what_to_use(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_dataset({"class": name}, name="train")


def test_returnn_dataset_table_is_complete_and_consistent() -> None:
    assert set(PROVIDED) <= set(DATASETS.names())
    assert not set(ADVICE) & set(DATASETS.names())
    import importlib

    basic = pytest.importorskip("returnn.datasets.basic")
    modules = ["hdf", "sprint", "generating", "numpy_dump", "meta", "lm", "stereo", "raw_wav", "map", "multi_proc",
               "distrib_files", "postprocessing", "text_dict", "huggingface", "audio"]  # fmt: skip
    theirs = set()
    for module in modules:
        for name, value in vars(importlib.import_module(f"returnn.datasets.{module}")).items():
            if isinstance(value, type) and issubclass(value, basic.Dataset):
                theirs.add(name)
    bases = {"Dataset", "CachedDataset", "CachedDataset2", "DatasetWithTimeContext", "GeneratingDataset",
             "SingleStreamPipeDataset", "SprintDatasetBase", "StereoDataset"}  # fmt: skip
    assert theirs - bases - set(PROVIDED) - set(ADVICE) == set(), "a RETURNN class neither provided nor advised"
    assert set(PROVIDED) <= theirs


TRAIN_CONFIG = """
model = {model!r}
num_epochs = 2
train = "Task12AXDataset:num_seqs=24"
dev = {{"class": "Task12AXDataset", "num_seqs": 8, "fixed_random_seed": 1}}
extern_data = {{"data": {{"dim": 9}}, "classes": {{"dim": 2, "sparse": True}}}}
network = {{"output": {{"class": "softmax", "from": "data", "loss": "ce", "target": "classes"}}}}
batching = "random"
batch_size = 400
max_seqs = 6
optimizer = {{"class": "adam"}}
learning_rate = 0.01
num_workers = {workers}
tensorboard = False
"""


@pytest.mark.slow
def test_a_task_dataset_trains_end_to_end_with_0_or_1_workers_or_a_resume_to_the_same_model(tmp_path: Path) -> None:
    runs = []
    for workers in (0, 1):
        config = tmp_path / f"w{workers}.py"
        config.write_text(TRAIN_CONFIG.format(model=str(tmp_path / f"w{workers}" / "model"), workers=workers))
        assert run_cli("train", config) == 0
        runs.append(model_params(tmp_path / f"w{workers}" / "model.002.pt"))
    # stopped after epoch 1 and resumed: epoch 2's data is generated again in a fresh dataset object, the same
    config = tmp_path / "resumed.py"
    config.write_text(TRAIN_CONFIG.format(model=str(tmp_path / "resumed" / "model"), workers=1))
    assert run_cli("train", config, "num_epochs=1") == 0
    assert run_cli("train", config) == 0
    runs.append(model_params(tmp_path / "resumed" / "model.002.pt"))
    assert_bitwise_equal(runs[0], runs[1])
    assert_bitwise_equal(runs[0], runs[2])
