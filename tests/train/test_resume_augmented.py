"""Audio augmentation inside training: stopping and resuming, and another worker count, change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqtrain.train.optim.lr_file import read_scores
from tests.corpus import VOCAB, write_config
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli

AUDIO_TRAIN = """
train = {{
    "class": "AudioDataset", "manifest": {manifest!r}, "seq_ordering": "laplace:.4",
    "vocab": {{"class": "CharacterVocab", "labels": {labels!r}}},
    "features": {{"num_mel_bins": 8}},
    "augment": [
        {{"type": "speed", "factor": [0.9, 1.0, 1.1]}},
        {{"type": "noise", "snr_db": (5, 20), "prob": {{1: 0.5, 2: 0.9}}}},
        {{"type": "pitch", "semitones": (-1, 1), "prob": 0.3}},
        {{"type": "gain", "db": (-6, 6)}},
    ],
}}
num_workers = {workers}
batch_size = 400
"""


@pytest.fixture(scope="module")
def audio_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 utterances of tones, one pitch per letter, so CTC has something to learn."""
    directory = tmp_path_factory.mktemp("audio")
    rng = np.random.RandomState(0)
    rows = []
    for i in range(24):
        labels = rng.randint(0, len(VOCAB) - 1, size=rng.randint(1, 4))
        pieces = [np.sin(2 * np.pi * (300 + 200 * k) * np.arange(1600) / 16000) for k in labels]
        samples = np.concatenate(pieces) * 0.3 + rng.randn(1600 * len(labels)) * 0.01
        soundfile.write(directory / f"u{i}.flac", (samples * 32767).astype("int16"), 16000)
        rows.append({"id": f"u{i}", "path": f"u{i}.flac", "text": "".join(VOCAB[k] for k in labels)})
    (directory / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return directory / "train.jsonl"


def _config(directory: Path, corpus: dict, manifest: Path, workers: int) -> Path:
    directory.mkdir()
    extra = AUDIO_TRAIN.format(manifest=str(manifest), labels="".join(VOCAB), workers=workers)
    return write_config(directory, corpus, num_epochs=3, extra=extra)


def test_stop_resume_and_worker_count_give_bitwise_the_same_model(
    tiny_corpus: dict, audio_manifest: Path, tmp_path: Path
) -> None:
    reference = _config(tmp_path / "reference", tiny_corpus, audio_manifest, workers=2)
    assert run_cli("train", reference) == 0
    resumed = _config(tmp_path / "resumed", tiny_corpus, audio_manifest, workers=0)
    assert run_cli("train", resumed, "num_epochs=1") == 0
    assert run_cli("train", resumed) == 0
    want, got = tmp_path / "reference/out", tmp_path / "resumed/out"
    assert_bitwise_equal(model_params(want / "model.003.pt"), model_params(got / "model.003.pt"))
    assert read_scores(want / "model.learning_rates") == read_scores(got / "model.learning_rates")
