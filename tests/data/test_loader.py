"""The loader with real DataLoader workers: same batches as in-process, resume at batch k, clear errors."""

from __future__ import annotations

import multiprocessing
import os
import signal
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from seqtrain.data.batching import BatchSpec
from seqtrain.data.dataset import Dataset, DataSpec
from seqtrain.data.epoch import plan_epoch
from seqtrain.data.factory import make_dataset
from seqtrain.data.loader import _BatchList, _loader_error, _WorkerTracker, iterate_batches
from seqtrain.errors import DataError
from tests.train.helpers import start_subprocess

DTYPES = {"data": "float32", "classes": "int32"}


class Faulty(Dataset):
    """Ten sequences; `fault` makes one of them misbehave in a chosen way."""

    def __init__(self, fault: str = "", bad: int = 6, name: str = "faulty", die_when: Path | None = None) -> None:
        self.name, self.fault, self.bad = name, fault, bad
        self.die_when = die_when  # "die" waits for this file to exist, so the test decides when the worker dies

    @property
    def num_seqs(self) -> int:
        return 10

    def data_specs(self) -> dict[str, DataSpec]:
        return {"data": DataSpec(dim=2, feature_shape=(2,)), "classes": DataSpec(dim=5, dtype="int32", sparse=True)}

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return {"data": np.arange(3, 13), "classes": np.full(10, 2)}

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        seq = {"data": np.full((idx + 3, 2), idx, dtype="float32"), "classes": np.array([idx % 5, 1], dtype="int32")}
        if idx != self.bad:
            return seq
        if self.fault == "raise":
            raise ValueError("corrupt record")
        if self.fault == "die" and torch.utils.data.get_worker_info() is not None:
            deadline = time.monotonic() + 60
            while self.die_when is not None and not self.die_when.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fault == "hang" and torch.utils.data.get_worker_info() is not None:
            time.sleep(120)
        if self.fault == "length":
            seq["data"] = seq["data"][:-1]
        if self.fault == "label":
            seq["classes"] = np.array([7, 1], dtype="int32")
        if self.fault == "key":
            del seq["classes"]
        if self.fault == "shape":
            seq["data"] = np.zeros((idx + 3, 3), dtype="float32")
        return seq


def _batches(dataset: Dataset, workers: int, start: int = 0, timeout: float = 0.0) -> list:
    specs = [BatchSpec((i, i + 1)) for i in range(0, 10, 2)]
    return list(
        iterate_batches(
            dataset, specs, dtypes=DTYPES, num_workers=workers, random_seed=1, epoch=1, start=start, timeout=timeout
        )
    )


def test_workers_give_bitwise_the_same_batches_and_resume_skips_ahead() -> None:
    inline = _batches(Faulty(), 0)
    for workers, start in ((2, 0), (1, 3), (0, 3)):
        got = _batches(Faulty(), workers, start)
        assert [b.seq_indices for b in got] == [b.seq_indices for b in inline[start:]]
        for a, b in zip(got, inline[start:]):
            assert all(torch.equal(a.data[k], b.data[k]) and torch.equal(a.lengths[k], b.lengths[k]) for k in DTYPES)
    assert inline[1].data["data"].shape == (2, 6, 2) and inline[1].lengths["data"].tolist() == [5, 6]
    with pytest.raises(DataError, match="cannot start at batch 6, the epoch has 5"):
        _batches(Faulty(), 0, start=6)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            "raise",
            r"loading sequence 'faulty/seq-6' \(index 6\) of dataset 'faulty' failed: ValueError: corrupt record",
        ),
        (
            "length",
            r"data key 'data' of sequence 'faulty/seq-6' .*: get_seq returned 8 frames but seq_lengths\(\) says 9",
        ),
        ("label", r"data key 'classes' of sequence 'faulty/seq-6' .*: label 7 is outside the vocabulary \[0, 5\)"),
        ("key", r"sequence 'faulty/seq-6' \(index 6\) of dataset 'faulty' has no data key 'classes'"),
        ("shape", r"data key 'data' of sequence 'faulty/seq-6' .*: feature shape \(3,\), the dataset declares \(2,\)"),
    ],
)
def test_a_bad_sequence_is_one_clear_error(workers: int, fault: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        _batches(Faulty(fault), workers)
    assert "Traceback" not in str(info.value)


def test_a_dead_worker_is_an_error_naming_the_batch() -> None:
    with pytest.raises(DataError, match=r"worker died while loading batch 3 of the epoch \(sequences 'faulty/seq-6'"):
        _batches(Faulty("die"), 2)


def test_a_worker_dying_while_the_trainer_computes_is_reported_at_the_next_batch(tmp_path: Path) -> None:
    """PyTorch's SIGCHLD handler would raise its RuntimeError in the middle of the trainer's step (here: the
    sleep), naming no batch; seqtrain removes it, and the next batch it waits for names the dead worker's."""
    specs = [BatchSpec((i, i + 1)) for i in range(0, 10, 2)]
    die_now = tmp_path / "die-now"  # without it, worker 1 could die before the first batch arrives (a loaded CI)
    dataset = Faulty("die", die_when=die_now)
    batches = iterate_batches(dataset, specs, dtypes=DTYPES, num_workers=2, random_seed=1, epoch=1)
    next(batches)
    die_now.touch()
    time.sleep(1.5)  # the "training step": worker 1 dies on batch 3 meanwhile
    with pytest.raises(DataError, match=r"worker died while loading batch 3 of the epoch \(sequences 'faulty/seq-6'"):
        list(batches)


@pytest.mark.parametrize(
    "message",
    [
        "DataLoader worker (pid(s) 999, 123) exited unexpectedly",  # the main process noticed while waiting
        "DataLoader worker (pid 123) is killed by signal: Killed. ",  # PyTorch's SIGCHLD handler noticed first
    ],
)
def test_both_wordings_of_a_dead_worker_name_its_batch(message: str) -> None:
    tracker = _WorkerTracker(multiprocessing.get_context("fork"), 2)
    tracker.pids[0], tracker.pids[1] = 123, 456
    tracker.loading[0], tracker.loading[1] = 3, 4
    assert tracker.batches_of_dead(message) == [3]


def test_a_worker_killed_while_its_batch_is_fetched_is_named_by_its_exit_code() -> None:
    """The third way a death shows: the main process fetches a batch the worker sent (its tensors' file
    descriptors come over a socket from the worker), and the worker is gone: ConnectionResetError, no pid."""
    tracker = _WorkerTracker(multiprocessing.get_context("fork"), 2)
    tracker.pids[0], tracker.pids[1] = 123, 456
    tracker.loading[0], tracker.loading[1] = 2, 3
    specs = [BatchSpec((i, i + 1)) for i in range(0, 10, 2)]
    todo = _BatchList(Faulty(), specs, DTYPES, seed_parts=(1, 1, 0, 0), tracker=tracker)
    reset = ConnectionResetError(104, "Connection reset by peer")
    workers = SimpleNamespace(_workers=[SimpleNamespace(exitcode=None), SimpleNamespace(exitcode=-9)])
    error = _loader_error(Faulty(), todo, 0, 1, 0.0, workers, reset)
    assert error is not None and "died while loading batch 3 of the epoch (sequences 'faulty/seq-6'" in str(error)
    assert "ConnectionResetError" in str(error)
    alive = SimpleNamespace(_workers=[SimpleNamespace(exitcode=None)] * 2)
    assert _loader_error(Faulty(), todo, 0, 1, 0.0, alive, reset) is None  # not a worker's death: raised as it is
    assert _loader_error(Faulty(), todo, 0, 1, 0.0, workers, ValueError("a bug")) is None


def test_a_hung_worker_is_an_error_naming_the_batch_after_the_timeout() -> None:
    began = time.monotonic()
    with pytest.raises(DataError, match=r"batch 3 of the epoch \(sequences 'faulty/seq-6', 'faulty/seq-7'\) within "):
        _batches(Faulty("hang"), 2, start=1, timeout=6)  # a loaded CI machine delivers the others in time
    assert time.monotonic() - began < 30  # not the 120 s the worker sleeps


def test_hdf_errors_name_the_file(tiny_corpus: dict[str, Path]) -> None:
    setup = make_dataset({"class": "HDFDataset", "files": [str(tiny_corpus["dev"])]}, name="dev")
    bad = BatchSpec((0,), chunks=None)
    setup.dataset._lengths = {k: v + 1 for k, v in setup.dataset.seq_lengths().items()}  # a lying index
    with pytest.raises(DataError, match=r"of sequence 'dev-0' \(index 0\) of HDF file .*dev\.hdf: get_seq returned"):
        list(iterate_batches(setup.dataset, [bad], dtypes=DTYPES, num_workers=1, random_seed=1, epoch=1))


CUSTOM_CONFIG = """
import numpy as np
import torch
from seqtrain.data.dataset import Dataset, DataSpec

class _Counting(Dataset):
    '''Sequence i: i + 2 frames; refuses to load outside a DataLoader worker.'''
    def __init__(self, n=24, name="counting"):
        self.n, self.name = n, name
    @property
    def num_seqs(self):
        return self.n
    def data_specs(self):
        return {"data": DataSpec(dim=3, feature_shape=(3,)), "classes": DataSpec(dim=4, dtype="int32", sparse=True)}
    def seq_lengths(self):
        return {"data": np.arange(self.n) + 2, "classes": np.ones(self.n, dtype=np.int64)}
    def get_seq(self, idx):
        assert torch.utils.data.get_worker_info() is not None, "loaded in the main process"
        data = np.full((idx + 2, 3), 0.1 * idx, dtype="float32")
        return {"data": data, "classes": np.array([idx % 4], dtype="int32")}

train = {"class": _Counting, "n": 24, "seq_ordering": "random"}
num_workers = 2
batch_size = 60
num_epochs = 2
learning_rate = 0.1
tensorboard = False
model = MODEL

def get_model(*, epoch, config):
    return torch.nn.Linear(3, 4)

def train_step(*, model, batch, ctx):
    logits = model(batch["data"]).mean(dim=1)
    ctx.mark_as_loss("ce", torch.nn.functional.cross_entropy(logits, batch["classes"][:, 0].long(), reduction="none"))
"""


@pytest.mark.slow
def test_custom_dataset_class_from_the_config_in_worker_processes(tmp_path: Path) -> None:
    config = tmp_path / "custom.py"
    config.write_text(textwrap.dedent(CUSTOM_CONFIG).replace("MODEL", repr(str(tmp_path / "out" / "model"))))
    proc = start_subprocess("train", config)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    assert (tmp_path / "out" / "model.002.pt").exists()
    expected = len(plan_epoch(
        make_dataset({"class": "NumpyDataset", "seqs": [{"data": np.zeros((i + 2, 1))} for i in range(24)],
                      "seq_ordering": "random"}, name="train"),
        1, random_seed=42, batch_size=60, max_seqs=-1,
    ).batches)  # fmt: skip
    assert f"epoch 1: {expected} batches, 24 seqs" in output


class _NoVocabularySize(Faulty):
    """Labels 0..7 in sequence 6 (fault "label"), and no vocabulary size of its own: only extern_data bounds them."""

    def data_specs(self) -> dict[str, DataSpec]:
        return {"data": DataSpec(dim=2, feature_shape=(2,)), "classes": DataSpec(dim=None, dtype="int32", sparse=True)}


@pytest.mark.parametrize("workers", [0, 2])
def test_labels_are_checked_against_the_extern_data_dim_when_the_dataset_has_none(workers: int) -> None:
    specs = [BatchSpec((i, i + 1)) for i in range(0, 10, 2)]
    declared = {"data": DataSpec(dim=2, feature_shape=(2,)), "classes": DataSpec(dim=5, dtype="int32", sparse=True)}
    unchecked = iterate_batches(
        _NoVocabularySize("label"), specs, dtypes=DTYPES, num_workers=workers, random_seed=1, epoch=1
    )
    assert len(list(unchecked)) == 5, "without a declared dim nothing bounds the labels"
    checked = iterate_batches(
        _NoVocabularySize("label"), specs, dtypes=DTYPES, num_workers=workers, random_seed=1, epoch=1, specs=declared
    )
    message = (
        r"data key 'classes' of sequence 'faulty/seq-6' .*: label 7 is outside extern_data\['classes'\] dim \[0, 5\)"
    )
    with pytest.raises(DataError, match=message):
        list(checked)
