"""The promise: a run cannot be lost, and resuming gives bitwise the same result as not stopping."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from seqtrain.train.optim.lr_file import read_scores
from tests.corpus import write_config
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli, start_subprocess


@pytest.fixture(scope="module")
def reference_run(tiny_corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three epochs without interruption."""
    directory = tmp_path_factory.mktemp("reference")
    assert run_cli("train", write_config(directory, tiny_corpus, num_epochs=3)) == 0
    return directory / "out"


def test_train_1_then_resume_2_equals_train_3(reference_run: Path, tiny_corpus: dict, tmp_path: Path) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=3)
    assert run_cli("train", config, "num_epochs=1") == 0
    assert not (tmp_path / "out" / "model.002.pt").exists()
    assert run_cli("train", config) == 0
    assert_bitwise_equal(model_params(reference_run / "model.003.pt"), model_params(tmp_path / "out/model.003.pt"))
    assert read_scores(reference_run / "model.learning_rates") == read_scores(tmp_path / "out/model.learning_rates")


def test_finished_run_does_nothing(reference_run: Path, tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=1)
    assert run_cli("train", config) == 0
    before = (tmp_path / "out/model.001.pt").stat().st_mtime_ns
    assert run_cli("train", config) == 0
    assert "training finished already" in capsys.readouterr().out
    assert (tmp_path / "out/model.001.pt").stat().st_mtime_ns == before
    assert not (tmp_path / "out/model.002.pt").exists()


def _wait_for(pattern: str, directory: Path, proc, timeout: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(directory.glob(pattern))
        if found:
            return found[0]
        assert proc.poll() is None, f"training exited early:\n{proc.stdout.read()}"
        time.sleep(0.05)
    raise AssertionError(f"no {pattern} in {directory} after {timeout} s")


def test_kill_9_mid_epoch_and_resume(reference_run: Path, tiny_corpus: dict, tmp_path: Path) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=3, step_sleep=0.05)
    proc = start_subprocess("train", config, "checkpoint_interval_steps=3")
    try:
        meta = _wait_for("model.002.step*.meta.json", tmp_path / "out", proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert meta.exists() and not (tmp_path / "out/model.002.pt").exists()
    assert run_cli("train", config) == 0
    log = (tmp_path / "out/model.log").read_text()
    assert re.search(r"resuming from \S+model\.002\.step\d+\.pt \(epoch 2 after [1-9]\d* batches, global step", log)
    assert_bitwise_equal(model_params(reference_run / "model.003.pt"), model_params(tmp_path / "out/model.003.pt"))
    assert read_scores(reference_run / "model.learning_rates") == read_scores(tmp_path / "out/model.learning_rates")
    assert not list((tmp_path / "out").glob("*.step*")), "mid-epoch checkpoints are removed after the epoch"


def test_sigterm_saves_and_resumes(reference_run: Path, tiny_corpus: dict, tmp_path: Path) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=3, step_sleep=0.05)
    proc = start_subprocess("train", config)
    _wait_for("model.001.meta.json", tmp_path / "out", proc)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "run the same command again to resume" in output
    assert list((tmp_path / "out").glob("model.00[12].step*.meta.json")), output
    assert run_cli("train", config) == 0
    assert_bitwise_equal(model_params(reference_run / "model.003.pt"), model_params(tmp_path / "out/model.003.pt"))


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "delete_meta"])
def test_broken_newest_checkpoint_falls_back(
    damage: str, reference_run: Path, tiny_corpus: dict, tmp_path: Path, capsys
) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=3)
    assert run_cli("train", config, "num_epochs=2") == 0
    newest = tmp_path / "out/model.002.pt"
    data = bytearray(newest.read_bytes())
    if damage == "truncate":
        newest.write_bytes(data[: len(data) // 2])
    elif damage == "flip_byte":
        data[len(data) // 2] ^= 0xFF
        newest.write_bytes(data)
    else:
        (tmp_path / "out/model.002.meta.json").unlink()
    capsys.readouterr()
    assert run_cli("train", config) == 0
    out = capsys.readouterr().out
    assert "model.002.pt is not usable" in out and "falling back" in out
    assert "resuming from" in out and "model.001.pt (end of epoch 1, global step" in out
    # epoch 2 is trained again from epoch 1's state, so the end result is the uninterrupted one
    assert_bitwise_equal(model_params(reference_run / "model.003.pt"), model_params(tmp_path / "out/model.003.pt"))
