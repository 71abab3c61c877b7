"""CombinedDataset: corpora mixed by sampling sizes, each sequence seen equally often over epochs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from seqtrain.data.epoch import epoch_seq_indices, plan_epoch
from seqtrain.data.factory import make_dataset
from seqtrain.errors import ConfigError, DataError


def _numpy(n: int, *, labels: bool, offset: int) -> dict:
    seqs = []
    for i in range(n):
        seq = {"data": np.full((2 + i, 3), offset + i, dtype="float32")}
        if labels:
            seq["classes"] = np.array([i % 4], dtype="int32")
        seqs.append(seq)
    return {"class": "NumpyDataset", "seqs": seqs, "dims": {"classes": 4}, "tags": [f"{offset}-{i}" for i in range(n)]}


def _combined(**extra) -> dict:
    return {
        "class": "CombinedDataset",
        "datasets": {"a": _numpy(6, labels=True, offset=100), "b": _numpy(4, labels=False, offset=200)},
        "data_map": {("a", "data"): "data", ("a", "classes"): "classes", ("b", "data"): "data"},
        **extra,
    }


def test_all_sequences_one_after_the_other_and_missing_keys_empty() -> None:
    setup = make_dataset(_combined(), name="train")
    dataset = setup.dataset
    assert dataset.num_seqs == 10 and dataset.seq_tag(6) == "200-0"
    assert dataset.seq_lengths()["classes"].tolist() == [1] * 6 + [0] * 4
    seq = dataset.get_seq(7)
    assert seq["data"][0, 0] == 201 and seq["classes"].shape == (0,) and seq["classes"].dtype == np.int32
    assert epoch_seq_indices(setup, 1, random_seed=42)[0].tolist() == list(range(10))


def test_sampling_sizes_per_epoch_and_equal_coverage_over_epochs() -> None:
    setup = make_dataset(_combined(sampling_sizes={"a": 2, "b": 1.5}), name="train")
    epochs = [epoch_seq_indices(setup, e, random_seed=42)[0].tolist() for e in (1, 2, 3, 4)]
    for order in epochs:
        assert sum(i < 6 for i in order) == 2 and sum(i >= 6 for i in order) == 6
    a_seen = Counter(i for order in epochs[:3] for i in order if i < 6)
    b_seen = Counter(i for order in epochs[:2] for i in order if i >= 6)
    assert a_seen == dict.fromkeys(range(6), 1)  # 3 epochs x 2 = one pass over a
    assert b_seen == dict.fromkeys(range(6, 10), 3)  # 2 epochs x 6 = three passes over b
    assert epochs == [epoch_seq_indices(setup, e, random_seed=42)[0].tolist() for e in (1, 2, 3, 4)]
    assert epochs[0] != epoch_seq_indices(setup, 1, random_seed=43)[0].tolist()


def test_sampling_then_ordering_and_batching() -> None:
    setup = make_dataset(_combined(sampling_sizes=2, seq_ordering="sorted"), name="train")
    setup.data_keys = ("data", "classes")
    plan = plan_epoch(setup, 1, random_seed=42, batch_size=1000, max_seqs=-1)
    chosen = [i for b in plan.batches for i in b.seq_indices]
    assert len(chosen) == 4 and chosen == sorted(chosen, key=lambda i: setup.dataset.seq_lengths()["data"][i])


def test_errors() -> None:
    with pytest.raises(ConfigError, match=r"data_map names dataset 'c'"):
        make_dataset({**_combined(), "data_map": {("c", "data"): "data"}}, name="train")
    with pytest.raises(ConfigError, match=r"sampling_sizes names \['x'\]"):
        make_dataset(_combined(sampling_sizes={"x": 3}), name="train")
    with pytest.raises(DataError, match=r"dataset 'b' has no data key 'classes'"):
        make_dataset({**_combined(), "data_map": {("b", "classes"): "classes"}}, name="train")
    bad = _combined()
    bad["datasets"]["b"] = {"class": "NumpyDataset", "seqs": [{"data": np.zeros((2, 5), dtype="float32")}]}
    with pytest.raises(DataError, match=r"data key 'data' is dense dim=3 .* and dense dim=5 .* in 'b'"):
        make_dataset(bad, name="train")
