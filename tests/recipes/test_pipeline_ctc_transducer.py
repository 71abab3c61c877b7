"""recipes/tts_digits/pipeline_ctc_transducer.py on the small corpus: CTC, its alignment, transducer CE, full sum."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from seqtrain.config import load_config
from seqtrain.data.hdf import HDFDataset
from seqtrain.pipeline.report import pipeline_status
from tests.train.helpers import REPO, model_params, run_cli

CONFIG = REPO / "recipes/tts_digits/pipeline_ctc_transducer.py"


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_ctc_alignment_then_transducer(
    recipe_env: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe_env(tmp_path / "exp", dim=16, stage_epochs="1,1,1")
    assert run_cli("train", CONFIG, "recog_beam_size=2") == 0
    rows = {row.name: row for row in pipeline_status(load_config(CONFIG))}
    assert all(row.status == "done" for row in rows.values()), rows
    for name in ("recog_ctc", "recog_ce_greedy", "recog_ce_beam", "recog_rnnt_greedy", "recog_rnnt_beam"):
        assert rows[name].results["dev WER"].endswith("%"), name
    alignment = HDFDataset([str(tmp_path / "exp/align/ctc.train.hdf")])
    assert alignment.num_seqs == 300 and alignment.labels("classes")[27] == "<blank>"
    ctc, ce, rnnt = (model_params(tmp_path / f"exp/model.00{e}.pt") for e in (1, 2, 3))
    assert "output.weight" in ctc and "transducer.joint_output.weight" in ce and set(ce) == set(rnnt)
    assert not torch.equal(ce["encoder.weight_ih"], rnnt["encoder.weight_ih"])  # trained on in every stage
    capsys.readouterr()
    # the CLI decodes a stage's checkpoint with that stage's settings (here: a transducer decoder, not CTC's)
    assert run_cli("recog", CONFIG, "--epoch", "3", "--data", "dev") == 0
    assert "epoch 3 dev: WER " in capsys.readouterr().out
