"""Every `seq_ordering`: RETURNN's exact order, deterministic from (random_seed, epoch), clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.epoch import epoch_seq_indices, order_seed
from seqtrain.data.factory import make_dataset
from seqtrain.data.ordering import check_ordering, seq_order
from seqtrain.errors import ConfigError

LENGTHS = np.random.RandomState(5).randint(1, 100, size=40)
ALL = ["default", "reverse", "default_every_n:4", "random", "random:3", "random_sample", "sorted", "sorted_reverse",
       "laplace", "laplace:5", "laplace:.8", "laplace:.8:2", "sort_bin_shuffle:.10", "sort_bin_shuffle_x2:4",
       "bucket"]  # fmt: skip


def _returnn_order(method: str, epoch: int) -> list[int]:
    from returnn.datasets.basic import Dataset

    class _Lengths(Dataset):
        pass

    dataset = _Lengths(seq_ordering=method)
    return list(dataset.get_seq_order_for_epoch(epoch, len(LENGTHS), lambda i: int(LENGTHS[i])))


@pytest.mark.parametrize("method", [m for m in ALL if m != "bucket"])
@pytest.mark.parametrize("epoch", [1, 2, 7])
def test_same_order_as_returnn(method: str, epoch: int) -> None:
    seed = order_seed(epoch, partition_epoch=1, fixed_for=_fixed(method), random_seed=42, offset=0)
    assert seq_order(method, LENGTHS, seed).tolist() == _returnn_order(method, epoch)


def _fixed(method: str) -> int:
    from seqtrain.data.ordering import seeds_fixed_for

    return seeds_fixed_for(method)


@pytest.mark.parametrize("method", ALL)
def test_each_ordering_is_deterministic_and_a_permutation(method: str) -> None:
    setup = make_dataset({"class": "NumpyDataset", "seqs": _seqs(), "seq_ordering": method}, name="train")
    first = epoch_seq_indices(setup, 3, random_seed=7)[0]
    again = epoch_seq_indices(setup, 3, random_seed=7)[0]  # a resumed run recomputes the same order
    assert first.tolist() == again.tolist()
    if method != "random_sample":  # sampling with replacement
        assert sorted(first.tolist()) == list(range(40))
    shuffles = method.split(":")[0] not in ("default", "reverse", "default_every_n", "sorted", "sorted_reverse")
    other_epoch = epoch_seq_indices(setup, 5, random_seed=7)[0]
    other_seed = epoch_seq_indices(setup, 3, random_seed=8)[0]
    assert (first.tolist() != other_epoch.tolist()) == shuffles
    assert (first.tolist() != other_seed.tolist()) == shuffles


def test_random_n_keeps_the_order_for_n_epochs() -> None:
    setup = make_dataset({"class": "NumpyDataset", "seqs": _seqs(), "seq_ordering": "random:2"}, name="train")
    orders = [epoch_seq_indices(setup, e, random_seed=42)[0].tolist() for e in (1, 2, 3, 4)]
    assert orders[0] == orders[1] != orders[2] == orders[3]


def test_seq_ordering_may_be_a_function_of_the_epoch() -> None:
    def order(*, epoch: int) -> str:
        return "sorted" if epoch == 1 else "sorted_reverse"

    setup = make_dataset({"class": "NumpyDataset", "seqs": _seqs(), "seq_ordering": order}, name="train")
    first, second = (epoch_seq_indices(setup, e, random_seed=42)[0] for e in (1, 2))
    assert np.all(np.diff(LENGTHS[first]) >= 0) and np.all(np.diff(LENGTHS[second]) <= 0)


@pytest.mark.parametrize(
    ("method", "message"),
    [("shuffle", "unknown seq_ordering 'shuffle'"), ("laplace:x", "seq_ordering 'laplace:x'"),
     ("random:abc", "seq_ordering 'random:abc'"), ("bucket:2", "expected 'bucket' or 'bucket:P' with 0 < P < 1")],
)  # fmt: skip
def test_bad_orderings_fail_when_the_dataset_is_built(method: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_ordering(method)
    with pytest.raises(ConfigError, match=message):
        make_dataset({"class": "NumpyDataset", "seqs": _seqs(), "seq_ordering": method}, name="train")


def _seqs() -> list[dict[str, np.ndarray]]:
    return [{"data": np.zeros((int(n), 1), dtype="float32")} for n in LENGTHS]
