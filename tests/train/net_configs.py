"""Net-dict config files on the tiny test corpus, for engine-level tests of pretraining, subsets and pipelines."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.corpus import FEATURE_DIM, VOCAB

HEADER = """
import os
import time

model = {model!r}
train = {{"class": "HDFDataset", "files": [{train!r}], "seq_ordering": "laplace:.10"}}
dev = {{"class": "HDFDataset", "files": [{dev!r}]}}
extern_data = {{"data": {{"dim": {dim}}}, "classes": {{"dim": {labels}, "sparse": True}}}}
batch_size = 200
max_seqs = 8
optimizer = {{"class": "adam"}}
learning_rate = 0.01
tensorboard = False
_DIR = {directory!r}
_SLEEP = float(os.environ.get("SEQTRAIN_TEST_STEP_SLEEP", "0"))


def _slow(x):
    if _SLEEP:
        time.sleep(_SLEEP)
    return x
"""


def write_net_config(directory: Path, corpus: dict[str, Path], body: str, *, name: str = "config.py") -> Path:
    """A config with the tiny corpus as train/dev, Adam, small batches, and `body` (the model and the rest).

    `_slow` (an identity that sleeps SEQTRAIN_TEST_STEP_SLEEP seconds) can be put into a net as an `eval` layer,
    so a subprocess can be killed in the middle of an epoch.
    """
    text = HEADER.format(
        model=str(directory / "out" / "model"),
        train=str(corpus["train"]),
        dev=str(corpus["dev"]),
        dim=FEATURE_DIM,
        labels=len(VOCAB),
        directory=str(directory),
    )
    path = directory / name
    path.write_text(text + textwrap.dedent(body))
    return path
