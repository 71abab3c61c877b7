"""What the loader benchmarks train: the tts_digits recipe's model and batching on its corpus (or a stand-in).

When the speech corpus is not on the machine, a synthetic stand-in of the same size and shape is written
once (6000 sequences, 46..459 frames of 80-dim float16 features, 27 labels; ~200 MB), so the numbers
stay comparable in kind.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from bench.data.sources import speech_dir
from seqtrain.config import Config, load_config
from seqtrain.data.dataset import DataSpec
from seqtrain.data.generating import GeneratingDataset
from seqtrain.data.hdf import HDFWriter
from seqtrain.data.loader import Batch
from seqtrain.data.setup import DataSetup, build_data
from seqtrain.model.builder import ModelBuilder
from seqtrain.model.context import StepContext
from seqtrain.model.make_builder import make_model_builder
from seqtrain.model.precision import Precision
from seqtrain.train.step import TrainStep, forward_backward

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "tts_digits" / "ctc_blstm.py"


def corpus_dir() -> Path:
    """A folder with train.hdf and dev.hdf: the speech corpus, or the synthetic stand-in (written once)."""
    found = speech_dir()
    if found is not None:
        return found
    out = Path(tempfile.gettempdir()) / "seqtrain-bench-standin"
    for split, num in (("train", 6000), ("dev", 600)):
        path = out / f"{split}.hdf"
        if path.exists():
            continue
        source = GeneratingDataset(num, task="ctc", seq_len=(46, 459), input_dim=80, num_classes=27, target_ratio=9,
                                   dtype="float16", seed=1 if split == "train" else 2)  # fmt: skip
        specs = {"data": DataSpec(dim=80, dtype="float16", feature_shape=(80,)),
                 "classes": DataSpec(dim=27, dtype="int32", sparse=True)}  # fmt: skip
        with HDFWriter(path, specs) as writer:
            for i in range(num):
                writer.add(f"{split}-{i}", source.get_seq(i))
    return out


def recipe(overrides: list[str] | None = None) -> tuple[Config, DataSetup, ModelBuilder]:
    os.environ["TTS_DIGITS_DATA"] = str(corpus_dir())
    config = load_config(RECIPE, ["model=None", "num_workers=0", *(overrides or [])])
    return config, build_data(config, need_train=True), make_model_builder(config)


def train_steps(
    builder: ModelBuilder, batches: Iterator[Batch], num_steps: int
) -> Iterator[tuple[Batch, float, float]]:
    """Runs `num_steps` optimizer steps; yields (batch, seconds waited for it, seconds of the step)."""
    torch.manual_seed(0)
    model = builder.build(epoch=1, step=0)
    model.train()
    step_module = TrainStep(model, builder, Precision(), torch.device("cpu"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(num_steps):
        start = time.perf_counter()
        batch = next(batches)
        waited = time.perf_counter() - start
        optimizer.zero_grad()
        forward_backward(step_module, batch, StepContext(train=True, epoch=1, step=step))
        optimizer.step()
        yield batch, waited, time.perf_counter() - start - waited
