"""`test_datasets`: built and checked with the others, found by name, never evaluated while training."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqtrain.cli.main import main
from seqtrain.config import load_config
from seqtrain.data.setup import build_data
from seqtrain.errors import ConfigError
from seqtrain.train.optim.lr_file import read_scores
from tests.corpus import write_config

NEVER_READ = """
from seqtrain.data.hdf import HDFDataset


class _NeverRead(HDFDataset):
    def get_seq(self, idx):
        raise RuntimeError("a test set was read during training")


test_datasets = {{
    "test_hdf": {{"class": "HDFDataset", "files": [{dev!r}]}},
    "test_never": {{"class": _NeverRead, "files": [{dev!r}]}},
}}
"""


def _config(tmp_path: Path, corpus: dict[str, Path], extra: str, **kwargs: int) -> Path:
    return write_config(tmp_path, corpus, extra=extra.format(dev=str(corpus["dev"])), **kwargs)


def test_test_datasets_are_found_by_name_but_are_no_eval_sets(tiny_corpus: dict[str, Path], tmp_path: Path) -> None:
    config = _config(tmp_path, tiny_corpus, NEVER_READ)
    data = build_data(load_config(config), need_train=False)
    assert list(data.tests) == ["test_hdf", "test_never"] and list(data.evals) == ["dev"]
    assert data.by_name("test_hdf").name == "test_hdf" and data.by_name("test_hdf").dataset.num_seqs == 20
    assert data.by_name("test_hdf").data_keys == data.by_name("dev").data_keys  # checked and bounded like the others
    with pytest.raises(ConfigError, match=r"no dataset named 'test'; the config has \['train', 'dev', 'test_hdf'"):
        data.by_name("test")


@pytest.mark.parametrize(
    ("extra", "clash"),
    [
        ('test_datasets = {{"dev": {{"class": "HDFDataset", "files": [{dev!r}]}}}}', "dev"),
        ('test_datasets = {{"train": {{"class": "HDFDataset", "files": [{dev!r}]}}}}', "train"),
        (
            'eval_datasets = {{"t": {{"class": "HDFDataset", "files": [{dev!r}]}}}}\n'
            'test_datasets = {{"t": {{"class": "HDFDataset", "files": [{dev!r}]}}}}',
            "t",
        ),
    ],
)
def test_a_test_set_name_must_be_new(tiny_corpus: dict[str, Path], tmp_path: Path, extra: str, clash: str) -> None:
    config = load_config(_config(tmp_path, tiny_corpus, extra))
    with pytest.raises(ConfigError, match=rf"test_datasets: name '{clash}' is already used by train/dev/eval_data"):
        build_data(config, need_train=False)


def test_training_never_reads_a_test_set_and_recog_scores_it(
    tiny_corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One epoch with a test set whose every read fails: training neither reads nor scores it; `seqtrain recog
    --data` and `seqtrain data --dataset` use a test set by name."""
    config = _config(tmp_path, tiny_corpus, NEVER_READ, num_epochs=1)
    assert main(["train", str(config)]) == 0
    scores = read_scores(tmp_path / "out" / "model.learning_rates")[1].error
    assert any(k.startswith("dev_") for k in scores) and not any(k.startswith("test_") for k in scores), scores
    capsys.readouterr()
    assert main(["recog", str(config), "--data", "test_hdf"]) == 0
    assert "epoch 1 test_hdf: WER " in capsys.readouterr().out
    assert main(["data", str(config), "--dataset", "test_hdf", "--seqs"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if line.startswith('{"')]) == 20
