"""`GeneratingDataset`: synthetic, learnable tasks with configurable lengths, for tests and benchmarks.

    train = {"class": "GeneratingDataset", "task": "ctc", "num_seqs": 1000, "seq_len": (50, 400),
             "input_dim": 40, "num_classes": 50}

Lengths are drawn once, `RandomState(seed).randint(min, max + 1, num_seqs)` (with seed 42 and (50, 400)
exactly the lengths of the shared benchmark data), or given as a list. Sequence i is generated from a
generator seeded by (seed, i), so it is the same in every process and every epoch, and nothing is kept
in memory. Tasks: "ctc" (labels of length T // target_ratio, features carry a bump at the label being
spoken), "framewise" (one label per frame), "copy" (sparse input, target = input), "noise" (features only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from seqtrain.data.dataset import DATASETS, Dataset, DataSpec
from seqtrain.errors import ConfigError

Task = Literal["ctc", "framewise", "copy", "noise"]


class GeneratingDataset(Dataset):
    def __init__(
        self,
        num_seqs: int = 1000,
        *,
        task: Task = "ctc",
        seq_len: tuple[int, int] | Sequence[int] = (50, 400),
        input_dim: int = 40,
        num_classes: int = 50,
        target_ratio: int = 4,
        seed: int = 42,
        dtype: str = "float32",
        name: str = "generating",
    ) -> None:
        if task not in ("ctc", "framewise", "copy", "noise"):
            raise ConfigError(f"dataset {name!r}: unknown task {task!r}; known: ctc, framewise, copy, noise")
        if num_seqs < 1 or input_dim < 1 or num_classes < 1 or target_ratio < 1:
            raise ConfigError(f"dataset {name!r}: num_seqs, input_dim, num_classes and target_ratio must be >= 1")
        self.name, self.task, self.seed, self.dtype = name, task, seed, dtype
        self.input_dim, self.num_classes, self.target_ratio = input_dim, num_classes, target_ratio
        if isinstance(seq_len, tuple) and len(seq_len) == 2:
            low, high = seq_len
            if not 1 <= low <= high:
                raise ConfigError(f"dataset {name!r}: seq_len {seq_len} must be (min, max) with 1 <= min <= max")
            lengths = np.random.RandomState(seed).randint(low, high + 1, size=num_seqs)
        else:
            lengths = np.asarray(list(seq_len), dtype=np.int64)
            if len(lengths) != num_seqs or (lengths < 1).any():
                raise ConfigError(f"dataset {name!r}: seq_len must be (min, max) or {num_seqs} lengths >= 1")
        self._lengths = {"data": lengths.astype(np.int64)}
        if task == "ctc":
            self._lengths["classes"] = np.maximum(1, lengths // target_ratio).astype(np.int64)
        elif task in ("framewise", "copy"):
            self._lengths["classes"] = self._lengths["data"].copy()

    @property
    def num_seqs(self) -> int:
        return len(self._lengths["data"])

    def data_specs(self) -> dict[str, DataSpec]:
        if self.task == "copy":
            data = DataSpec(dim=self.num_classes, dtype="int32", sparse=True)
        else:
            data = DataSpec(dim=self.input_dim, dtype=self.dtype, feature_shape=(self.input_dim,))
        specs = {"data": data}
        if "classes" in self._lengths:
            specs["classes"] = DataSpec(dim=self.num_classes, dtype="int32", sparse=True)
        return specs

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return dict(self._lengths)

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, idx])
        frames = int(self._lengths["data"][idx])
        if self.task == "copy":
            labels = rng.integers(0, self.num_classes, size=frames, dtype=np.int32)
            return {"data": labels, "classes": labels.copy()}
        x = rng.standard_normal((frames, self.input_dim), dtype=np.float32)
        if self.task == "noise":
            return {"data": x.astype(self.dtype, copy=False)}
        labels = rng.integers(0, self.num_classes, size=int(self._lengths["classes"][idx]), dtype=np.int32)
        frame_label = labels[np.minimum(np.arange(frames) * len(labels) // frames, len(labels) - 1)]
        x[np.arange(frames), frame_label % self.input_dim] += 3.0  # what makes the task learnable
        return {"data": x.astype(self.dtype, copy=False), "classes": labels}


DATASETS.register("GeneratingDataset", GeneratingDataset)
