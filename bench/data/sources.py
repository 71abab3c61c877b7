"""The two corpora the data benchmarks measure on: the tts_digits speech corpus and the synthetic anchor data.

The speech corpus is used when present (`TTS_DIGITS_DATA`, else /work/shared/data/tts_digits_sentences or
data/tts_digits); the synthetic data needs nothing: its lengths are the anchor benchmark's (1000 sequences,
uniform in [50, 400], `RandomState(42)`), which `GeneratingDataset` draws the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from seqtrain.data.factory import DatasetSetup, make_dataset

SPEECH_CANDIDATES = ("/work/shared/data/tts_digits_sentences", "data/tts_digits")


def speech_dir() -> Path | None:
    """The folder holding train.hdf of the tts_digits corpus, or None when it is not on this machine."""
    candidates = [os.environ["TTS_DIGITS_DATA"]] if os.environ.get("TTS_DIGITS_DATA") else list(SPEECH_CANDIDATES)
    for candidate in candidates:
        if (Path(candidate) / "train.hdf").is_file():
            return Path(candidate)
    return None


def corpora(seq_ordering: str = "default") -> dict[str, DatasetSetup]:
    """name -> dataset setup with the given ordering; the speech corpus only when present."""
    out = {
        "synthetic": make_dataset(
            {"class": "GeneratingDataset", "task": "ctc", "num_seqs": 1000, "seq_len": (50, 400), "seed": 42,
             "input_dim": 40, "num_classes": 50, "seq_ordering": seq_ordering},
            name="synthetic",
        )
    }  # fmt: skip
    directory = speech_dir()
    if directory is not None:
        out["tts_digits"] = make_dataset(
            {"class": "HDFDataset", "files": [str(directory / "train.hdf")], "seq_ordering": seq_ordering},
            name="tts_digits",
        )
    return out
