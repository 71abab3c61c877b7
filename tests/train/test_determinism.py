"""Same config + same seed -> bitwise the same parameters and scores: twice, with 0/1/2 loader workers, after a
crash and resume; with randomness in the model (dropout) and in the dataset (augmentation in get_seq)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from seqtrain.data.batching import BatchSpec
from seqtrain.data.hdf import HDFDataset
from seqtrain.data.loader import iterate_batches
from seqtrain.train.determinism import CUBLAS_WORKSPACE, determinism_summary, deterministic_algorithms
from seqtrain.train.optim.lr_file import read_scores
from tests.corpus import write_config
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli

NOISY_DATA = """
import os
import numpy as np
from seqtrain.data.batching import BatchSpec
from seqtrain.data.hdf import HDFDataset

class _NoisyHDF(HDFDataset):
    \"\"\"Augmentation from the global generators, as a user would write it.\"\"\"

    def get_seq(self, idx):
        seq = dict(super().get_seq(idx))
        seq["data"] = seq["data"] + np.random.normal(0, 0.5, seq["data"].shape).astype("float32")
        seq["data"] = seq["data"] * float(torch.rand(()) + 0.5)
        return seq

train = dict(train, **{{"class": _NoisyHDF}})
deterministic_train = True
num_workers = {workers}
checkpoint_interval_steps = 2
_CRASH_FLAG = {crash_flag!r}
_plain_train_step = train_step

def train_step(*, model, batch, ctx):
    if ctx.train and ctx.step == 5 and os.path.exists(_CRASH_FLAG):
        os.unlink(_CRASH_FLAG)
        raise RuntimeError("simulated crash in step 5")
    _plain_train_step(model=model, batch=batch, ctx=ctx)
"""


def _run(directory: Path, corpus: dict, *, workers: int, crash: bool = False) -> Path:
    flag = directory / "crash.flag"
    config = write_config(
        directory, corpus, num_epochs=2, extra=NOISY_DATA.format(workers=workers, crash_flag=str(flag))
    )
    if crash:
        flag.touch()
        with pytest.raises(RuntimeError, match="simulated crash in step 5"):
            run_cli("train", config)
        assert (directory / "out/model.001.step4.pt").exists() and not (directory / "out/model.001.pt").exists()
    assert run_cli("train", config) == 0
    return directory / "out"


@pytest.fixture(scope="module")
def two_workers(tiny_corpus: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("two_workers"), tiny_corpus, workers=2)


def _assert_same_run(a: Path, b: Path) -> None:
    assert_bitwise_equal(model_params(a / "model.002.pt"), model_params(b / "model.002.pt"))
    assert read_scores(a / "model.learning_rates") == read_scores(b / "model.learning_rates")


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 1, 0])
def test_same_seed_gives_bitwise_the_same_run_whatever_the_number_of_workers(
    workers: int, two_workers: Path, tiny_corpus: dict, tmp_path: Path
) -> None:
    _assert_same_run(two_workers, _run(tmp_path, tiny_corpus, workers=workers))


@pytest.mark.slow
def test_crash_mid_epoch_and_resume_gives_bitwise_the_same_run(two_workers: Path, tiny_corpus: dict, tmp_path: Path):
    _assert_same_run(two_workers, _run(tmp_path, tiny_corpus, workers=2, crash=True))


@pytest.mark.slow
def test_another_seed_gives_another_run(two_workers: Path, tiny_corpus: dict, tmp_path: Path) -> None:
    """Guards the tests above against randomness that never reaches the result."""
    config = write_config(tmp_path, tiny_corpus, num_epochs=1, extra=NOISY_DATA.format(workers=0, crash_flag="-"))
    assert run_cli("train", config, "random_seed=7") == 0
    ours, theirs = model_params(tmp_path / "out/model.001.pt"), model_params(two_workers / "model.001.pt")
    assert not any(torch.equal(ours[k], theirs[k]) for k in ours)


class _NoisyHDF(HDFDataset):
    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        seq = dict(super().get_seq(idx))
        seq["data"] = seq["data"] + np.random.normal(0, 1, seq["data"].shape).astype("float32")
        return seq


def test_dataset_randomness_depends_on_the_batch_and_rank_not_on_the_worker(tiny_corpus: dict) -> None:
    dataset = _NoisyHDF([str(tiny_corpus["train"])], name="train")
    specs = [BatchSpec(tuple(range(i, i + 4))) for i in range(0, 20, 4)]
    dtypes = {"data": "float32", "classes": "int32"}

    def load(workers: int, *, start: int = 0, rank: int = 0) -> list[torch.Tensor]:
        loaded = iterate_batches(
            dataset, specs, dtypes=dtypes, num_workers=workers, random_seed=1, epoch=3, start=start, rank=rank
        )
        return [b["data"] for b in loaded]

    in_main, two = load(0), load(2)
    assert all(torch.equal(a, b) for a, b in zip(in_main, two, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(in_main[2:], load(1, start=2), strict=True))  # resume at batch 2
    assert not torch.equal(in_main[0], load(0, rank=1)[0])  # another rank draws other noise for its batch 0
    plain = torch.from_numpy(HDFDataset([str(tiny_corpus["train"])]).get_seq(specs[0].seq_indices[0])["data"])
    assert not torch.equal(in_main[0][0, : len(plain)], plain)


def test_deterministic_train_switches_torch_and_restores_it_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    assert not torch.are_deterministic_algorithms_enabled() and determinism_summary() is None
    with deterministic_algorithms(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
        assert determinism_summary() == "deterministic kernels (an op without one: warning), cuDNN benchmark off"
    assert not torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.deterministic
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    with deterministic_algorithms("strict"):
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert determinism_summary() == "deterministic kernels (an op without one: error), cuDNN benchmark off"
    with deterministic_algorithms(False):
        assert not torch.are_deterministic_algorithms_enabled()


def test_an_op_without_a_deterministic_kernel_warns_or_stops() -> None:
    """CPU has few such ops; `Tensor.put_` with repeated indices (which write wins?) is one on every device."""
    target, index, values = torch.zeros(3), torch.tensor([0, 0]), torch.ones(2)
    with deterministic_algorithms(True), pytest.warns(UserWarning, match="put_ does not have a deterministic"):
        target.put_(index, values)
    with deterministic_algorithms("strict"), pytest.raises(RuntimeError, match="put_ does not have a deterministic"):
        target.put_(index, values)
    target.put_(index, values)  # and outside a run nothing is switched on
