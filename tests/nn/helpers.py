"""Small builders for net-dict tests: a batch from tensors, a builder from a net dict."""

from __future__ import annotations

from typing import Any

import torch

from seqtrain.config import Config
from seqtrain.data.loader import Batch
from seqtrain.model.context import StepContext
from seqtrain.model.net_dict_builder import NetDictModelBuilder

FEATURES = 6
CLASSES = 5
EXTERN_DATA = {"data": {"dim": FEATURES}, "classes": {"dim": CLASSES, "sparse": True}}
EXTERN_12AX = {"data": {"dim": 9}, "classes": {"dim": 2, "sparse": True}}  # RETURNN's 12AX demo task


def make_batch(frames: list[int], labels: list[int], *, seed: int = 0, frame_labels: bool = False) -> Batch:
    """Random features [B, T, 6] with the given lengths; random labels (per frame if `frame_labels`)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(frames), max(frames), FEATURES)
    label_lengths = frames if frame_labels else labels
    y = torch.zeros(len(frames), max(label_lengths), dtype=torch.int32)
    for i, (t, n) in enumerate(zip(frames, label_lengths)):
        x[i, :t] = torch.randn(t, FEATURES, generator=gen)
        y[i, :n] = torch.randint(0, CLASSES, (n,), generator=gen, dtype=torch.int32)
    lengths = {
        "data": torch.tensor(frames, dtype=torch.int32),
        "classes": torch.tensor(label_lengths, dtype=torch.int32),
    }
    return Batch({"data": x, "classes": y}, lengths, [f"seq-{i}" for i in range(len(frames))], list(range(len(frames))))


def make_builder(network: dict[str, Any] | None = None, **config: Any) -> NetDictModelBuilder:
    values = {"extern_data": EXTERN_DATA, **config}
    if network is not None:
        values["network"] = network
    return NetDictModelBuilder(Config.from_dict(values))


def build(builder: NetDictModelBuilder, *, epoch: int = 1, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return builder.build(epoch=epoch, step=0)


def run_step(
    builder: NetDictModelBuilder,
    model: torch.nn.Module,
    batch: Batch,
    *,
    train: bool,
    epoch: int = 1,
    step: int = 0,
    seed: int = 1,
) -> StepContext:
    """One train_step (train or eval mode) with torch's generator seeded like the engine does."""
    model.train(train)
    torch.manual_seed(seed)
    ctx = StepContext(train=train, epoch=epoch, step=step)
    if train:
        builder.train_step(model=model, batch=batch, ctx=ctx)
    else:
        with torch.no_grad():
            builder.train_step(model=model, batch=batch, ctx=ctx)
    return ctx


def make_12ax_builder(network: dict[str, Any]) -> NetDictModelBuilder:
    """A builder for RETURNN's 12AX demo nets: 9 input features, 2 classes."""
    return NetDictModelBuilder(Config.from_dict({"extern_data": EXTERN_12AX, "network": network}))


def make_12ax_batch(lengths: list[int]) -> Batch:
    """Random 12AX-shaped features [B, T, 9] with a random class per frame."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(len(lengths), max(lengths), 9, generator=gen)
    y = torch.randint(0, 2, (len(lengths), max(lengths)), generator=gen, dtype=torch.int32)
    lens = torch.tensor(lengths, dtype=torch.int32)
    tags = [f"seq-{i}" for i in range(len(lengths))]
    return Batch({"data": x, "classes": y}, {"data": lens, "classes": lens}, tags, list(range(len(lengths))))


def explicit_lstm_unit(n_out: int, output_eval: str) -> dict[str, Any]:
    """The rec unit of RETURNN's demo-tf-rec-explicit-lstm: an LSTM spelled out in linear and eval layers;
    `output_eval` combines source(0) = the output gate with source(1) = the cell."""
    gate = {"class": "linear", "from": "input", "n_out": n_out}
    return {
        "input": {"class": "copy", "from": ["prev:output", "data:source"]},
        "input_gate": {**gate, "activation": "sigmoid"}, "forget_gate": {**gate, "activation": "sigmoid"},
        "output_gate": {**gate, "activation": "sigmoid"}, "cell_in": {**gate, "activation": "tanh"},
        "c": {"class": "eval", "from": ["input_gate", "cell_in", "forget_gate", "prev:c"],
              "eval": "source(0) * source(1) + source(2) * source(3)"},
        "output": {"class": "eval", "from": ["output_gate", "c"], "eval": output_eval},
    }  # fmt: skip
