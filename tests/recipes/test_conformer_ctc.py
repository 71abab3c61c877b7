"""The Conformer net-dict recipe: the config builds the documented model, and trains and decodes on the small corpus."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqtrain.cli.main import main
from seqtrain.config import load_config
from seqtrain.data.loader import Batch
from seqtrain.model.context import ForwardContext
from seqtrain.model.net_dict_builder import NetDictModelBuilder
from seqtrain.train.optim.lr_file import read_scores
from tests.train.helpers import REPO

CONFIG = REPO / "recipes/tts_digits/conformer_ctc.py"


def test_recipe_builds_the_documented_model() -> None:
    builder = NetDictModelBuilder(load_config(CONFIG))
    torch.manual_seed(0)
    model = builder.build(epoch=1, step=0).eval()
    names = dict(model.named_parameters())
    assert names["enc6.att.qkv.weight"].shape == (3 * 144, 144)
    assert names["conv2.weight"].shape == (32, 32, 3, 3) and names["output.weight"].shape == (28, 144)
    assert 2.9e6 < sum(p.numel() for p in model.parameters()) < 3.1e6
    frames = torch.tensor([203, 37], dtype=torch.int32)
    batch = Batch(
        {"data": torch.randn(2, 203, 80), "classes": torch.zeros(2, 5, dtype=torch.int32)},
        {"data": frames, "classes": torch.tensor([5, 2], dtype=torch.int32)},
        ["a", "b"],
        [0, 1],
    )
    ctx = ForwardContext(epoch=1)
    with torch.no_grad():
        builder.forward_step(model=model, batch=batch, ctx=ctx)
    log_probs, lengths = ctx.outputs["log_probs"]
    assert lengths.tolist() == [51, 10]  # 4x subsampling: ceil(ceil(T / 2) / 2)
    assert log_probs.shape == (2, 51, 28)


@pytest.mark.slow
def test_recipe_trains_and_decodes_on_the_small_corpus(tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, str(REPO / "recipes/tts_digits/prepare.py"), "--out", str(data), "--small"], check=True
    )
    monkeypatch.setenv("TTS_DIGITS_DATA", str(data))
    monkeypatch.setenv("TTS_DIGITS_EXP", str(tmp_path / "exp"))
    subsets = {  # a few steps: a tenth of the 300 train utterances, a quarter of the 100 dev ones
        "train": {"class": "HDFDataset", "files": [str(data / "train.hdf")], "partition_epoch": 10},
        "dev": {"class": "HDFDataset", "files": [str(data / "dev.hdf")], "partition_epoch": 4},
    }
    overrides = [f"{k}={v!r}" for k, v in subsets.items()]
    assert main(["train", str(CONFIG), "num_epochs=1", "batch_size=2000", *overrides, "tensorboard=False"]) == 0
    scores = read_scores(tmp_path / "exp" / "model.learning_rates")
    assert sorted(scores) == [1]
    for key in ("train_loss_output", "train_loss_aux_ctc", "dev_loss_output", "dev_loss_output_error"):
        assert math.isfinite(scores[1].error[key]), key
    capsys.readouterr()
    assert main(["recog", str(CONFIG), "--data", "dev"]) == 0
    assert "epoch 1 dev: WER " in capsys.readouterr().out
