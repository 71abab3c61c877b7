"""The command line as a user meets it: exit codes, one-line errors, outputs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seqtrain.cli.main import main
from tests.corpus import write_config
from tests.train.helpers import REPO


def test_config_list_shows_every_key_with_type_default_and_doc(capsys) -> None:
    assert main(["config", "--list"]) == 0
    out = capsys.readouterr().out
    assert "learning_rate: float = 1.0 (schedulable)" in out
    assert "batch_size: int | dict[str, int] = 5000 (schedulable)" in out
    assert "max padded frames per batch" in out


def test_config_prints_resolved_values(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, extra="gradient_clip = {1: 5.0, 3: 0.0}\n")
    assert main(["config", str(config), "learning_rate=0.5", "--epoch", "3"]) == 0
    out = capsys.readouterr().out
    assert "learning_rate = 0.5  # override" in out
    assert "gradient_clip = 0.0  # config" in out
    assert "get_model = <function get_model, line" in out


def test_user_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.py"
    config.write_text("learning_rte = 0.1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "seqtrain", "train", str(config)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "seqtrain train: error:" in proc.stderr and "did you mean 'learning_rate'" in proc.stderr


def test_missing_data_file_names_it(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, {"train": tmp_path / "missing.hdf", "dev": tiny_corpus["dev"]})
    assert main(["train", str(config)]) == 1
    assert "missing.hdf does not exist" in capsys.readouterr().err


def test_train_recog_plot(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=2)
    assert main(["train", str(config), "learning_rate=0.03"]) == 0
    capsys.readouterr()
    assert main(["recog", str(config), "--epoch", "2", "--data", "dev"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2 dev: WER " in out and "; 20 seqs)" in out
    hyps = (tmp_path / "out" / "model.recog.dev.txt").read_text().splitlines()
    assert len(hyps) == 40 and hyps[0].split("\t")[1].startswith("ref: ")
    assert main(["plot", str(tmp_path / "out" / "model"), "-o", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_recog_of_missing_epoch_lists_finished_ones(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=1)
    assert main(["train", str(config)]) == 0
    capsys.readouterr()
    assert main(["recog", str(config), "--epoch", "5"]) == 1
    assert "finished epochs: 1" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["train"], ["bogus"]])
def test_bad_command_line_exits_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_a_label_beyond_the_declared_extern_data_dim_stops_training(tmp_path: Path, capsys) -> None:
    """The case a new user met: labels 0..10 declared as dim 5 trained silently under a softmax with n_out 11."""
    config = tmp_path / "config.py"
    config.write_text(
        textwrap.dedent(
            f"""
            import numpy as np
            from seqtrain.data.dataset import Dataset, DataSpec

            class Labels(Dataset):
                name = "labels"
                num_seqs = 4
                def data_specs(self):
                    labels = DataSpec(dim=None, dtype="int32", sparse=True)  # no vocabulary size of its own
                    return {{"data": DataSpec(dim=3, feature_shape=(3,)), "classes": labels}}
                def seq_lengths(self):
                    return {{"data": np.full(4, 6), "classes": np.full(4, 6)}}
                def get_seq(self, idx):
                    return {{"data": np.ones((6, 3), "float32"), "classes": (np.arange(6) + 2 * idx).astype("int32")}}

            model = {str(tmp_path / "out" / "model")!r}
            train = {{"class": Labels}}
            extern_data = {{"data": {{"dim": 3}}, "classes": {{"dim": 5, "sparse": True}}}}
            network = {{
                "output": {{"class": "softmax", "from": "data", "n_out": 11, "loss": "ce", "target": "classes"}}
            }}
            num_epochs = 1
            batch_size = 100
            tensorboard = False
            """
        )
    )
    assert main(["train", str(config)]) == 1
    err = capsys.readouterr().err
    assert "data key 'classes' of sequence" in err and "label 5 is outside extern_data['classes'] dim [0, 5)" in err
