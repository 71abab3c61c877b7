"""Same scores, same rates as RETURNN: seqtrain's control against RETURNN's own `learning_rate_control.py`.

RETURNN runs in a subprocess (its config and log are global state): the test environment's own Python,
where the dev extras install RETURNN, or `SEQTRAIN_RETURNN_PYTHON`. RETURNN is no dependency of seqtrain.
"""

from __future__ import annotations

import importlib.util
import math
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from seqtrain.config import Config
from seqtrain.config.settings import OptimizerSettings
from seqtrain.train.optim.lr_setup import make_learning_rate_control

RETURNN_PYTHON = Path(
    os.environ.get("SEQTRAIN_RETURNN_PYTHON")
    or (sys.executable if importlib.util.find_spec("returnn") else "/work/.venv-returnn/bin/python")
)

RETURNN_SIDE = textwrap.dedent(
    """
    import sys
    from returnn.log import log
    log.initialize(verbosity=[0])
    from returnn.config import Config
    from returnn.learning_rate_control import load_learning_rate_control_from_config
    cases = eval(open(sys.argv[1]).read(), {"nan": float("nan")})
    out = []
    for case in cases:
        config = Config()
        config.update(case["config"])
        control = load_learning_rate_control_from_config(config)
        lrs = []
        for epoch, scores in enumerate(case["scores"], start=1):
            lrs.append(control.get_learning_rate_for_epoch(epoch))
            control.set_epoch_error(epoch, scores)
        out.append(lrs)
    open(sys.argv[2], "w").write(repr(out))
    """
)


def _settings(config: dict[str, Any]) -> OptimizerSettings:
    return OptimizerSettings.from_config(Config.from_dict(config))


def _random_case(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["constant", "newbob", "newbob_rel", "newbob_abs", "newbob_multi_epoch"])
    lr = rng.choice([1.0, 0.001, 0.5, 3e-4])
    config: dict[str, Any] = {"learning_rate_control": kind, "learning_rate": lr}
    options = {
        "newbob_learning_rate_decay": [0.5, 0.7, 0.9],
        "newbob_learning_rate_growth": [1.0, 1.1, 1.5],
        "newbob_relative_error_threshold": [-0.01, 0.0, -0.05, 0.01],
        "newbob_error_threshold": [-0.01, 0.0, -0.1, 0.05],
        "newbob_multi_num_epochs": [1, 2, 3, 5, 9],
        "newbob_multi_update_interval": [1, 2, 3],
        "learning_rate_control_relative_error_relative_lr": [True],
        "learning_rate_control_min_num_epochs_per_new_lr": [2, 3, 4],
        "newbob_relative_error_div_by_old": [True],
        "min_learning_rate": [lr * 0.1, lr * 0.3],
    }
    for name, values in options.items():
        if rng.random() < 0.35:
            config[name] = rng.choice(values)
    if rng.random() < 0.4:
        lrs = [lr * rng.choice([0.1, 0.3, 1.0, 2.0]) for _ in range(rng.randint(1, 5))]
        config["learning_rates"] = lrs if rng.random() < 0.5 else {rng.randint(1, 25): v for v in lrs}
    if kind == "newbob_multi_epoch" and rng.random() < 0.5:
        threshold = config.get("newbob_relative_error_threshold", -0.01)
        config["newbob_relative_error_grow_threshold"] = threshold - rng.choice([0.0, 0.02, 0.1])
    vary_keys = rng.random() < 0.5  # epochs without the usual key: RETURNN falls back, and so do we
    if not vary_keys and rng.random() < 0.5:
        config["learning_rate_control_error_measure"] = "dev_score"  # found as dev_score_output
    score, scores = 5.0, []
    for _ in range(rng.randint(2, 30)):
        score *= rng.choice([0.5, 0.9, 0.99, 0.995, 1.0, 1.01, 1.2])
        epoch_scores = {"dev_score_output": score, "train_score": score * 0.9, "dev_error_output": rng.random()}
        if vary_keys and rng.random() < 0.2:
            del epoch_scores["dev_score_output"]
        if rng.random() < 0.03:
            epoch_scores["dev_score_output"] = math.nan
        scores.append(epoch_scores)
    return {"config": config, "scores": scores}


def _seqtrain_rates(case: dict[str, Any]) -> list[float]:
    control = make_learning_rate_control(_settings(case["config"]), path=None)
    result = []
    for epoch, scores in enumerate(case["scores"], start=1):
        result.append(control.learning_rate_for_epoch(epoch))
        control.set_epoch_scores(epoch, scores)
    return result


@pytest.mark.skipif(not RETURNN_PYTHON.is_file(), reason=f"no Python with RETURNN at {RETURNN_PYTHON}")
def test_same_rates_as_returnn_on_random_score_sequences(tmp_path: Path) -> None:
    rng = random.Random(2024)
    cases = [_random_case(rng) for _ in range(300)]
    (tmp_path / "cases.py").write_text(repr(cases))
    (tmp_path / "returnn_side.py").write_text(RETURNN_SIDE)
    subprocess.run(
        [str(RETURNN_PYTHON), str(tmp_path / "returnn_side.py"), str(tmp_path / "cases.py"), str(tmp_path / "out")],
        check=True,
        timeout=120,
        cwd=tmp_path,
    )
    theirs = eval((tmp_path / "out").read_text())
    mismatches = [(c["config"], _seqtrain_rates(c), ref) for c, ref in zip(cases, theirs) if _seqtrain_rates(c) != ref]
    assert not mismatches, f"{len(mismatches)} of {len(cases)} differ, first: {mismatches[0]}"
    kinds = {c["config"]["learning_rate_control"] for c in cases}
    assert kinds == {"constant", "newbob", "newbob_rel", "newbob_abs", "newbob_multi_epoch"}
    assert sum(len(set(ref)) > 1 for ref in theirs) > 100  # most sequences actually change the rate


RETURNN_RESAVE = textwrap.dedent(
    """
    import sys
    from returnn.log import log
    log.initialize(verbosity=[0])
    from returnn.learning_rate_control import ConstantLearningRate
    control = ConstantLearningRate(default_learning_rate=1.0, filename=sys.argv[1])
    assert control.epoch_data[2].meta == {"global_train_step": 120, "hostname": "node3"}, control.epoch_data[2].meta
    control.filename = sys.argv[2]
    control.save()
    """
)


@pytest.mark.skipif(not RETURNN_PYTHON.is_file(), reason=f"no Python with RETURNN at {RETURNN_PYTHON}")
def test_returnn_reads_our_file_and_writes_it_back_identically(tmp_path: Path) -> None:
    from seqtrain.train.optim.lr_file import EpochData, write_scores

    data = {
        1: EpochData(0.001, {"dev_loss_ctc": 2.5, "train_loss_ctc": 3.0000000000000004}),
        2: EpochData(0.0005, {"dev_loss_ctc": math.nan}, {"global_train_step": 120, "hostname": "node3"}),
        3: EpochData(0.00025, {}),
    }
    write_scores(tmp_path / "ours", data)
    (tmp_path / "resave.py").write_text(RETURNN_RESAVE)
    subprocess.run(
        [str(RETURNN_PYTHON), str(tmp_path / "resave.py"), str(tmp_path / "ours"), str(tmp_path / "theirs")],
        check=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert (tmp_path / "theirs").read_text() == (tmp_path / "ours").read_text()
