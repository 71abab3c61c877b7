"""`seqtrain forward`: RETURNN's forward task, the model's outputs per sequence in an HDF file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from seqtrain.config import load_config
from seqtrain.data.hdf import HDFDataset
from seqtrain.model.trained_model import load_trained_model
from tests.corpus import VOCAB, write_config
from tests.train.helpers import run_cli


def test_forward_writes_each_dev_sequence_as_the_model_computes_it(tiny_corpus, tmp_path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=1, extra=f"output_file = {str(tmp_path / 'fwd.hdf')!r}\n")
    assert run_cli("train", config) == 0
    assert run_cli("forward", config, "--data", "dev") == 0
    assert "forward (epoch 1): output 'log_probs'" in capsys.readouterr().out
    written, dev = HDFDataset([str(tmp_path / "fwd.hdf")]), HDFDataset([str(tiny_corpus["dev"])])
    assert written.num_seqs == dev.num_seqs
    tags = {written.seq_tag(i): i for i in range(written.num_seqs)}
    model = load_trained_model(load_config(config), 1).model
    for i in range(dev.num_seqs):
        features = torch.from_numpy(dev.get_seq(i)["data"])[None]
        expected = model(features).log_softmax(-1)[0].detach().numpy()
        got = written.get_seq(tags[dev.seq_tag(i)])["data"]
        assert got.shape == (features.shape[1], len(VOCAB) + 1)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_forward_errors(tiny_corpus, tmp_path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=1)
    assert run_cli("forward", config) != 0
    assert "give --output-hdf FILE or set output_file" in capsys.readouterr().err
    assert run_cli("train", config) == 0
    assert run_cli("forward", config, "--output-hdf", tmp_path / "x.hdf", "--output-name", "logits") != 0
    err = capsys.readouterr().err
    assert re.search(r"marked the outputs \['log_probs'\]; --output-name 'logits' is not one", err), err
    assert not Path(tmp_path / "x.hdf").exists() and not Path(tmp_path / "x.hdf.tmp").exists()
