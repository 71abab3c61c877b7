"""The demo recipe end to end on the small corpus: prepare, train, evaluate, decode."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from seqtrain.cli.main import main
from seqtrain.train.optim.lr_file import read_scores
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


@pytest.mark.slow
def test_small_recipe_in_bfloat16_reaches_the_float32_scores(
    small_corpus: Path, one_thread: None, tmp_path: Path, monkeypatch, capsys
) -> None:
    """torch_amp="bfloat16" (CPU autocast: the BLSTM and the output layer in bfloat16, CTC in float32) learns
    as float32 does: the same losses within a few percent after 2 epochs, and `recog` decodes under autocast."""
    monkeypatch.setenv("TTS_DIGITS_DATA", str(small_corpus))
    config = str(REPO / "recipes/tts_digits/ctc_blstm.py")
    dev_losses = {}
    for precision in ("float32", "bfloat16"):
        monkeypatch.setenv("TTS_DIGITS_EXP", str(tmp_path / precision))
        amp = ["torch_amp='bfloat16'", "grad_scaler=None"] if precision == "bfloat16" else []
        assert main(["train", config, "num_epochs=2", "tensorboard=False", *amp]) == 0
        scores = read_scores(tmp_path / precision / "model.learning_rates")
        dev_losses[precision] = [scores[e].error["dev_loss_ctc"] for e in sorted(scores)]
    assert dev_losses["bfloat16"][-1] < dev_losses["bfloat16"][0]
    assert dev_losses["bfloat16"] == pytest.approx(dev_losses["float32"], rel=0.05)
    capsys.readouterr()
    assert main(["recog", config, "--data", "dev", "torch_amp='bfloat16'", "grad_scaler=None"]) == 0
    assert "epoch 2 dev: WER " in capsys.readouterr().out
