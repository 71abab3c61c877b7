"""The "bucket" order: every sequence once, each batch within the padding cap and the budget, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.batching import batch_frames, padding_fraction
from seqtrain.data.bucketing import bucket_max_padding
from seqtrain.data.epoch import plan_epoch
from seqtrain.data.factory import make_dataset

# the anchor benchmark's lengths: 1000 sequences uniform in [50, 400], RandomState(42)
BENCH = {"class": "GeneratingDataset", "task": "ctc", "num_seqs": 1000, "seq_len": (50, 400), "seed": 42}


def _plan(ordering: str, epoch: int = 1, **kwargs):
    setup = make_dataset({**BENCH, "seq_ordering": ordering, **kwargs}, name="train")
    plan = plan_epoch(setup, epoch, random_seed=42, batch_size=20000, max_seqs=-1)
    return setup, plan


def test_lengths_are_the_benchmark_data() -> None:
    setup, _ = _plan("default")
    expected = np.random.RandomState(42).randint(50, 401, size=1000)
    assert np.array_equal(setup.dataset.seq_lengths()["data"], expected)


@pytest.mark.parametrize("ordering", ["bucket", "bucket:0.02"])
def test_every_batch_within_cap_and_budget_every_sequence_once(ordering: str) -> None:
    setup, plan = _plan(ordering)
    lengths = setup.dataset.seq_lengths()["data"]
    cap = bucket_max_padding(ordering)
    for batch in plan.batches:
        padded, real = batch_frames(batch, lengths)
        assert padded <= 20000 or len(batch) == 1
        assert 1 - real / padded <= cap + 1e-12
    assert sorted(i for b in plan.batches for i in b.seq_indices) == list(range(1000))


def test_below_five_percent_where_laplace_gives_far_more() -> None:
    setup, bucket = _plan("bucket")
    _, laplace = _plan("laplace:.100")
    lengths = setup.dataset.seq_lengths()["data"]
    assert padding_fraction(bucket.batches, lengths) < 0.05
    assert padding_fraction(laplace.batches, lengths) > 0.25


def test_reproducible_but_different_every_epoch() -> None:
    _, a = _plan("bucket", epoch=1)
    _, again = _plan("bucket", epoch=1)
    _, b = _plan("bucket", epoch=2)
    assert a.batches == again.batches
    assert [x.seq_indices for x in a.batches] != [x.seq_indices for x in b.batches]
    first_batches = {frozenset(x.seq_indices) for x in a.batches}
    assert first_batches != {frozenset(x.seq_indices) for x in b.batches}  # new company, not only a new order


def test_partition_epoch_splits_the_pass_before_bucketing() -> None:
    parts = [_plan("bucket", epoch=e, partition_epoch=2)[1] for e in (1, 2)]
    seen = [i for plan in parts for b in plan.batches for i in b.seq_indices]
    assert sorted(seen) == list(range(1000))


@pytest.mark.slow
def test_training_with_bucket_order_and_chunks_resumes_bitwise(tiny_corpus: dict, tmp_path) -> None:
    from seqtrain.train.optim.lr_file import read_scores
    from tests.corpus import write_config
    from tests.train.helpers import assert_bitwise_equal, model_params, run_cli

    extra = f"""
train = {{"class": "HDFDataset", "files": [{str(tiny_corpus["train"])!r}], "seq_ordering": "bucket:0.1"}}
chunking = ({{"data": 16}}, {{"data": 8}})
"""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    straight = write_config(tmp_path / "a", tiny_corpus, num_epochs=2, extra=extra)
    resumed = write_config(tmp_path / "b", tiny_corpus, num_epochs=2, extra=extra)
    assert run_cli("train", straight) == 0
    assert run_cli("train", resumed, "num_epochs=1") == 0
    assert run_cli("train", resumed) == 0
    a, b = tmp_path / "a/out", tmp_path / "b/out"
    assert_bitwise_equal(model_params(a / "model.002.pt"), model_params(b / "model.002.pt"))
    assert read_scores(a / "model.learning_rates") == read_scores(b / "model.learning_rates")
