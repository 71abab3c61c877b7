"""The demo recipe end to end on the small corpus: prepare, train, evaluate, decode."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from seqtrain.cli.main import main
from seqtrain.train.lr_file import read_scores
from tests.train.helpers import REPO


@pytest.mark.slow
def test_small_recipe_trains_and_decodes(
    small_corpus: Path, one_thread: None, tmp_path: Path, monkeypatch, capsys
) -> None:
    """`small_corpus` runs the recipe's prepare step; one thread, because two on a busy 2-core CI machine
    spin-wait at every LSTM barrier (measured under load: 390 frames/s, 4 epochs past the 600 s timeout)."""
    monkeypatch.setenv("TTS_DIGITS_DATA", str(small_corpus))
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
