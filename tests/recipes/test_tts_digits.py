"""The demo recipe end to end on the small corpus: prepare, train, evaluate, decode."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from seqtrain.cli.main import main
from seqtrain.train.lr_file import read_scores
from tests.train.helpers import REPO


@pytest.mark.slow
def test_small_recipe_trains_and_decodes(tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, str(REPO / "recipes/tts_digits/prepare.py"), "--out", str(data), "--small"], check=True
    )
    monkeypatch.setenv("TTS_DIGITS_DATA", str(data))
    monkeypatch.setenv("TTS_DIGITS_EXP", str(tmp_path / "exp"))
    config = str(REPO / "recipes/tts_digits/ctc_blstm.py")
    assert main(["train", config, "num_epochs=4", "tensorboard=False"]) == 0
    scores = read_scores(tmp_path / "exp" / "model.learning_rates")
    train_loss = [scores[e].error["train_loss_ctc"] for e in sorted(scores)]
    dev_loss = [scores[e].error["dev_loss_ctc"] for e in sorted(scores)]
    assert len(train_loss) == 4
    # 300 utterances, 4 epochs: still in CTC's blank plateau, but both losses fall every epoch
    assert all(b < a for a, b in itertools.pairwise(train_loss)), train_loss
    assert all(b < a for a, b in itertools.pairwise(dev_loss)), dev_loss
    capsys.readouterr()
    assert main(["recog", config, "--data", "dev"]) == 0
    assert "epoch 4 dev: WER " in capsys.readouterr().out
