"""Epoch-level learning rates: every Newbob variant on score sequences, with the expected rates derived by hand.

Notation in the comments: rel(a, b) = (score_b - score_a) / |score_b| (RETURNN's relative error), the
default threshold is -0.01 (decay unless the score improved by more than 1%), the default decay 0.5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seqtrain.config import Config
from seqtrain.config.settings import OptimizerSettings
from seqtrain.errors import ConfigError
from seqtrain.train.optim.lr_file import EpochData, read_scores, write_scores
from seqtrain.train.optim.lr_setup import make_learning_rate_control


def _settings(config: dict[str, Any]) -> OptimizerSettings:
    return OptimizerSettings.from_config(Config.from_dict(config))


def rates(config: dict[str, Any], scores: list[float], *, extra_epochs: int = 1, key: str = "dev_loss_ctc") -> list:
    """Runs the control like the engine: rate of epoch e, then e's scores; returns the rates of all epochs."""
    control = make_learning_rate_control(_settings(config), path=None)
    result = []
    for epoch in range(1, len(scores) + extra_epochs + 1):
        result.append(control.learning_rate_for_epoch(epoch))
        if epoch <= len(scores):
            control.set_epoch_scores(epoch, {key: scores[epoch - 1], "train_loss_ctc": 2 * scores[epoch - 1]})
    return result


SCORES = [10.0, 9.0, 8.95, 8.0, 8.0]


def test_constant_keeps_learning_rate() -> None:
    assert rates({"learning_rate": 0.3}, SCORES) == [0.3] * 6


def test_constant_carries_the_last_predefined_rate_forward_like_returnn() -> None:
    # RETURNN's ConstantLearningRate takes the previous epoch's rate, not `learning_rate`, after a warmup list
    config = {"learning_rate": 1.0, "learning_rates": [0.1, 0.2]}
    assert rates(config, SCORES[:3]) == [0.1, 0.2, 0.2, 0.2]


def test_newbob_relative() -> None:
    # e1: no history -> 1.0; e2: nothing to compare -> 1.0; e3: rel(1,2) = -1/9 = -0.111 -> keep;
    # e4: rel(2,3) = -0.05/8.95 = -0.0056 > -0.01 -> decay 0.5; e5: rel(3,4) = -0.95/8 -> keep; e6: rel(4,5) = 0 -> 0.25
    expected = [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    assert rates({"learning_rate_control": "newbob_rel"}, SCORES) == expected
    assert rates({"learning_rate_control": "newbob"}, SCORES) == expected  # RETURNN's alias


def test_newbob_absolute_differs_from_relative_on_the_same_scores() -> None:
    # differences: e3 -1.0, e4 -0.05, e5 -0.95, e6 0.0; only 0.0 > -0.01 decays
    assert rates({"learning_rate_control": "newbob_abs"}, SCORES) == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    # with threshold -0.1 the -0.05 step of epoch 3 -> 4 is not enough either: decay at e4 and e6
    config = {"learning_rate_control": "newbob_abs", "newbob_error_threshold": -0.1}
    assert rates(config, SCORES) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]


def test_newbob_relative_threshold_and_decay_factor() -> None:
    # threshold -0.2: only rel <= -0.2 keeps the rate: e3 (-0.111) decays already; decay factor 0.8
    config = {
        "learning_rate_control": "newbob_rel",
        "newbob_relative_error_threshold": -0.2,
        "newbob_learning_rate_decay": 0.8,
        "learning_rate": 0.5,
    }
    assert rates(config, SCORES) == pytest.approx([0.5, 0.5, 0.4, 0.32, 0.256, 0.2048], rel=0, abs=1e-15)


def test_relative_error_divided_by_old_score() -> None:
    # rel(1,2) = -1/10 with div_by_old; threshold -0.105: -0.1 > -0.105 -> decay at e3 (but -1/9 would keep)
    config = {"learning_rate_control": "newbob_rel", "newbob_relative_error_threshold": -0.105}
    assert rates(config, SCORES[:2])[2] == 1.0
    config["newbob_relative_error_div_by_old"] = True
    assert rates(config, SCORES[:2])[2] == 0.5


def test_relative_error_relative_to_learning_rate() -> None:
    scores = [10.0, 9.0, 8.95, 8.0, 7.95]
    # e4: rel(2,3) = -0.0056 -> 0.5; e6: rel(4,5) = -0.05/7.95 = -0.00629 -> decay to 0.25 ...
    assert rates({"learning_rate_control": "newbob_rel"}, scores)[5] == 0.25
    # ... unless divided by (current lr 0.5 / learning_rate 1.0): -0.0126 <= -0.01 keeps 0.5
    config = {"learning_rate_control": "newbob_rel", "learning_rate_control_relative_error_relative_lr": True}
    assert rates(config, scores) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]


def test_min_learning_rate_bounds_decays_only() -> None:
    flat = [5.0] * 5  # rel = 0 every epoch: decay from epoch 3 on
    config = {"learning_rate_control": "newbob_rel", "min_learning_rate": 0.3}
    assert rates(config, flat) == [1.0, 1.0, 0.5, 0.3, 0.3, 0.3]
    config["learning_rates"] = {5: 0.1}  # a predefined rate below min_learning_rate is used as given
    assert rates(config, flat) == [1.0, 1.0, 0.5, 0.3, 0.1, 0.3]


def test_min_num_epochs_per_new_learning_rate() -> None:
    # keep=3: e2, e3 have < 3 past epochs; e4 sees [1,1,1] -> rule -> decay; e5 [1,1,.5] and e6 [1,.5,.5] have
    # two rates -> keep; e7 sees [.5,.5,.5] -> rule -> decay
    config = {"learning_rate_control": "newbob_rel", "learning_rate_control_min_num_epochs_per_new_lr": 3}
    assert rates(config, [5.0] * 6) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]


def test_newbob_multi_epoch() -> None:
    scores = [10.0, 9.0, 8.9, 8.85, 8.85, 8.8]
    # interval 2: updates at e1, e3, e5, e7. e3: mean(rel(1,2)) = -0.111 -> keep. e5: mean(rel(2,3), rel(3,4)) =
    # mean(-0.1/8.9, -0.05/8.85) = mean(-0.011236, -0.005650) = -0.008443 > -0.01 -> 0.5.
    # e7: mean(rel(4,5), rel(5,6)) = mean(0, -0.05/8.8) = -0.00284 -> 0.25
    config = {
        "learning_rate_control": "newbob_multi_epoch",
        "newbob_multi_num_epochs": 2,
        "newbob_multi_update_interval": 2,
    }
    assert rates(config, scores) == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    # the update interval defaults to newbob_multi_num_epochs
    del config["newbob_multi_update_interval"]
    assert rates(config, scores) == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    # growth when the mean relative error is below the grow threshold (default: the decay threshold): e3 grows
    config["newbob_learning_rate_growth"] = 2.0
    assert rates(config, scores) == [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 0.5]


def test_learning_rates_reset_and_warmup() -> None:
    flat = [5.0] * 6
    config = {"learning_rate_control": "newbob_rel", "learning_rates": {1: 0.1, 5: 1.0}}
    # e1 predefined 0.1; e2 nothing to compare; e3, e4 decay; e5 reset to 1.0; e6 rel(4,5) = 0 -> decay
    assert rates(config, flat) == [0.1, 0.1, 0.05, 0.025, 1.0, 0.5, 0.25]
    # the same resets written as a {epoch: lr} schedule of learning_rate
    config = {"learning_rate_control": "newbob_rel", "learning_rate": {1: 0.1, 5: 1.0}}
    assert rates(config, flat) == [0.1, 0.1, 0.05, 0.025, 1.0, 0.5, 0.25]


def test_learning_rates_list_counts_from_epoch_1() -> None:
    config = {"learning_rate_control": "newbob_rel", "learning_rate": 1.0, "learning_rates": [0.25, 0.5, 1.0]}
    assert rates(config, [5.0, 4.0, 3.0, 2.9999]) == [0.25, 0.5, 1.0, 1.0, 0.5]


def test_same_epoch_in_learning_rates_and_schedule_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"epochs \[5\] get a learning rate from both"):
        make_learning_rate_control(
            _settings({"learning_rates": {5: 0.1}, "learning_rate": {1: 1.0, 5: 0.5}}), path=None
        )


def test_default_error_measure_is_the_first_dev_score() -> None:
    control = make_learning_rate_control(_settings({"learning_rate_control": "newbob_rel"}), path=None)
    control.set_epoch_scores(1, {"train_loss_ctc": 1.0, "dev_loss_ctc": 2.0, "dev_loss_aux": 3.0})
    assert control.error_key(1) == "dev_loss_aux"
    control.set_epoch_scores(2, {"train_loss_ctc": 1.0})
    assert control.error_key(2) == "train_loss_ctc"  # no dev set: the first remaining score


def test_error_measure_selects_the_score_and_tries_the_output_suffix() -> None:
    config = {"learning_rate_control": "newbob_rel", "learning_rate_control_error_measure": "dev_loss_ctc"}
    # by dev_loss_ctc (default key in `rates` is dev_loss_ctc; train_loss_ctc = 2x) -> same as the default
    assert rates(config, SCORES) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    control = make_learning_rate_control(_settings({"learning_rate_control_error_measure": "dev_score"}), path=None)
    control.set_epoch_scores(1, {"dev_score_output": 1.0, "dev_error_output": 0.2})
    assert control.error_key(1) == "dev_score_output"


def test_missing_error_measure_lists_the_available_scores(tmp_path: Path) -> None:
    path = tmp_path / "model.learning_rates"
    config = {"learning_rate_control": "newbob_rel", "learning_rate_control_error_measure": "dev_loss_output"}
    control = make_learning_rate_control(_settings(config), path=path)
    control.learning_rate_for_epoch(1)
    control.set_epoch_scores(1, {"dev_loss_ctc": 2.0, "train_loss_ctc": 3.0})
    control.save()
    # fails when epoch 2 starts, although newbob_rel would only compare scores from epoch 3 on
    with pytest.raises(ConfigError) as info:
        control.learning_rate_for_epoch(2)
    message = str(info.value)
    assert "learning_rate_control_error_measure 'dev_loss_output'" in message
    assert "its scores are: dev_loss_ctc, train_loss_ctc" in message
    assert str(path) in message


def test_constant_control_ignores_a_missing_error_measure() -> None:
    config = {"learning_rate_control_error_measure": "nonexistent", "learning_rate": 0.5}
    assert rates(config, SCORES) == [0.5] * 6


def test_stored_rate_wins_which_is_how_hand_edits_work(tmp_path: Path) -> None:
    path = tmp_path / "lr"
    write_scores(
        path,
        {1: EpochData(1.0, {"dev_loss_ctc": 5.0}), 2: EpochData(1.0, {"dev_loss_ctc": 5.0}), 3: EpochData(0.123, {})},
    )  # the user wrote the rate of epoch 3 by hand
    control = make_learning_rate_control(_settings({"learning_rate_control": "newbob_rel"}), path=path)
    assert control.learning_rate_for_epoch(3) == 0.123
    assert control.reasons[3] == f"as stored in {path}"
    control.set_epoch_scores(3, {"dev_loss_ctc": 5.0})
    assert control.learning_rate_for_epoch(4) == 0.0615  # and Newbob continues from the edited rate
    control.save()
    assert read_scores(path)[4].learning_rate == 0.0615


def test_decay_function_and_zero_scores() -> None:
    config = {"learning_rate_control": "newbob_rel", "newbob_learning_rate_decay": lambda lr: lr - 0.25}
    assert rates(config, [0.0, 0.0, 0.0]) == [1.0, 1.0, 0.75, 0.5]  # 0 -> 0: relative change 0, not a crash


def test_bad_combinations_fail_before_training() -> None:
    with pytest.raises(ConfigError, match="nothing left for learning_rate_control='newbob'"):
        make_learning_rate_control(
            _settings({"learning_rate_control": "newbob", "learning_rate": lambda *, epoch, step: 1.0}),
            path=None,
        )
    with pytest.raises(ConfigError, match="grow threshold"):
        grows = {"learning_rate_control": "newbob_multi_epoch", "newbob_relative_error_grow_threshold": 0.1}
        make_learning_rate_control(_settings(grows), path=None)
    with pytest.raises(ConfigError, match="learning_rate_control"):
        Config.from_dict({"learning_rate_control": "newbobb"})
