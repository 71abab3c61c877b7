"""recipes/tts_digits/pipeline_ce_realign.py on the small corpus: linear alignment, CE, realignment, bigger net."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from seqtrain.config import load_config
from seqtrain.data.hdf import HDFDataset
from seqtrain.pipeline.report import pipeline_status
from tests.train.helpers import REPO, model_params, run_cli

CONFIG = REPO / "recipes/tts_digits/pipeline_ce_realign.py"


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_realignment_iterations(recipe_env: Callable[..., None], small_corpus: Path, tmp_path: Path) -> None:
    recipe_env(tmp_path / "exp", dim=16, stage_epochs="1,1,1")
    assert run_cli("train", CONFIG) == 0
    rows = {row.name: row for row in pipeline_status(load_config(CONFIG))}
    assert all(row.status == "done" for row in rows.values()), rows
    for name in ("ali1", "ali2", "ali3"):  # Viterbi realignment with the model of the stage before
        report = json.loads(next((tmp_path / "exp/model.pipeline").glob(f"*.{name}.done.json")).read_text())["report"]
        for split, seqs in (("train", 300), ("dev", 100)):
            assert report[split]["num_seqs"] == seqs and report[split]["mode"] == "hmm"
            assert (
                0 < report[split]["changed_frames"] <= report[split]["compared_frames"] == report[split]["num_frames"]
            )
    for iteration in (1, 2, 3):
        assert 0 <= rows[f"ce{iteration}"].results["dev_loss_output_error"] <= 1  # frame error rate
        for decoder in ("", "_greedy"):  # hmm_viterbi over the lexicon with the prior; best state per frame
            assert rows[f"recog{iteration}{decoder}"].results["dev WER"].endswith("%")
    lexicon = (small_corpus / "lexicon.txt").read_text().split()  # prepare wrote the training words
    assert "zero" in lexicon and lexicon == sorted(set(lexicon))
    report = json.loads(next((tmp_path / "exp/model.pipeline").glob("*.recog3.done.json")).read_text())["report"]
    assert report["dev"]["decoder"] == "hmm_viterbi" and report["dev"]["num_seqs"] == 100
    hypotheses = Path(report["dev"]["hypotheses"]).read_text().splitlines()[1::2]
    assert all(word in lexicon for line in hypotheses for word in line.split("hyp:", 1)[1].split())
    assert {k.split(".")[0] for k in model_params(tmp_path / "exp/model.002.pt")} >= {"lstm0", "lstm1", "lstm2"}
    alignment = HDFDataset([str(tmp_path / "exp/align/ali1.train.hdf")])
    assert alignment.data_specs()["classes"].dim == 55 and alignment.labels("classes")[-1] == "[silence]"
