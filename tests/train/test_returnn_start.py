"""RETURNN's keys for where training starts and which epochs are saved: start_epoch, load, load_epoch,
import_model_train_epoch1, save_interval; and a learning-rate file from an earlier (RETURNN) run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from seqtrain.config import Config
from seqtrain.train.config_snapshot import save_source
from seqtrain.train.optim.lr_file import EpochData, read_scores, write_scores
from tests.corpus import write_config
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli


def fails_with(capsys: pytest.CaptureFixture, pattern: str, *args: object) -> None:
    """The command exits non-zero with a one-line error matching `pattern` (other exceptions would raise here)."""
    assert run_cli(*args) != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert errors and re.search(pattern, errors[0]), errors


def epochs_saved(directory: Path) -> list[int]:
    return sorted(int(p.name.split(".")[1]) for p in directory.glob("model.*.pt"))


def test_save_interval_writes_every_nth_and_the_last_epoch(tiny_corpus, tmp_path, capsys) -> None:
    assert run_cli("train", write_config(tmp_path, tiny_corpus, num_epochs=5), "save_interval=2") == 0
    assert epochs_saved(tmp_path / "out") == [2, 4, 5]
    assert sorted(read_scores(tmp_path / "out/model.learning_rates")) == [1, 2, 3, 4, 5]


def test_start_epoch_continues_from_that_epochs_checkpoint(tiny_corpus, tmp_path, capsys) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    assert run_cli("train", write_config(reference, tiny_corpus, num_epochs=3)) == 0
    run = tmp_path / "run"
    run.mkdir()
    config = write_config(run, tiny_corpus, num_epochs=3)
    assert run_cli("train", config) == 0
    # again from epoch 3, on top of epoch 2's checkpoint: the same epoch 3 as before
    assert run_cli("train", config, "start_epoch=3") == 0
    assert_bitwise_equal(model_params(reference / "out/model.003.pt"), model_params(run / "out/model.003.pt"))
    fails_with(capsys, "start_epoch=1 but the run has checkpoints", "train", config, "start_epoch=1")
    (run / "out/model.001.pt").unlink()
    fails_with(capsys, "needs the checkpoint of epoch 1", "train", config, "start_epoch=2")
    fails_with(capsys, "start_epoch", "train", config, "start_epoch=0")


def test_load_starts_a_new_run_from_another_runs_checkpoint(tiny_corpus, tmp_path, capsys) -> None:
    first = tmp_path / "first"
    first.mkdir()
    assert run_cli("train", write_config(first, tiny_corpus, num_epochs=3)) == 0
    second = tmp_path / "second"
    second.mkdir()
    config = write_config(second, tiny_corpus, num_epochs=3)
    assert run_cli("train", config, f"load={str(first / 'out/model.002')!r}") == 0
    assert epochs_saved(second / "out") == [3]  # continues after the loaded epoch, as RETURNN does
    assert_bitwise_equal(model_params(first / "out/model.003.pt"), model_params(second / "out/model.003.pt"))
    fails_with(capsys, "does not exist", "train", write_config(tmp_path, tiny_corpus), "load='/nonexistent/model.001'")


def test_import_model_train_epoch1_initializes_the_parameters(tiny_corpus, tmp_path, capsys) -> None:
    first = tmp_path / "first"
    first.mkdir()
    assert run_cli("train", write_config(first, tiny_corpus, num_epochs=1)) == 0
    second = tmp_path / "second"
    second.mkdir()
    imported = f"import_model_train_epoch1={str(first / 'out/model.001')!r}"
    # learning rate 0: epoch 1 changes nothing, so its checkpoint holds exactly the imported parameters
    assert run_cli("train", write_config(second, tiny_corpus, num_epochs=1), imported, "learning_rate=0.0") == 0
    assert_bitwise_equal(model_params(first / "out/model.001.pt"), model_params(second / "out/model.001.pt"))
    fails_with(
        capsys, "model.xyz.pt", "train", write_config(tmp_path, tiny_corpus), "import_model_train_epoch1='model.xyz'"
    )


def test_scores_of_a_trained_epoch_replace_an_earlier_runs_entries(tiny_corpus, tmp_path, capsys) -> None:
    """A RETURNN learning-rate file of the same experiment: its scores and :meta: of the epochs trained now are
    stale and must not drive Newbob; its learning rates stay (a stored rate is kept, as after a hand edit)."""
    lr_file = tmp_path / "learning_rates"
    old = {
        e: EpochData(0.01, {"dev_score_output/output": 9.0 - e, "train_score": 10.0}, {"global_train_step": 7 * e})
        for e in (1, 2)
    }
    write_scores(lr_file, old)
    extra = f"learning_rate_file = {str(lr_file)!r}\nlearning_rate_control = 'newbob'\n"
    assert run_cli("train", write_config(tmp_path, tiny_corpus, num_epochs=3, extra=extra)) == 0
    scores = read_scores(lr_file)
    for epoch in (1, 2, 3):
        assert set(scores[epoch].error) == {"train_loss_ctc", "dev_loss_ctc"}, scores[epoch].error
        assert scores[epoch].meta == {}
    assert scores[1].learning_rate == scores[2].learning_rate == 0.01


def test_task_forward_given_to_train_names_the_command(tiny_corpus, tmp_path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, extra="task = 'forward'\n")
    fails_with(capsys, r"task='forward', but `seqtrain train` trains; .*`seqtrain forward CONFIG", "train", config)
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_overrides_of_a_returnn_configs_own_variables_are_kept_with_the_run(tmp_path) -> None:
    config = Config(
        {"num_epochs": 2},
        path=tmp_path / "x.config",
        source_text="#!returnn.py\n",
        overrides={"num_epochs": 2},
        variable_overrides={"layer_dim": 7},
    )
    save_source(config, tmp_path)
    assert (tmp_path / "overrides.txt").read_text() == "num_epochs=2\nlayer_dim=7\n"
