"""Class priors of hybrid decoding: from a log-prior text file or an alignment HDF, and what they change."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from seqtrain.config import Config
from seqtrain.config.settings import AlignmentSettings, RecogSettings
from seqtrain.data.dataset import DataSpec
from seqtrain.data.hdf import HDFWriter
from seqtrain.errors import ConfigError, DataError
from seqtrain.recog.decoders import make_decoder
from seqtrain.recog.prior import load_log_prior


def _settings(config: Config) -> tuple[RecogSettings, AlignmentSettings]:
    return RecogSettings.from_config(config), AlignmentSettings.from_config(config)


def _alignment(path: Path, sequences: list[list[int]], num_classes: int = 4) -> Path:
    with HDFWriter(path, {"classes": DataSpec(dim=num_classes, dtype="int32", sparse=True)}) as writer:
        for i, classes in enumerate(sequences):
            writer.add(f"seq-{i}", {"classes": np.array(classes, dtype=np.int32)})
    return path


def test_the_prior_of_an_alignment_is_its_class_frequencies(tmp_path: Path) -> None:
    path = _alignment(tmp_path / "ali.hdf", [[0, 0, 1], [0, 2, 2, 0]])  # 4 x class 0, 1 x 1, 2 x 2, 0 x 3
    prior = load_log_prior(str(path), 4)
    assert prior[:3].exp().tolist() == pytest.approx([4 / 7, 1 / 7, 2 / 7])
    assert prior[3] == pytest.approx(math.log(1e-8))  # unseen: floored, not -inf
    with pytest.raises(ConfigError, match="has a prior for 4 classes, the model outputs 5"):
        load_log_prior(str(path), 5)
    broken = _alignment(tmp_path / "broken.hdf", [[0, 1], [0, 1]], num_classes=2)
    with h5py.File(broken, "r+") as f:  # as a writer without our range check could have left it
        f["targets/data/classes"][-1] = 2
    with pytest.raises(DataError, match=r"sequence 'seq-1' has class 2 outside \[0, 2\)"):
        load_log_prior(str(broken), 2)
    with pytest.raises(DataError, match="no data key 'align'"):
        load_log_prior(str(path), 4, key="align")


def test_a_text_prior_is_read_and_checked(tmp_path: Path) -> None:
    text = tmp_path / "prior.txt"
    text.write_text("-0.5 -1.5\n-2.0\n")
    assert load_log_prior(str(text), 3).tolist() == [-0.5, -1.5, -2.0]
    text.write_text("0.2 0.8\n")
    with pytest.raises(ConfigError, match="log priors must be finite and <= 0"):
        load_log_prior(str(text), 2)
    text.write_text("a b\n")
    with pytest.raises(ConfigError, match="not a list of numbers"):
        load_log_prior(str(text), 2)
    with pytest.raises(ConfigError, match=r"recog_prior_file .*missing\.txt' does not exist"):
        load_log_prior(str(tmp_path / "missing.txt"), 2)


def test_dividing_by_the_prior_lets_a_rare_state_win(tmp_path: Path) -> None:
    # one label, one state (class 0), silence class 1; silence is 9x as frequent in the alignment
    prior = str(_alignment(tmp_path / "ali.hdf", [[1] * 9 + [0]], num_classes=2))
    posteriors = torch.tensor([[[0.1, 0.9], [0.4, 0.6], [0.1, 0.9]]]).log()  # the middle frame: "0" at 40 %

    def decode(**keys: object) -> list[list[int]]:
        config = Config.from_dict({"align_states_per_label": 1, "align_silence": True, **keys})
        return make_decoder(*_settings(config), torch.nn.Linear(1, 1), num_labels=1, vocab=None)(
            posteriors, torch.tensor([3])
        )

    for decoder in ("hmm_greedy", "hmm_viterbi"):
        assert decode(recog_decoder=decoder) == [[]]
        assert decode(recog_decoder=decoder, recog_prior_file=prior) == [[0]]
        assert decode(recog_decoder=decoder, recog_prior_file=prior, recog_prior_scale=0.1) == [[]]
    with pytest.raises(ConfigError, match=r"recog_prior_scale.*must be >= 0"):
        decode(recog_decoder="hmm_viterbi", recog_prior_file=prior, recog_prior_scale=-0.5)
