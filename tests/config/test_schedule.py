from __future__ import annotations

import pytest

from seqtrain.config import Config
from seqtrain.errors import ConfigError


def test_constant() -> None:
    config = Config.from_dict({"gradient_clip": 5.0})
    assert [config.at("gradient_clip", epoch=e) for e in (1, 10)] == [5.0, 5.0]


def test_epoch_dict_is_piecewise_constant_with_default_before_first_entry() -> None:
    config = Config.from_dict({"gradient_clip": {3: 10.0, 5: 1.0}})
    assert [config.at("gradient_clip", epoch=e) for e in range(1, 7)] == [0.0, 0.0, 10.0, 10.0, 1.0, 1.0]


def test_function_of_epoch_and_step() -> None:
    config = Config.from_dict({"batch_size": lambda *, epoch, step: 1000 * epoch + step})
    assert config.at("batch_size", epoch=2, step=7) == 2007
    assert config.is_step_dependent("batch_size")


def test_schedule_result_is_type_checked() -> None:
    config = Config.from_dict({"batch_size": lambda *, epoch, step: "big"})
    with pytest.raises(ConfigError, match="schedule function returned 'big'"):
        config.at("batch_size", epoch=1)


def test_schedule_values_are_type_checked() -> None:
    with pytest.raises(ConfigError, match="for epoch 2"):
        Config.from_dict({"gradient_clip": {1: 1.0, 2: "x"}})
    with pytest.raises(ConfigError, match="epochs count from 1"):
        Config.from_dict({"gradient_clip": {0: 1.0}})


def test_non_schedulable_key_rejects_schedule() -> None:
    with pytest.raises(ConfigError, match="num_epochs"):
        Config.from_dict({"num_epochs": {1: 3}})


def test_per_key_dict_is_a_value_not_a_schedule() -> None:
    config = Config.from_dict({"max_seq_length": {"data": 100}})
    assert config.at("max_seq_length", epoch=3) == {"data": 100}
