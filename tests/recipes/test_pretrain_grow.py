"""recipes/tts_digits/pretrain_grow.py on the small corpus: one more BLSTM layer per epoch, then the full net."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from seqtrain.train.optim.lr_file import read_scores
from tests.train.helpers import REPO, model_params, run_cli

CONFIG = REPO / "recipes/tts_digits/pretrain_grow.py"


def _layers(checkpoint: Path) -> list[str]:
    return sorted({name.split(".")[0] for name in model_params(checkpoint)})


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_grows_one_layer_per_epoch_and_decodes(
    recipe_env: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe_env(tmp_path / "grow", dim=16)
    assert run_cli("train", CONFIG, "num_epochs=4", "cleanup_old_models=False") == 0
    layers = [_layers(tmp_path / f"grow/model.00{e}.pt") for e in (1, 2, 3, 4)]
    assert layers == [
        ["frontend", "lstm0", "output"],
        ["frontend", "lstm0", "lstm1", "output"],
        ["frontend", "lstm0", "lstm1", "lstm2", "output"],
        ["frontend", "lstm0", "lstm1", "lstm2", "lstm3", "output"],
    ]
    out = capsys.readouterr().out
    assert out.count("network topology changed, rebuilding the model") == 3
    assert "parameter transfer (copy_param_mode 'subset', copy_optimizer_state 'all'): 12 copied, 8 new" in out
    scores = read_scores(tmp_path / "grow/model.learning_rates")
    assert all(math.isfinite(scores[e].error["dev_loss_output"]) for e in (1, 2, 3, 4))
    assert run_cli("recog", CONFIG, "--data", "dev") == 0
    assert "epoch 4 dev: WER " in capsys.readouterr().out
    # the baseline of the comparison: the same config, the full net from the first epoch
    scratch = f"model={tmp_path / 'scratch/model'}"
    assert run_cli("train", CONFIG, "pretrain=None", scratch, "num_epochs=1") == 0
    assert _layers(tmp_path / "scratch/model.001.pt") == layers[3]
