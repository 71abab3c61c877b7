"""The config as typed, frozen settings per concern: every key in exactly one place, schedules as `.at()`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from seqtrain.config import Config, all_keys, load_config
from seqtrain.config.settings import Scheduled, Settings, concern_of, keys_by_concern
from seqtrain.errors import ConfigError


def test_every_key_is_a_field_of_exactly_one_concern() -> None:
    settings = Settings.from_config(Config.from_dict({}))
    fields = {}
    for concern in dataclasses.fields(settings):
        for f in dataclasses.fields(getattr(settings, concern.name)):
            assert f.name not in fields, f"{f.name} in {fields.get(f.name)} and {concern.name}"
            fields[f.name] = concern.name
    assert set(fields) == {k.name for k in all_keys()}
    assert all(concern_of(name) == concern for name, concern in fields.items())
    assert sum(len(v) for v in keys_by_concern().values()) == len(fields)


def test_values_defaults_and_schedules() -> None:
    config = Config.from_dict(
        {"batch_size": {1: 1000, 3: 4000}, "gradient_clip": lambda *, epoch, step: 0.5 * step, "num_epochs": 7}
    )
    settings = Settings.from_config(config)
    assert settings.run.num_epochs == 7 and settings.run.random_seed == 42  # set, default
    assert isinstance(settings.data.batch_size, Scheduled)
    assert [settings.data.batch_size.at(e) for e in (1, 2, 3)] == [1000, 1000, 4000]
    assert not settings.data.batch_size.step_dependent and settings.optimizer.gradient_clip.step_dependent
    assert settings.optimizer.gradient_clip.at(2, step=4) == 2.0
    assert settings.optimizer.learning_rate.at(1) == Config.from_dict({}).get("learning_rate")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.run.num_epochs = 8  # type: ignore[misc]


def test_a_schedule_function_with_a_bad_value_fails_when_asked() -> None:
    settings = Settings.from_config(Config.from_dict({"gradient_noise": lambda *, epoch, step: -1.0}))
    with pytest.raises(ConfigError, match=r"'gradient_noise': -1.0 .* must be >= 0"):
        settings.optimizer.gradient_noise.at(1, 5)


def test_describe_resolves_the_epoch_and_names_origins(tmp_path: Path) -> None:
    path = tmp_path / "config.py"
    path.write_text("learning_rate = 0.1\ngradient_clip = {1: 5.0, 3: 0.0}\n")
    config = load_config(path, ["max_seqs=7"])
    text = Settings.from_config(config).describe(config, epoch=3)
    assert "# seqtrain settings for epoch 3" in text and "[optimizer]  # OptimizerSettings" in text
    assert "gradient_clip = 0.0  # config" in text and "max_seqs = 7  # override" in text
    assert "learning_rate = 0.1  # config" in text and "num_workers = 1  # default" in text
    assert text.index("[data]") < text.index("max_seqs = 7") < text.index("[model]")


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("align_states_per_label", 0, "must be >= 1"),
        ("align_frame_subsampling", 0, "must be >= 1"),
        ("align_silence_weight", 0.0, "must be > 0"),
        ("align_blank_index", -1, "must be >= 0"),
        ("align_transition_scores", {"loops": -1.0}, "unknown keys ['loops']; allowed: ['loop', 'forward', 'skip']"),
        ("recog_prior_scale", -0.5, "must be >= 0"),
        ("recog_beam_size", 0, "must be >= 1"),
        ("recog_max_symbols_per_frame", 0, "must be >= 1"),
        ("recog_blank_index", -2, "must be >= 0"),
        ("newbob_multi_num_epochs", 0, "must be >= 1"),
        ("newbob_multi_update_interval", 0, "must be >= 1"),
    ],
)
def test_range_checks_live_with_the_key_and_fail_at_load(key: str, value: object, problem: str) -> None:
    """Formerly checked where the value was used (some only when recog/align or a late epoch ran)."""
    with pytest.raises(ConfigError) as info:
        Config.from_dict({key: value})
    assert f"'{key}'" in str(info.value)
    assert problem in str(info.value)
