"""`seqtrain lr-schedule`: the rates per epoch and per step without training, equal to what training uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqtrain.train.optim.lr_file import EpochData, read_scores, write_scores
from tests.corpus import write_config
from tests.train.helpers import run_cli

SCHEDULE = """
num_workers = 0
learning_rate_control = "newbob_rel"
learning_rates = [0.001, 0.002]
learning_rate = 0.004
learning_rate_step_schedule = {"warmup_steps": 4, "hold_steps": 10, "decay": "linear", "decay_steps": 20}
"""


def rows(output: str) -> dict[int, list[str]]:
    """Table lines by epoch: [steps, epoch lr, first step, last step, why...]."""
    table = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[0].isdigit():  # not a per-step line "epoch step lr"
            table[int(parts[0])] = parts[1:]
    return table


def test_rates_per_epoch_and_step_from_the_data(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=4, extra=SCHEDULE)
    assert run_cli("lr-schedule", config, "--per-step") == 0
    out = capsys.readouterr().out
    table = rows(out)
    assert sorted(table) == [1, 2, 3, 4]
    # 11 batches per epoch; warmup (s+1)/4 on steps 0-3, hold on 4-13, then linear decay over 20 steps
    assert table[1][:4] == ["0-10", "0.001", "0.00025", "0.001"]
    assert table[2][:4] == ["11-21", "0.002", "0.002", "0.0012"]  # step 21: t = 21 - 14 + 1 = 8: 1 - 8/20
    assert table[3][:2] == ["22-32", "0.002"]  # no scores: newbob keeps the rate
    assert " ".join(table[1][4:]) == "learning_rates[1]"
    assert "no comparable scores" in " ".join(table[3][4:])
    per_step = [line.split() for line in out.splitlines() if line.count(" ") == 2 and line[0].isdigit()]
    assert len(per_step) == 44
    assert per_step[14] == ["2", "14", "0.0019"]  # t = 1: 1 - 1/20 = 0.95


def test_scores_drive_newbob_and_stored_rates_win_unless_recomputed(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=4, extra=SCHEDULE)
    scores = tmp_path / "scores"
    write_scores(
        scores,
        {
            1: EpochData(0.001, {"dev_loss_ctc": 5.0}),
            2: EpochData(0.0007, {"dev_loss_ctc": 5.0}),
            3: EpochData(0.002, {"dev_loss_ctc": 4.0}),
        },
    )
    assert run_cli("lr-schedule", config, "--scores", scores, "--steps-per-epoch", "100") == 0
    table = rows(capsys.readouterr().out)
    # stored rates as training would keep them (e.g. edited by hand); e4: rel(2,3) = (4 - 5) / 4 -> keep e3's
    assert [table[e][1] for e in (1, 2, 3, 4)] == ["0.001", "0.0007", "0.002", "0.002"]
    assert " ".join(table[2][4:]) == f"as stored in {scores}"
    assert " ".join(table[4][4:]) == "newbob_rel: dev_loss_ctc relative change -0.25 <= -0.01 in epoch 3: kept"
    assert run_cli("lr-schedule", config, "--scores", scores, "--steps-per-epoch", "100", "--recompute") == 0
    table = rows(capsys.readouterr().out)
    # recomputed: 0.001, 0.002 (learning_rates); e3: rel(1,2) = 0 -> decay 0.001; e4: rel(2,3) = -0.25 -> keep
    assert [table[e][1] for e in (1, 2, 3, 4)] == ["0.001", "0.002", "0.001", "0.001"]
    assert "(the file has 0.0007)" in " ".join(table[2][4:])
    assert table[1][0] == "0-99"


def test_shows_what_training_used(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=3, extra=SCHEDULE)
    assert run_cli("train", config) == 0
    capsys.readouterr()
    assert run_cli("lr-schedule", config, "--per-step", "--epochs", "4") == 0  # the run's own file by default
    out = capsys.readouterr().out
    assert f"scores from {tmp_path / 'out/model.learning_rates'}" in out
    last_rates = {int(p[0]): float(p[2]) for p in (line.split() for line in out.splitlines()) if len(p) == 3}
    for epoch in (1, 2, 3):
        state = torch.load(tmp_path / f"out/model.{epoch:03d}.pt", weights_only=True)
        used = state["optimizer"]["param_groups"][0]["lr"]  # the rate of the epoch's last step
        assert used == pytest.approx(last_rates[epoch], rel=1e-7)
    trained = read_scores(tmp_path / "out/model.learning_rates")
    assert [float(rows(out)[e][1]) for e in (1, 2, 3)] == [trained[e].learning_rate for e in (1, 2, 3)]


def test_plot_and_no_data_needed_with_steps_per_epoch(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.py"
    config.write_text(
        "import torch\n"
        "train = {'class': 'HDFDataset', 'files': ['/nonexistent.hdf']}\n"
        "num_epochs = 3\nlearning_rate = {1: 0.1, 3: 0.01}\n"
        "def get_model(*, epoch, config):\n    return torch.nn.Linear(1, 1)\n"
        "def train_step(*, model, batch, ctx):\n    pass\n"
    )
    assert run_cli("lr-schedule", config, "--steps-per-epoch", "3", "--plot", tmp_path / "lr.png") == 0
    table = rows(capsys.readouterr().out)
    assert [table[e][1] for e in (1, 2, 3)] == ["0.1", "0.1", "0.01"]
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_error_measure_is_a_clear_error(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    extra = SCHEDULE + "\nlearning_rate_control_error_measure = 'dev_score'\n"
    config = write_config(tmp_path, tiny_corpus, extra=extra)
    scores = tmp_path / "scores"
    write_scores(scores, {1: EpochData(0.001, {"dev_loss_ctc": 5.0, "train_loss_ctc": 6.0})})
    assert run_cli("lr-schedule", config, "--scores", scores, "--steps-per-epoch", "10") == 1
    err = capsys.readouterr().err
    assert "learning_rate_control_error_measure 'dev_score'" in err
    assert "its scores are: dev_loss_ctc, train_loss_ctc" in err
