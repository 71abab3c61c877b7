"""seqtrain's batches of the anchor data are the plain loop's and RETURNN's (the anchor's 55 batches)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.anchor import gen_data
from bench.anchor.batch_check import check_batches, returnn_result, seqtrain_batches, seqtrain_setup
from bench.anchor.run import find_returnn_python


@pytest.fixture(scope="module")
def full_ce_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    seqs = gen_data.generate()
    return gen_data.write_hdf(tmp_path_factory.mktemp("anchor") / "train_ce.hdf", seqs, "ce")


def test_full_data_gives_the_anchors_55_batches(full_ce_file: Path) -> None:
    report = check_batches(full_ce_file, None)
    # /work/shared/bench/README.md: "55 batches, 12.1 % of the padded frames are padding"
    assert report == {"num_batches": 55, "padding_fraction": 0.1213, "seqtrain_equals_plain": True}
    batches = seqtrain_batches(seqtrain_setup(full_ce_file))
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert max(len(b) for b in batches) == 32


@pytest.mark.slow
def test_returnn_makes_the_same_batches_from_seqtrains_file(full_ce_file: Path) -> None:
    returnn_python = find_returnn_python(None)[0]
    if returnn_python is None:
        pytest.skip("no Python with RETURNN")
    report = check_batches(full_ce_file, returnn_python)
    assert report["seqtrain_equals_returnn"] is True
    assert report["returnn_reads_same_data"] is True


def test_returnn_failure_is_reported(full_ce_file: Path) -> None:
    with pytest.raises(RuntimeError, match=r"RETURNN could not batch .*train_ce.hdf \(exit 1\)"):
        returnn_result("/bin/false", full_ce_file)
    report = check_batches(full_ce_file, "/bin/false")
    assert report["seqtrain_equals_plain"] is True and "seqtrain_equals_returnn" not in report
    assert report["returnn_error"].startswith("RETURNN could not batch")


def test_returnn_python_that_cannot_run_returnn_is_left_out(tmp_path: Path) -> None:
    python, why = find_returnn_python(str(tmp_path / "no-such-python"))
    assert python is None and "does not exist (set RETURNN_PYTHON or --returnn-python)" in why
    python, why = find_returnn_python("/bin/false")
    assert python is None and "cannot import returnn.frontend" in why
