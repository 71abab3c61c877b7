"""The learning-rate file: RETURNN's format, round trip, RETURNN's extra `:meta:` info, broken files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from seqtrain.errors import ConfigError
from seqtrain.train.optim.lr_file import EpochData, format_scores, parse_scores, read_scores, write_scores

# as RETURNN's torch engine writes it (better_repr: sorted keys, one per line when long, meta as ":meta:" keys)
RETURNN_TEXT = """{
1: EpochData(learningRate=0.001, error={
':meta:effective_learning_rate': 0.001,
':meta:global_train_step': 0,
':meta:hostname': 'node3',
'dev_loss_ctc': 2.5,
'train_loss_ctc': 3.25,
}),
2: EpochData(learningRate=0.0005, error={
':meta:global_train_step': 120,
'dev_loss_ctc': float('nan'),
'train_loss_ctc': np.float64(2.75),
}),
3: EpochData(learningRate=0.0005, error={}),
}
"""


def test_reads_returnn_files_with_meta_and_writes_them_back_identically(tmp_path: Path) -> None:
    data = parse_scores(RETURNN_TEXT)
    assert data[1] == EpochData(
        0.001,
        {"dev_loss_ctc": 2.5, "train_loss_ctc": 3.25},
        {"effective_learning_rate": 0.001, "global_train_step": 0, "hostname": "node3"},
    )
    assert math.isnan(data[2].error["dev_loss_ctc"]) and data[2].error["train_loss_ctc"] == 2.75
    assert data[3] == EpochData(0.0005)
    write_scores(tmp_path / "lr", data)
    written = (tmp_path / "lr").read_text()
    assert written == RETURNN_TEXT.replace("np.float64(2.75)", "2.75")
    assert not list(tmp_path.glob("*.tmp"))


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    data = {
        1: EpochData(1.0, {"dev_loss_ctc": 0.1 + 0.2, "train_loss_ctc": math.inf}),
        2: EpochData(0.5, {"dev_loss_ctc": 1e-300}, {"note": "edited"}),
        10: EpochData(None),
    }
    write_scores(tmp_path / "sub/lr", data)
    again = read_scores(tmp_path / "sub/lr")
    assert again == data
    assert list(again) == [1, 2, 10]
    assert format_scores(again) == format_scores(data)


def test_short_entries_stay_on_one_line_and_old_format_scores_are_read() -> None:
    one_line_scores = "{\n1: EpochData(learningRate=0.1, error={'dev': 1.0}),\n}\n"
    assert format_scores({1: EpochData(0.1, {"dev": 1.0})}) == one_line_scores
    assert parse_scores("{1: EpochData(learningRate=0.1, error=1.5)}") == {1: EpochData(0.1, {"old_format_score": 1.5})}
    assert read_scores(Path("/nonexistent/lr")) == {}


@pytest.mark.parametrize(
    "text",
    [
        "{1: EpochData(learningRate=0.1, error={'dev': 'x'})}",
        "{1: EpochData(learningRate=0.1,",
        "[1, 2]",
        "{1: EpochData(lr=0.1)}",
    ],
)
def test_broken_file_is_a_config_error_naming_the_file(text: str, tmp_path: Path) -> None:
    path = tmp_path / "model.learning_rates"
    path.write_text(text)
    with pytest.raises(ConfigError, match=str(path)):
        read_scores(path)
