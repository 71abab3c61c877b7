from __future__ import annotations

import json
from pathlib import Path

from tests.corpus import write_config
from tests.train.helpers import run_cli


def test_epoch_start_and_end_are_called_per_dataset_in_order(tiny_corpus: dict, tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    extra = f"""
import json as _json

def _record(kind, epoch, step, model, dataset_name):
    with open({str(calls)!r}, "a") as f:
        f.write(_json.dumps([kind, epoch, step, dataset_name, type(model).__name__]) + "\\n")

def epoch_start(*, epoch, step, model, dataset_name, **_kwargs):
    _record("start", epoch, step, model, dataset_name)

def epoch_end(*, epoch, step, model, dataset_name):
    _record("end", epoch, step, model, dataset_name)
"""
    config = write_config(tmp_path, tiny_corpus, num_epochs=2, extra=extra)
    assert run_cli("train", config) == 0
    got = [json.loads(line) for line in calls.read_text().splitlines()]
    steps_per_epoch = got[1][2]  # global step after epoch 1
    assert steps_per_epoch > 0
    assert got == [
        ["start", 1, 0, "train", "_Model"],
        ["end", 1, steps_per_epoch, "train", "_Model"],
        ["start", 1, steps_per_epoch, "dev", "_Model"],
        ["end", 1, steps_per_epoch, "dev", "_Model"],
        ["start", 2, steps_per_epoch, "train", "_Model"],
        ["end", 2, 2 * steps_per_epoch, "train", "_Model"],
        ["start", 2, 2 * steps_per_epoch, "dev", "_Model"],
        ["end", 2, 2 * steps_per_epoch, "dev", "_Model"],
    ]
