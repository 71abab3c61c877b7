from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus import write_ctc_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A learnable CTC task: 60 train and 20 dev sequences in real HDF files."""
    directory = tmp_path_factory.mktemp("corpus")
    return {
        "train": write_ctc_corpus(directory / "train.hdf", num_seqs=60, seed=1),
        "dev": write_ctc_corpus(directory / "dev.hdf", num_seqs=20, seed=2),
    }
