"""RETURNN's generated tasks: the same numbers as RETURNN, new data per epoch, same batches for any worker count."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.config import Config
from seqtrain.data.epoch import plan_epoch
from seqtrain.data.factory import make_dataset
from seqtrain.data.loader import iterate_batches
from seqtrain.data.returnn_tasks import CopyTaskDataset, DummyDataset, Task12AXDataset
from seqtrain.data.setup import build_data
from seqtrain.errors import ConfigError

CASES = [
    ("Task12AXDataset", {"num_seqs": 12}),
    ("Task12AXDataset", {"num_seqs": 12, "fixed_random_seed": 1}),
    ("Task12AXDataset", {"num_seqs": 12, "partition_epoch": 2}),
    ("DummyDataset", {"input_dim": 3, "output_dim": 4, "num_seqs": 6, "seq_len": 5}),
    ("CopyTaskDataset", {"nsymbols": 10, "num_seqs": 8, "minlen": 1, "maxlen_epoch_factor": 20}),
    ("CopyTaskDataset", {"nsymbols": 10, "num_seqs": 8, "minlen": 5, "maxlen": 5, "fixed_random_seed": 42}),
]


@pytest.mark.parametrize(("name", "options"), CASES)
def test_sequences_equal_returnns_bit_for_bit(name: str, options: dict) -> None:
    generating = pytest.importorskip("returnn.datasets.generating")
    theirs = getattr(generating, name)(**options)
    ours = make_dataset({"class": name, **options}, name="train").dataset
    for epoch in (1, 2, 3):
        theirs.init_seq_order(epoch=epoch)
        theirs.load_seqs(0, theirs.num_seqs)
        mine = ours.for_epoch(epoch)
        if "partition_epoch" not in options:  # else RETURNN counts the sub-epoch's share; we partition in the plan
            assert theirs.num_seqs == mine.num_seqs
        for i in range(theirs.num_seqs):
            for key in ("data", "classes"):
                expected, got = theirs.get_data(i, key), mine.get_seq(theirs.get_corpus_seq_idx(i))[key]
                assert expected.dtype == got.dtype, (epoch, i, key)
                np.testing.assert_array_equal(expected, got, err_msg=f"epoch {epoch}, seq {i}, {key}")


def test_new_data_every_epoch_unless_the_seed_is_fixed() -> None:
    train, dev = Task12AXDataset(num_seqs=20), Task12AXDataset(num_seqs=20, fixed_random_seed=1)
    assert not np.array_equal(train.for_epoch(1).seq_lengths()["data"], train.for_epoch(2).seq_lengths()["data"])
    assert dev.for_epoch(2) is dev and dev.for_epoch(5) is dev
    again = Task12AXDataset(num_seqs=20).for_epoch(2)  # a resumed run rebuilds the dataset: same epoch, same data
    np.testing.assert_array_equal(again.get_seq(7)["data"], train.for_epoch(2).get_seq(7)["data"])
    halves = Task12AXDataset(num_seqs=20, partition_epoch=2)
    assert halves.for_epoch(2) is halves and halves.for_epoch(3) is not halves  # one full epoch = 2 sub-epochs


def test_task12ax_targets_follow_the_rule() -> None:
    inputs = [Task12AXDataset.INPUTS.index(c) for c in "1AXBY2BYAX3CZ1CAX"]
    assert "".join("LR"[t] for t in Task12AXDataset.targets(inputs)) == "LLRLLLLRLLLLLLLLR"
    seq = Task12AXDataset(num_seqs=3).get_seq(0)
    assert seq["data"].shape == (len(seq["classes"]), 9) and seq["data"].sum(axis=1).tolist() == [1] * len(
        seq["classes"]
    )


def test_dummy_and_copy_task_specs() -> None:
    assert DummyDataset(2, 3, 4).data_specs()["classes"].dim == 3
    copy = CopyTaskDataset(5, num_seqs=4, minlen=2, maxlen=3)
    assert copy.data_specs()["data"].sparse and copy.data_specs()["data"].dim == 5
    with pytest.raises(ConfigError, match="minlen"):
        CopyTaskDataset(5, num_seqs=4)  # RETURNN's defaults give no valid length
    with pytest.raises(ConfigError, match="num_seqs"):
        Task12AXDataset(num_seqs=0)


@pytest.mark.parametrize("workers", [0, 1])
def test_epoch_plan_and_loader_see_the_same_epochs_data(workers: int) -> None:
    setup = make_dataset({"class": "Task12AXDataset", "num_seqs": 30, "seq_ordering": "random"}, name="train")
    for epoch in (1, 2):
        plan = plan_epoch(setup, epoch, random_seed=42, batch_size=500, max_seqs=8)
        batches = list(
            iterate_batches(setup.dataset, plan.batches, dtypes={"data": "float32", "classes": "int32"},
                            num_workers=workers, random_seed=42, epoch=epoch)
        )  # fmt: skip
        epoch_data = setup.dataset.for_epoch(epoch)
        for spec, batch in zip(plan.batches, batches, strict=True):
            for row, index in enumerate(spec.seq_indices):
                seq = epoch_data.get_seq(int(index))
                assert int(batch.lengths["data"][row]) == len(seq["data"])
                np.testing.assert_array_equal(batch["classes"][row, : len(seq["classes"])].numpy(), seq["classes"])


def test_batching_is_the_default_order_of_train_only() -> None:
    task = {"class": "Task12AXDataset", "num_seqs": 30}
    config = Config.from_dict({"train": task, "dev": {**task, "fixed_random_seed": 1}, "batching": "random"})
    data = build_data(config, need_train=True)
    assert data.train.options.seq_ordering == "random" and data.evals["dev"].options.seq_ordering == "default"
    own = build_data(config.with_values({"train": {**task, "seq_ordering": "sorted"}}), need_train=True)
    assert own.train.options.seq_ordering == "sorted"  # a dataset's own seq_ordering wins
    with pytest.raises(ConfigError, match="seq_ordering"):
        build_data(config.with_values({"batching": "randomly"}), need_train=True)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NltkTimitDataset", "RETURNN's NltkTimitDataset is not available in seqtrain: .*HDFDataset"),
        ("OggZipDataset", "RETURNN's OggZipDataset is not available in seqtrain: .*AudioDataset"),
        ("Task12AxDataset", "unknown dataset class 'Task12AxDataset'; did you mean 'Task12AXDataset'"),
    ],
)
def test_returnn_datasets_seqtrain_lacks_say_what_to_use(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_dataset({"class": name}, name="train")
