"""Tiny real HDF corpora and config files for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from seqtrain.data.dataset import DataSpec
from seqtrain.data.hdf import HDFWriter

VOCAB = ("a", "b", "c", "d", " ")
FEATURE_DIM = 8


def write_ctc_corpus(path: Path, *, num_seqs: int, seed: int, min_len: int = 10, max_len: int = 40) -> Path:
    """Random features where each frame carries a bump at its label's index: learnable CTC in a few steps."""
    rng = np.random.RandomState(seed)
    writer = HDFWriter(
        path,
        {
            "data": DataSpec(dim=FEATURE_DIM, dtype="float32", feature_shape=(FEATURE_DIM,)),
            "classes": DataSpec(dim=len(VOCAB), dtype="int32", sparse=True, vocab=VOCAB),
        },
    )
    for i in range(num_seqs):
        frames = int(rng.randint(min_len, max_len + 1))
        labels = rng.randint(0, len(VOCAB), size=int(rng.randint(1, frames // 3 + 1)))
        x = rng.randn(frames, FEATURE_DIM).astype("float32")
        for t in range(frames):
            x[t, labels[min(t * len(labels) // frames, len(labels) - 1)]] += 2.0
        writer.add(f"{path.stem}-{i}", {"data": x, "classes": labels})
    return writer.close()


CONFIG_TEMPLATE = """
import time
import torch

model = {model!r}
num_epochs = {num_epochs}
train = {{"class": "HDFDataset", "files": [{train!r}], "seq_ordering": "laplace:.10"}}
dev = {{"class": "HDFDataset", "files": [{dev!r}]}}
batch_size = 200
max_seqs = 8
optimizer = {{"class": "adam"}}
learning_rate = 0.01
log_verbosity = 4
tensorboard = False
_STEP_SLEEP = {step_sleep}


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear({dim}, 32)
        self.dropout = torch.nn.Dropout(0.2)
        self.out = torch.nn.Linear(32, {num_labels} + 1)

    def forward(self, x):
        return self.out(self.dropout(torch.relu(self.hidden(x))))


def get_model(*, epoch, config):
    return _Model()


def train_step(*, model, batch, ctx):
    if _STEP_SLEEP:
        time.sleep(_STEP_SLEEP)
    logp = model(batch["data"]).log_softmax(-1).transpose(0, 1)
    loss = torch.nn.functional.ctc_loss(
        logp, batch["classes"].long(), batch.lengths["data"], batch.lengths["classes"],
        blank={num_labels}, reduction="none", zero_infinity=True,
    )
    ctx.mark_as_loss("ctc", loss, custom_inv_norm_factor=batch.lengths["classes"].sum())


def forward_step(*, model, batch, ctx):
    ctx.mark_as_output("log_probs", model(batch["data"]).log_softmax(-1), lengths=batch.lengths["data"])
"""


def write_config(
    directory: Path,
    corpus: dict[str, Path],
    *,
    name: str = "config.py",
    num_epochs: int = 3,
    step_sleep: float = 0.0,
    extra: str = "",
) -> Path:
    text = CONFIG_TEMPLATE.format(
        model=str(directory / "out" / "model"),
        num_epochs=num_epochs,
        train=str(corpus["train"]),
        dev=str(corpus["dev"]),
        dim=FEATURE_DIM,
        num_labels=len(VOCAB),
        step_sleep=step_sleep,
    )
    path = directory / name
    path.write_text(text + textwrap.dedent(extra))
    return path
