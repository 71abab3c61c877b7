"""The resolved-config dump: stable across runs (no object addresses), so a resume reports real changes only."""

from __future__ import annotations

from pathlib import Path

from seqtrain.config.config import describe_value
from seqtrain.config.loader import load_config
from seqtrain.train.config_snapshot import config_diff

NET_WITH_OBJECTS = """
from seqtrain.model.pretrain import WrapEpochValue

def _double(x):
    return 2 * x

network = {
    "scale": {"class": "eval", "from": "data", "eval": _double},
    "lstm": {"class": "blstm", "from": "scale", "n_out": WrapEpochValue(lambda epoch: 2 * epoch)},
    "output": {"class": "softmax", "from": "lstm", "n_out": 4, "loss": "ce", "target": "classes"},
}
"""


def test_values_inside_dicts_and_lists_are_described_without_addresses() -> None:
    class Thing:
        pass

    text = describe_value({"a": [describe_value, Thing(), (1,)], "b": (Thing,)})
    assert " at 0x" not in text
    assert text.startswith("{'a': [<function describe_value, line ")
    assert "(1,)]" in text


def test_loading_the_same_net_dict_twice_gives_no_difference(tmp_path: Path) -> None:
    config_file = tmp_path / "config.py"
    config_file.write_text(NET_WITH_OBJECTS)
    first, second = (load_config(config_file, []).resolved_text() for _ in range(2))
    assert config_diff(first, second) == []
    changed = load_config(config_file, ["num_epochs=3"]).resolved_text()
    assert config_diff(first, changed) == ["num_epochs 1 → 3"]
