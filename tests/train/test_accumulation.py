"""Gradient accumulation, gradient noise and scheduled update settings in real training runs, and their resume.

Global steps count batches (as RETURNN's global_train_step): with accum_grad_multiple_step = k an update
happens after every k batches and after the last batch of an epoch. Mid-epoch checkpoints are written only
after updates, so resuming never needs half-summed gradients and stays bitwise exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from seqtrain.train.optim.lr_file import read_scores
from tests.corpus import write_config
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli
from tests.train.test_generic_schedule import WEIGHTS_MODEL


def final_weight_and_steps(out: Path) -> tuple[torch.Tensor, int]:
    state = torch.load(out / "model.001.pt", weights_only=True)
    return state["model"]["w"], state["global_step"]


@pytest.mark.parametrize("accum", [1, 2, 3])
def test_one_update_per_k_batches_and_after_the_last_batch(
    accum: int, tiny_corpus: dict[str, Path], tmp_path: Path
) -> None:
    extra = WEIGHTS_MODEL + f"\ngradient_clip = 10.0\naccum_grad_multiple_step = {accum}\n"
    assert run_cli("train", write_config(tmp_path, tiny_corpus, num_epochs=1, extra=extra)) == 0
    w, steps = final_weight_and_steps(tmp_path / "out")
    assert steps == 11  # global steps count batches, whatever the accumulation
    updates = math.ceil(steps / accum)  # the summed gradient k * 1000 is clipped to 10 in each update
    assert torch.equal(w, torch.full((4,), -0.5 * 10.0 * updates))


def test_accumulated_gradients_are_summed(tiny_corpus: dict[str, Path], tmp_path: Path) -> None:
    # no clipping: 4 updates of 3 summed batches (the last of 2) move w as far as 11 single-batch updates
    extra = WEIGHTS_MODEL + "\naccum_grad_multiple_step = lambda *, epoch, step: 3\n"
    assert run_cli("train", write_config(tmp_path, tiny_corpus, num_epochs=1, extra=extra)) == 0
    w, steps = final_weight_and_steps(tmp_path / "out")
    assert torch.equal(w, torch.full((4,), -0.5 * 1000.0 * steps))


def test_bad_per_step_values_are_config_errors_before_training(
    tiny_corpus: dict[str, Path], tmp_path: Path, capsys
) -> None:
    """Values (plain or per epoch) fail when the config is loaded; a function's value when it is asked for."""
    cases = [
        ("accum_grad_multiple_step = {1: 0}", "config key 'accum_grad_multiple_step': 0 for epoch 1 must be >= 1"),
        ("gradient_noise = -0.1", "config key 'gradient_noise': -0.1 must be >= 0"),
        ("gradient_clip = {1: 1.0, 3: -1.0}", "config key 'gradient_clip': -1.0 for epoch 3 must be >= 0"),
    ]
    for line, message in cases:
        assert run_cli("train", write_config(tmp_path, tiny_corpus, num_epochs=1, extra=line + "\n")) == 1
        out, err = capsys.readouterr()
        assert message in err and "epoch 1:" not in out, line
    extra = "accum_grad_multiple_step = lambda *, epoch, step: 0 if step == 2 else 1\n"
    assert run_cli("train", write_config(tmp_path, tiny_corpus, num_epochs=1, extra=extra)) == 1
    expected = "'accum_grad_multiple_step': 0 (the schedule function's value at epoch 1, step 2) must be >= 1"
    assert expected in capsys.readouterr().err


SCHEDULED = """
import os

num_workers = 0
learning_rate_control = "newbob_rel"
learning_rates = {1: 0.01, 3: 0.02}
learning_rate_step_schedule = {"warmup_steps": 8, "decay": "cosine", "decay_steps": 30, "final_scale": 0.1}
gradient_clip = {1: 0.5, 3: 0.0}
gradient_clip_global_norm = 5.0
gradient_noise = {2: 0.01}
accum_grad_multiple_step = {1: 1, 2: 3}
batch_size = {1: 200, 3: 300}
_CRASH_AT = int(os.environ.get("SEQTRAIN_TEST_CRASH_AT", "-1"))
_train_step = train_step


def train_step(*, model, batch, ctx):
    if ctx.train and ctx.step == _CRASH_AT:
        raise RuntimeError("simulated crash")
    _train_step(model=model, batch=batch, ctx=ctx)
"""


@pytest.fixture(scope="module")
def scheduled_reference(tiny_corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("scheduled")
    assert run_cli("train", write_config(directory, tiny_corpus, num_epochs=3, extra=SCHEDULED)) == 0
    return directory / "out"


@pytest.mark.slow
def test_schedules_survive_a_crash_inside_an_accumulation_window(
    scheduled_reference: Path, tiny_corpus: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=3, extra=SCHEDULED)
    # epoch 1 has 11 batches (steps 0-10); epoch 2 updates after its batches 2, 5, 8, ... (3 per update);
    # step 15 is batch 4, the middle of the window 3-5
    monkeypatch.setenv("SEQTRAIN_TEST_CRASH_AT", "15")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_cli("train", config, "checkpoint_interval_steps=2")
    mids = sorted((tmp_path / "out").glob("model.002.step*.pt"))
    assert [p.name for p in mids] == ["model.002.step14.pt"]  # after the update of batches 0-2, not inside a window
    monkeypatch.delenv("SEQTRAIN_TEST_CRASH_AT")
    assert run_cli("train", config, "checkpoint_interval_steps=2") == 0
    assert_bitwise_equal(
        model_params(scheduled_reference / "model.003.pt"), model_params(tmp_path / "out/model.003.pt")
    )
    reference_rates = read_scores(scheduled_reference / "model.learning_rates")
    assert reference_rates == read_scores(tmp_path / "out/model.learning_rates")


@pytest.mark.slow
def test_schedules_survive_resume_at_an_epoch_end(
    scheduled_reference: Path, tiny_corpus: dict[str, Path], tmp_path: Path
) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=3, extra=SCHEDULED)
    assert run_cli("train", config, "num_epochs=1") == 0
    assert run_cli("train", config) == 0
    assert_bitwise_equal(
        model_params(scheduled_reference / "model.003.pt"), model_params(tmp_path / "out/model.003.pt")
    )
    rates = [d.learning_rate for d in read_scores(tmp_path / "out/model.learning_rates").values()]
    assert rates[0] == 0.01 and rates[2] == 0.02  # learning_rates; epoch 2 is newbob's choice after epoch 1
    assert rates == [d.learning_rate for d in read_scores(scheduled_reference / "model.learning_rates").values()]


@pytest.mark.slow
def test_gradient_noise_changes_training(
    scheduled_reference: Path, tiny_corpus: dict[str, Path], tmp_path: Path
) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=2, extra=SCHEDULED + "\ngradient_noise = 0.0\n")
    assert run_cli("train", config) == 0
    with_noise = model_params(scheduled_reference / "model.002.pt")
    without = model_params(tmp_path / "out/model.002.pt")
    assert_bitwise_equal(
        model_params(scheduled_reference / "model.001.pt"), model_params(tmp_path / "out/model.001.pt")
    )
    assert not all(torch.equal(with_noise[k], without[k]) for k in with_noise)
