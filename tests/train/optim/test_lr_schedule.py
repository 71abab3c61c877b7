"""Per-step learning rates: warmup/hold/decay shapes (hand-derived values), dynamic_learning_rate, the product."""

from __future__ import annotations

import math
from typing import Any

import pytest

from seqtrain.config import Config
from seqtrain.config.settings import OptimizerSettings
from seqtrain.errors import ConfigError
from seqtrain.train.optim.lr_schedule import StepLearningRate, parse_step_shape
from seqtrain.train.optim.lr_setup import epoch_learning_rate, make_learning_rate_control, step_learning_rate


def _settings(config: dict[str, Any]) -> OptimizerSettings:
    return OptimizerSettings.from_config(Config.from_dict(config))


def factors(spec: dict[str, Any], steps: int) -> list[float]:
    shape = parse_step_shape(spec)
    assert shape is not None
    return [shape.factor(s) for s in range(steps)]


def test_linear_warmup_reaches_1_on_its_last_step() -> None:
    assert factors({"warmup_steps": 4}, 6) == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert factors({"warmup_steps": 4, "init_scale": 0.2}, 5) == pytest.approx([0.4, 0.6, 0.8, 1.0, 1.0])


def test_exponential_warmup() -> None:
    # init ** (1 - (s+1)/W): 0.01 ** 0.75, 0.01 ** 0.5, 0.01 ** 0.25, 1
    assert factors({"warmup_steps": 4, "warmup": "exponential", "init_scale": 0.01}, 5) == pytest.approx(
        [10**-1.5, 0.1, 10**-0.5, 1.0, 1.0]
    )


def test_hold_then_linear_decay_to_final_scale() -> None:
    spec = {"warmup_steps": 2, "hold_steps": 3, "decay": "linear", "decay_steps": 4, "final_scale": 0.2}
    # warmup 0.5, 1 | hold 1, 1, 1 | decay t=1..4: 1 - 0.8 t / 4 | then final
    assert factors(spec, 11) == pytest.approx([0.5, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.2, 0.2])


def test_cosine_decay() -> None:
    c = (1 + math.cos(math.pi / 4)) / 2
    assert factors({"decay": "cosine", "decay_steps": 4}, 6) == pytest.approx([c, 0.5, 1 - c, 0.0, 0.0, 0.0])
    assert factors({"decay": "cosine", "decay_steps": 2, "final_scale": 0.5}, 3) == pytest.approx([0.75, 0.5, 0.5])


def test_exponential_and_step_decay() -> None:
    spec = {"decay": "exponential", "decay_steps": 2, "decay_rate": 0.5}
    assert factors(spec, 4) == pytest.approx([0.5**0.5, 0.5, 0.5**1.5, 0.25])
    assert factors({**spec, "final_scale": 0.3}, 4)[3] == 0.3
    assert factors({**spec, "decay": "step"}, 5) == [1.0, 0.5, 0.5, 0.25, 0.25]


def test_inverse_sqrt_after_linear_warmup_is_noams_schedule() -> None:
    # Noam, normalised to peak 1: min(n / W, sqrt(W / n)) for the n-th step (n = s + 1)
    got = factors({"warmup_steps": 4, "decay": "inverse_sqrt"}, 40)
    assert got == pytest.approx([min((s + 1) / 4, math.sqrt(4 / (s + 1))) for s in range(40)], rel=1e-15)
    assert factors({"decay": "inverse_sqrt", "decay_steps": 9}, 8)[7] == pytest.approx(math.sqrt(9 / 17))


def test_epoch_rate_times_step_shape() -> None:
    rate = StepLearningRate(
        epoch=2, epoch_learning_rate=0.5, first_step=10, num_batches=5, shape=parse_step_shape({"warmup_steps": 20})
    )
    assert [rate(s) for s in (10, 11, 19, 25)] == [0.5 * 11 / 20, 0.5 * 12 / 20, 0.5, 0.5]


def test_dynamic_learning_rate_gets_step_epoch_progress_and_the_rate() -> None:
    calls = []

    def dynamic_learning_rate(*, global_train_step, epoch, epoch_continuous, learning_rate, **kwargs):
        calls.append((global_train_step, epoch, epoch_continuous, learning_rate))
        return learning_rate * (2.0 if global_train_step % 2 else 1.0)

    rate = StepLearningRate(
        epoch=3,
        epoch_learning_rate=0.1,
        first_step=8,
        num_batches=4,
        shape=parse_step_shape({"warmup_steps": 10}),
        dynamic=dynamic_learning_rate,
    )
    assert [rate(s) for s in (8, 9, 11)] == pytest.approx([0.09, 0.2, 0.2])
    flat = [x for call in calls for x in call]
    assert flat == pytest.approx([8, 3, 2.0, 0.09, 9, 3, 2.25, 0.1, 11, 3, 2.75, 0.1])


def test_dynamic_learning_rate_without_kwargs_and_bad_results() -> None:
    rate = StepLearningRate(1, 0.5, 0, 10, dynamic=lambda *, global_train_step: 1.0 / (global_train_step + 1))
    assert rate(3) == 0.25
    for bad in (None, "x", -1.0, math.nan):
        broken = StepLearningRate(1, 0.5, 0, 10, dynamic=lambda **_: bad)  # noqa: B023
        with pytest.raises(ConfigError, match=r"dynamic_learning_rate returned .* at global_train_step=3"):
            broken(3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"warmup_step": 10}, "unknown field 'warmup_step'; did you mean 'warmup_steps'"),
        ({"warmup_steps": 10, "warmup": "exponential"}, "exponential warmup needs 'init_scale' > 0"),
        ({"warmup": "cubic"}, r"\['warmup'\]: 'cubic' is not one of"),
        ({"decay": "cosine"}, "decay 'cosine' needs 'decay_steps' > 0"),
        ({"decay": "inverse_sqrt"}, "time scale"),
        ({"decay": "step", "decay_steps": 10}, "needs 'decay_rate' in"),
        ({"warmup_steps": 2.5}, r"\['warmup_steps'\]: got 2.5, expected int"),
        ({"final_scale": 2.0}, "factors of the LR in"),
    ],
)
def test_step_schedule_mistakes_name_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_step_shape(spec)


def test_step_schedule_is_checked_when_training_starts() -> None:
    with pytest.raises(ConfigError, match="learning_rate_step_schedule"):
        make_learning_rate_control(_settings({"learning_rate_step_schedule": {"decay": "cos"}}), path=None)


def test_learning_rate_as_function_of_step_is_every_steps_rate() -> None:
    config = Config.from_dict(
        {"learning_rate": lambda *, epoch, step: 0.001 * (step + 1), "learning_rate_step_schedule": {"warmup_steps": 4}}
    )
    opt = OptimizerSettings.from_config(config)
    control = make_learning_rate_control(opt, path=None)
    lr = epoch_learning_rate(control, opt, opt, epoch=2, first_step=10)
    assert lr == pytest.approx(0.011)  # what the learning-rate file records: the rate at the epoch's first step
    rate = step_learning_rate(opt, epoch=2, epoch_learning_rate=lr, first_step=10, num_batches=5)
    assert rate(12) == pytest.approx(0.013)  # f(step) times the (finished) warmup
    assert rate.__class__ is StepLearningRate


def test_net_dict_config_sets_the_rate_of_its_epoch() -> None:
    config = Config.from_dict({"learning_rate": 0.1, "learning_rate_control": "newbob_rel"})
    opt = OptimizerSettings.from_config(config)
    control = make_learning_rate_control(opt, path=None)
    assert epoch_learning_rate(control, opt, opt, epoch=1, first_step=0) == 0.1
    epoch_config = config.with_values({"learning_rate": 0.02})  # what get_network's "#config" does
    epoch_opt = OptimizerSettings.from_config(epoch_config)
    assert epoch_learning_rate(control, opt, epoch_opt, epoch=2, first_step=7) == 0.02
    assert control.reasons[2] == "#config of this epoch"


def test_lengths_in_epochs_follow_the_continuous_epoch_whatever_the_batches_per_epoch() -> None:
    """Warmup over 1 epoch, cosine to the end of epoch 3: the same curve whether an epoch has 4 or 5 batches."""
    shape = parse_step_shape({"warmup_epochs": 1.0, "decay": "cosine", "decay_epochs": 2.0, "final_scale": 0.1})
    assert shape is not None and shape.unit == "epochs"
    first = StepLearningRate(epoch=1, epoch_learning_rate=1.0, first_step=0, num_batches=4, shape=shape)
    assert [first(s) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    second = StepLearningRate(epoch=2, epoch_learning_rate=1.0, first_step=4, num_batches=5, shape=shape)
    cosine = [0.1 + 0.9 * (1 + math.cos(math.pi * (k / 5) / 2)) / 2 for k in range(1, 6)]
    assert [second(s) for s in range(4, 9)] == pytest.approx(cosine)  # half the decay after epoch 2
    third = StepLearningRate(epoch=3, epoch_learning_rate=1.0, first_step=9, num_batches=3, shape=shape)
    assert third(11) == pytest.approx(0.1)  # final_scale at the end of epoch 3
    assert StepLearningRate(4, 1.0, 12, 3, shape=shape)(13) == pytest.approx(0.1)


def test_epoch_lengths_may_be_fractions_and_noam_defaults_to_the_warmup() -> None:
    shape = parse_step_shape({"warmup_epochs": 0.5, "decay": "inverse_sqrt"})
    assert shape is not None and shape.decay_len == 0.5
    rate = StepLearningRate(epoch=1, epoch_learning_rate=1.0, first_step=0, num_batches=4, shape=shape)
    assert [rate(s) for s in range(4)] == pytest.approx([0.5, 1.0, math.sqrt(0.5 / 0.75), math.sqrt(0.5 / 1.0)])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"warmup_epochs": 1.0, "decay_steps": 100, "decay": "cosine"}, r"\['decay_steps', 'warmup_epochs'\] mix"),
        ({"decay": "cosine", "warmup_epochs": 1.0}, "decay 'cosine' needs 'decay_epochs' > 0, how many epochs"),
        ({"warmup_epochs": "2"}, r"\['warmup_epochs'\]: got '2', expected float"),
        ({"hold_epochs": -1.0}, "warmup_epochs, hold_epochs and decay_epochs must be >= 0"),
        ({"warmup_epoch": 1.0}, "unknown field 'warmup_epoch'; did you mean 'warmup_epochs'"),
    ],
)
def test_epoch_length_mistakes_name_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_step_shape(spec)
