"""GeneratingDataset: the benchmark's lengths, the same sequence in every process, learnable targets."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.generating import GeneratingDataset
from seqtrain.errors import ConfigError


def test_lengths_and_content_are_reproducible() -> None:
    dataset = GeneratingDataset(100, task="ctc", seq_len=(50, 400), seed=42, input_dim=8, num_classes=5)
    lengths = dataset.seq_lengths()
    assert np.array_equal(lengths["data"], np.random.RandomState(42).randint(50, 401, size=100))
    assert np.array_equal(lengths["classes"], np.maximum(1, lengths["data"] // 4))
    again = GeneratingDataset(100, task="ctc", seq_len=(50, 400), seed=42, input_dim=8, num_classes=5)
    a, b = dataset.get_seq(17), again.get_seq(17)
    assert all(np.array_equal(a[k], b[k]) for k in a) and a["data"].shape == (lengths["data"][17], 8)
    # the bump at the spoken label makes the task learnable: argmax follows the label sequence
    frames = a["data"].shape[0]
    spoken = a["classes"][np.minimum(np.arange(frames) * len(a["classes"]) // frames, len(a["classes"]) - 1)]
    assert np.mean(a["data"].argmax(axis=1) == spoken) > 0.8


@pytest.mark.parametrize(("task", "keys"), [("framewise", {"data", "classes"}), ("copy", {"data", "classes"}),
                                            ("noise", {"data"})])  # fmt: skip
def test_tasks(task: str, keys: set[str]) -> None:
    dataset = GeneratingDataset(5, task=task, seq_len=[3, 4, 5, 6, 7], num_classes=6)
    seq = dataset.get_seq(2)
    assert set(seq) == keys == set(dataset.data_specs())
    assert seq["data"].shape[0] == 5
    if task == "copy":
        assert dataset.data_specs()["data"].sparse and np.array_equal(seq["data"], seq["classes"])
    if task == "framewise":
        assert seq["classes"].shape == (5,)


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="unknown task 'sort'"):
        GeneratingDataset(3, task="sort")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"seq_len must be \(min, max\) or 3 lengths >= 1"):
        GeneratingDataset(3, seq_len=[1, 2])
    with pytest.raises(ConfigError, match=r"must be \(min, max\) with 1 <= min <= max"):
        GeneratingDataset(3, seq_len=(5, 2))
