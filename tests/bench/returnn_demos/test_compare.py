"""The demo comparison reads RETURNN's TensorFlow logs, learning-rate files, and seqtrain's files alike."""

from __future__ import annotations

from pathlib import Path

from bench.returnn_demos.compare import compare
from seqtrain.train.optim.lr_file import EpochData, write_scores


def test_compare_reads_both_sides_and_judges_the_final_error(tmp_path: Path) -> None:
    theirs, ours = tmp_path / "returnn", tmp_path / "seqtrain"
    theirs.mkdir()
    ours.mkdir()
    for i, seed in enumerate((42, 43, 44)):
        (theirs / f"demo.seed{seed}.log").write_text(
            f"epoch 1 score: 0.3\ndev: score {0.2 + i / 100} error 0.1\ndev: score 0.1 error {0.05 + i / 100}\n"
        )
        write_scores(ours / f"demo.seed{seed}.lr", {
            e: EpochData(0.01, {"dev_loss_output": 0.15, "dev_loss_output_error": err, "train_loss_output": 1.0})
            for e, err in ((1, 0.08), (2, 0.055 + i / 200))
        })  # fmt: skip
    result = compare(theirs, ours, "demo")
    assert result["returnn_runs"] == result["seqtrain_runs"] == 3
    assert result["epochs"][1]["dev_error"]["returnn"] == [0.06, 0.05, 0.07]
    assert result["epochs"][0]["dev_score"]["seqtrain"] == [0.15, 0.15, 0.15]
    assert result["final_dev_error_within_noise"] is True
    assert compare(theirs, ours, "other") == {"demo": "other", "returnn_runs": 0, "seqtrain_runs": 0}
