"""RETURNN's PyTorch-style step functions (`train_step(*, model, extern_data, **kwargs)` with
`rf.get_run_ctx().mark_as_loss`): run as RETURNN runs them, with RETURNN's objective and score names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from seqtrain.config import load_config
from seqtrain.data.hdf import HDFDataset
from seqtrain.data.loader import Batch
from seqtrain.data.returnn_tasks import Task12AXDataset
from seqtrain.model.builder import FunctionModelBuilder
from seqtrain.model.context import StepContext
from seqtrain.train.optim.lr_file import read_scores
from tests.train.helpers import run_cli

pytest.importorskip("returnn.frontend")

CONFIG = """\
#!returnn.py
import torch
import returnn.frontend as rf

backend = "torch"
task = "train"
train = {"class": "Task12AXDataset", "num_seqs": 40}
dev = {"class": "Task12AXDataset", "num_seqs": 10, "fixed_random_seed": 1}
extern_data = {"data": {"dim": 9}, "classes": {"dim": 2, "sparse": True, "available_for_inference": False}}
model_outputs = {"output": {"dim": 2}}
batching = "random"
batch_size = 1000
max_seqs = 10
optimizer = {"class": "adam"}
learning_rate = 0.01
num_epochs = 2
model = MODEL


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(9, 2, 3, padding=1)

    def forward(self, x):
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


def get_model(*, epoch, step, **_kwargs):
    return Model()


def train_step(*, model, extern_data, **_kwargs):
    data = extern_data["data"]
    lengths = data.dims[1].dyn_size_ext.raw_tensor
    logits = model(data.raw_tensor)
    packed = torch.nn.utils.rnn.pack_padded_sequence(logits, lengths, batch_first=True, enforce_sorted=False)
    targets = torch.nn.utils.rnn.pack_padded_sequence(
        extern_data["classes"].raw_tensor, lengths, batch_first=True, enforce_sorted=False)
    loss = torch.nn.CrossEntropyLoss(reduction="none")(packed.data, targets.data.long())
    rf.get_run_ctx().mark_as_loss(name="ce", loss=loss)
    rf.get_run_ctx().mark_as_loss(name="fer", loss=packed.data.argmax(-1).ne(targets.data), as_error=True)


def forward_step(*, model, extern_data):
    data = extern_data["data"]
    out = model(data.raw_tensor)
    rf.get_run_ctx().expected_outputs["output"].dims[1].dyn_size_ext.raw_tensor = data.dims[1].dyn_size_ext.raw_tensor
    rf.get_run_ctx().mark_as_default_output(tensor=out)
"""


def write(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "torch.config"
    path.write_text(text.replace("MODEL", repr(str(tmp_path / "out" / "model"))))
    return path


def test_trains_with_returnns_score_names_and_forwards(tmp_path) -> None:
    config = write(tmp_path)
    assert run_cli("train", config) == 0
    scores = read_scores(tmp_path / "out/model.learning_rates")
    assert set(scores[2].error) == {"train_loss_ce", "train_loss_fer", "dev_loss_ce", "dev_loss_fer"}
    assert 0 <= scores[2].error["dev_loss_fer"] <= 1
    assert run_cli("forward", config, "--data", "dev", "--output-hdf", tmp_path / "fwd.hdf") == 0
    written = HDFDataset([str(tmp_path / "fwd.hdf")])
    assert written.num_seqs == 10 and written.data_specs()["data"].dim == 2


def _batch() -> Batch:
    dataset = Task12AXDataset(num_seqs=3)
    seqs = [dataset.get_seq(i) for i in range(3)]
    lengths = torch.tensor([len(s["classes"]) for s in seqs], dtype=torch.int32)
    data = torch.zeros(3, int(lengths.max()), 9)
    classes = torch.zeros(3, int(lengths.max()), dtype=torch.int32)
    for i, s in enumerate(seqs):
        data[i, : len(s["classes"])] = torch.from_numpy(s["data"])
        classes[i, : len(s["classes"])] = torch.from_numpy(s["classes"])
    return Batch({"data": data, "classes": classes}, {"data": lengths, "classes": lengths}, ["a", "b", "c"], [0, 1, 2])


def test_objective_is_the_summed_ce_and_errors_get_no_gradient(tmp_path) -> None:
    config = load_config(write(tmp_path))
    builder = FunctionModelBuilder(config)
    torch.manual_seed(0)
    model = builder.build(epoch=1, step=0)
    batch = _batch()
    ctx = StepContext(train=True, epoch=1, step=0)
    builder.train_step(model=model, batch=batch, ctx=ctx)
    assert not ctx.losses["fer"].summed.requires_grad and ctx.losses["fer"].as_error
    frames = int(batch.lengths["data"].sum())
    assert float(ctx.losses["ce"].inv_norm_factor) == frames
    ctx.total_loss().backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    logits = model(batch["data"])
    mask = torch.arange(logits.shape[1])[None] < batch.lengths["data"][:, None]
    summed = torch.nn.functional.cross_entropy(logits[mask], batch["classes"][mask].long(), reduction="sum")
    summed.backward()
    for a, p in zip(ours, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("extern_data = {\"data\": {\"dim\": 9}", "extern_data = {\"data\": {\"dims\": [], \"dim\": 9}"),
         "RETURNN-frontend `dims` are not supported"),
        (("def get_model(*, epoch, step, **_kwargs):\n    return Model()",
          "def get_model(*, epoch, step, **_kwargs):\n    return rf.Linear(rf.Dim(9), rf.Dim(2))"),
         "RETURNN-frontend model"),
        (("def train_step(*, model, extern_data, **_kwargs):", "def train_step(model, data, **_kwargs):"),
         r"a step function takes \(\*, model, batch, ctx\).*requires unknown arguments \['data'\]"),
    ],
)  # fmt: skip
def test_unsupported_returnn_styles_are_clear_errors(tmp_path, capsys, change: tuple[str, str], message: str) -> None:
    text = CONFIG.replace(*change)
    assert text != CONFIG
    assert run_cli("train", write(tmp_path, text)) != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("seqtrain train: error:")]
    assert errors and re.search(message, errors[0]), errors  # a SeqtrainError's one line (others would raise here)
