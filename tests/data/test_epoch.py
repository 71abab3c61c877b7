"""An epoch's plan: partition_epoch, epoch_wise_filter, seq_list_file, length filters, counts, fingerprint."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from seqtrain.data.batching import LengthFilter
from seqtrain.data.chunking import parse_chunking
from seqtrain.data.epoch import epoch_seq_indices, partition, plan_epoch
from seqtrain.data.factory import make_dataset
from seqtrain.errors import ConfigError, DataError

LENGTHS = [5, 1, 9, 4, 7, 2, 8, 3, 6, 10]


def _setup(**options):
    seqs = [{"data": np.zeros((n, 1), dtype="float32")} for n in LENGTHS]
    tags = [f"utt{i}" for i in range(len(LENGTHS))]
    return make_dataset({"class": "NumpyDataset", "seqs": seqs, "tags": tags, **options}, name="train")


def test_partition_sizes_as_returnn() -> None:
    order = np.arange(10)
    assert [partition(order, 3, e).tolist() for e in (1, 2, 3, 4)] == [
        [0, 1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 1, 2, 3],
    ]  # fmt: skip


def test_sub_epochs_of_a_pass_are_disjoint_and_complete() -> None:
    setup = _setup(seq_ordering="random", partition_epoch=3)
    parts = [epoch_seq_indices(setup, e, random_seed=42)[0].tolist() for e in (1, 2, 3)]
    assert sorted(i for part in parts for i in part) == list(range(10))
    next_pass = [epoch_seq_indices(setup, e, random_seed=42)[0].tolist() for e in (4, 5, 6)]
    assert sorted(i for part in next_pass for i in part) == list(range(10)) and next_pass != parts


def test_epoch_wise_filter_max_mean_len_keeps_the_shortest_in_order() -> None:
    setup = _setup(epoch_wise_filter={(1, 2): {"max_mean_len": 3.5}})
    # sorted lengths 1,2,3,4,5,...: means 1, 1.5, 2, 2.5, 3, 3.5 (6 seqs: 1..6), 4 -> keep lengths 1..6
    order, filtered = epoch_seq_indices(setup, 2, random_seed=42)
    assert [LENGTHS[i] for i in order] == [5, 1, 4, 2, 3, 6] and filtered == 4
    assert epoch_seq_indices(setup, 3, random_seed=42)[0].tolist() == list(range(10))


def test_epoch_wise_filter_max_and_min_len_and_open_ranges() -> None:
    setup = _setup(epoch_wise_filter={(None, 1): {"max_len": 4}, (2, -1): {"min_len": 8}})
    assert [LENGTHS[i] for i in epoch_seq_indices(setup, 1, random_seed=42)[0]] == [1, 4, 2, 3]
    assert [LENGTHS[i] for i in epoch_seq_indices(setup, 50, random_seed=42)[0]] == [9, 8, 10]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1: {"max_len": 3}}, r"key 1 must be \(first_epoch, last_epoch\)"),
        ({(3, 1): {"max_len": 3}}, "must have 1 <= first <= last"),
        ({(1, 2): {"max_length": 3}}, r"unknown options \['max_length'\]"),
        ([1, 2], "epoch_wise_filter must be a dict"),
    ],
)
def test_epoch_wise_filter_errors(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"dataset 'train': .*{message}"):
        _setup(epoch_wise_filter=value)


@pytest.mark.parametrize("fmt", ["txt", "gz", "json"])
def test_seq_list_file_selects_and_orders(tmp_path: Path, fmt: str) -> None:
    tags = ["utt7", "utt2", "utt4"]
    path = tmp_path / f"list.{fmt}"
    if fmt == "txt":
        path.write_text("\n".join(tags) + "\n\n")
    elif fmt == "gz":
        path.write_bytes(gzip.compress("\n".join(tags).encode()))
    else:
        path.write_text(json.dumps(tags))
    setup = _setup(seq_list_file=str(path))
    assert setup.dataset.num_seqs == 3 and [setup.dataset.seq_tag(i) for i in range(3)] == tags
    assert setup.dataset.seq_lengths()["data"].tolist() == [3, 9, 7]
    assert setup.dataset.get_seq(1)["data"].shape == (9, 1)


def test_seq_list_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"seq_list_file .*missing\.txt does not exist"):
        _setup(seq_list_file=str(tmp_path / "missing.txt"))
    (tmp_path / "bad.txt").write_text("utt1\nutt99\n")
    with pytest.raises(DataError, match=r"lists 1 tags the dataset does not have, e.g. \['utt99'\]"):
        _setup(seq_list_file=str(tmp_path / "bad.txt"))


def test_seq_list_filter_file_keeps_the_dataset_order_and_ignores_unknown_tags(tmp_path: Path) -> None:
    path = tmp_path / "filter.txt"
    path.write_text("utt7\nutt2\nother-corpus/utt1\nutt4\n")
    setup = _setup(seq_list_filter_file=str(path))
    assert [setup.dataset.seq_tag(i) for i in range(setup.dataset.num_seqs)] == ["utt2", "utt4", "utt7"]
    assert setup.dataset.seq_lengths()["data"].tolist() == [9, 7, 3]
    listed = tmp_path / "list.txt"
    listed.write_text("utt7\nutt4\nutt9\n")  # both: the list's order, then the filter
    both = _setup(seq_list_file=str(listed), seq_list_filter_file=str(path))
    assert [both.dataset.seq_tag(i) for i in range(both.dataset.num_seqs)] == ["utt7", "utt4"]
    (tmp_path / "none.txt").write_text("nothing\n")
    with pytest.raises(DataError, match=r"seq_list_filter_file .*none\.txt keeps none of its 10 sequences"):
        _setup(seq_list_filter_file=str(tmp_path / "none.txt"))
    with pytest.raises(DataError, match=r"seq_list_filter_file .*missing\.txt does not exist"):
        _setup(seq_list_filter_file=str(tmp_path / "missing.txt"))


def test_plan_counts_what_each_stage_left_out() -> None:
    setup = _setup(epoch_wise_filter={(1, 1): {"max_len": 8}})
    plan = plan_epoch(
        setup, 1, random_seed=42, batch_size=100, max_seqs=-1, length_filter=LengthFilter(min_len=2),
        chunking=parse_chunking("3:3", min_chunk_size=3),
    )  # fmt: skip
    # epoch filter drops 9, 10; min_len drops 1; windows of size 3 need 3 frames: length 2 gives none
    assert (plan.num_filtered, plan.num_skipped, plan.num_unchunked, plan.num_seqs) == (2, 1, 1, 6)
    windows = sum(len(b) for b in plan.batches)
    assert windows == sum(n // 3 for n in (5, 4, 7, 8, 3, 6))


def test_fingerprint_tells_batch_lists_apart() -> None:
    setup = _setup(seq_ordering="random")
    a = plan_epoch(setup, 1, random_seed=42, batch_size=20, max_seqs=-1)
    assert a.fingerprint() == plan_epoch(setup, 1, random_seed=42, batch_size=20, max_seqs=-1).fingerprint()
    assert a.fingerprint() != plan_epoch(setup, 2, random_seed=42, batch_size=20, max_seqs=-1).fingerprint()
    chunked = plan_epoch(setup, 1, random_seed=42, batch_size=20, max_seqs=-1, chunking=parse_chunking(4))
    assert a.fingerprint() != chunked.fingerprint()


def test_left_out_text_for_the_log() -> None:
    setup = _setup(epoch_wise_filter={(1, 1): {"max_len": 8}})
    plan = plan_epoch(setup, 1, random_seed=42, batch_size=100, max_seqs=-1, length_filter=LengthFilter(max_len=6))
    assert plan.left_out_text() == ", 2 skipped by max_seq_length/min_seq_length, 2 left out by epoch_wise_filter"
    assert plan_epoch(setup, 2, random_seed=42, batch_size=100, max_seqs=-1).left_out_text() == ""
