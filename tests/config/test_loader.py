from __future__ import annotations

from pathlib import Path

import pytest

from seqtrain.config import Config, load_config, parse_override
from seqtrain.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.py"
    path.write_text(text)
    return path


def test_unknown_key_suggests_closest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rte'.*did you mean 'learning_rate'"):
        load_config(_write(tmp_path, "learning_rte = 0.1\n"))


def test_wrong_type_names_key_value_and_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'num_epochs': got '3' of type str, expected int"):
        load_config(_write(tmp_path, "num_epochs = '3'\n"))


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "num_epochs = 'x'\nbatch_sise = 3\n"))
    assert "num_epochs" in str(info.value) and "batch_sise" in str(info.value)


def test_private_names_imports_and_helpers_are_allowed(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            "import os\nimport math as _m\n_DIM = 40\n\n"
            "def make_layers(n):\n    return n\n\n"
            "class MyDataset:\n    pass\n\n"
            "num_epochs = make_layers(4)\n",
        )
    )
    assert config.get("num_epochs") == 4
    assert "make_layers" in config.helpers and "MyDataset" in config.helpers


def test_misspelled_hook_function_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'get_netwrok' is not a known hook.*'get_network'"):
        load_config(_write(tmp_path, "def get_netwrok(epoch):\n    return {}\n"))


def test_config_file_exception_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cfg.py failed to execute: ZeroDivisionError"):
        load_config(_write(tmp_path, "x = 1 / 0\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.py")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("learning_rate=0.001", ("learning_rate", 0.001)),
        ("optimizer={'class': 'adam'}", ("optimizer", {"class": "adam"})),
        ("model=exp/run1/model", ("model", "exp/run1/model")),
        ("device=cpu", ("device", "cpu")),
        ("max_seq_length=None", ("max_seq_length", None)),
    ],
)
def test_parse_override(text: str, expected: tuple) -> None:
    assert parse_override(text) == expected


def test_override_wins_and_is_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, "learning_rate = 0.1\nnum_epochs = 2\n")
    config = load_config(path, ["learning_rate=0.5"])
    assert config.get("learning_rate") == 0.5 and config.get("num_epochs") == 2
    assert config.overrides == {"learning_rate": 0.5}
    with pytest.raises(ConfigError, match="did you mean 'num_epochs'"):
        load_config(path, ["num_epoch=3"])
    with pytest.raises(ConfigError, match="expected int"):
        load_config(path, ["num_epochs=lots"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(path, ["num_epochs"])


def test_fingerprint_changes_with_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, "num_epochs = 2\n")
    assert load_config(path).fingerprint() == load_config(path).fingerprint()
    assert load_config(path).fingerprint() != load_config(path, ["num_epochs=3"]).fingerprint()


def test_resolved_text_marks_origin(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "num_epochs = 2\n"), ["learning_rate=0.5"])
    text = config.resolved_text()
    assert "num_epochs = 2  # config" in text
    assert "learning_rate = 0.5  # override" in text
    assert "batch_size = 5000  # default" in text


def test_with_values_checks_types() -> None:
    config = Config.from_dict({"num_epochs": 2})
    assert config.with_values({"gradient_clip": 10}).get("gradient_clip") == 10
    with pytest.raises(ConfigError):
        config.with_values({"gradient_clip": "high"})
