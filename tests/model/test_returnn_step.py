"""RETURNN's PyTorch-style step functions (`train_step(*, model, extern_data, **kwargs)` with
`rf.get_run_ctx().mark_as_loss`): run as RETURNN runs them, with RETURNN's objective and score names."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from seqtrain.config import load_config
from seqtrain.data.hdf import HDFDataset
from seqtrain.data.loader import Batch
from seqtrain.data.returnn_tasks import Task12AXDataset
from seqtrain.errors import ConfigError
from seqtrain.model.builder import FunctionModelBuilder
from seqtrain.model.context import ForwardContext, StepContext
from seqtrain.model.returnn_step import ReturnnSteps
from seqtrain.train.optim.lr_file import read_scores
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli

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


def test_trains_with_returnns_score_names_and_forwards_with_lengths(tmp_path) -> None:
    config = write(tmp_path)
    assert run_cli("train", config) == 0
    scores = read_scores(tmp_path / "out/model.learning_rates")
    assert set(scores[2].error) == {"train_loss_ce", "train_loss_fer", "dev_loss_ce", "dev_loss_fer"}
    assert (
        0 <= scores[2].error["dev_loss_fer"] <= 1 and scores[2].error["dev_loss_ce"] < scores[1].error["train_loss_ce"]
    )
    assert run_cli("forward", config, "--data", "dev", "--output-hdf", tmp_path / "fwd.hdf") == 0
    written, dev = HDFDataset([str(tmp_path / "fwd.hdf")]), Task12AXDataset(num_seqs=10, fixed_random_seed=1)
    assert written.num_seqs == 10 and written.data_specs()["data"].dim == 2
    lengths = dict(zip(map(written.seq_tag, range(10)), written.seq_lengths()["data"], strict=True))
    assert lengths == {dev.seq_tag(i): n for i, n in enumerate(dev.seq_lengths()["data"])}  # not padded


SEQTRAIN_STEP = """def train_step(*, model, batch, ctx):
    lengths = batch.lengths["data"]
    logits = model(batch["data"])
    packed = torch.nn.utils.rnn.pack_padded_sequence(logits, lengths, batch_first=True, enforce_sorted=False)
    targets = torch.nn.utils.rnn.pack_padded_sequence(batch["classes"], lengths, batch_first=True, enforce_sorted=False)
    loss = torch.nn.CrossEntropyLoss(reduction="none")(packed.data, targets.data.long())
    ctx.mark_as_loss("ce", loss)
    ctx.mark_as_loss("fer", packed.data.argmax(-1).ne(targets.data), as_error=True)


"""


def test_training_equals_the_same_step_written_seqtrain_style(tmp_path) -> None:
    """RETURNN's objects only translate: the run (scores, parameters) is bitwise the seqtrain-style run."""
    start, end = CONFIG.index("def train_step"), CONFIG.index("def forward_step")
    runs = {"returnn": CONFIG, "seqtrain": CONFIG[:start] + SEQTRAIN_STEP + CONFIG[end:]}
    for name, text in runs.items():
        (tmp_path / name).mkdir()
        assert run_cli("train", write(tmp_path / name, text), "num_epochs=1") == 0
    (a, b) = (read_scores(tmp_path / name / "out/model.learning_rates")[1].error for name in runs)
    assert a == b and set(a) == {"train_loss_ce", "train_loss_fer", "dev_loss_ce", "dev_loss_fer"}
    assert_bitwise_equal(*(model_params(tmp_path / name / "out/model.001.pt") for name in runs))


def test_trains_under_autocast(tmp_path) -> None:
    assert run_cli("train", write(tmp_path, CONFIG + 'torch_amp = "bfloat16"\nnum_epochs = 1\n')) == 0
    scores = read_scores(tmp_path / "out/model.learning_rates")
    assert 0 < scores[1].error["dev_loss_ce"] < 10


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


def _step(tmp_path: Path, text: str = CONFIG) -> tuple[torch.nn.Module, Batch, StepContext]:
    builder = FunctionModelBuilder(load_config(write(tmp_path, text)))
    torch.manual_seed(0)
    model, batch = builder.build(epoch=1, step=0), _batch()
    ctx = StepContext(train=True, epoch=1, step=0)
    builder.train_step(model=model, batch=batch, ctx=ctx)
    return model, batch, ctx


def _summed_ce(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    logits = model(batch["data"])
    mask = torch.arange(logits.shape[1])[None] < batch.lengths["data"][:, None]
    return torch.nn.functional.cross_entropy(logits[mask], batch["classes"][mask].long(), reduction="sum")


def test_objective_is_the_summed_ce_and_errors_get_no_gradient(tmp_path) -> None:
    model, batch, ctx = _step(tmp_path)
    assert not ctx.losses["fer"].summed.requires_grad and ctx.losses["fer"].as_error
    frames = int(batch.lengths["data"].sum())
    assert float(ctx.losses["ce"].inv_norm_factor) == frames == float(ctx.losses["fer"].inv_norm_factor)
    ctx.total_loss().backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    _summed_ce(model, batch).backward()
    for a, p in zip(ours, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)


def test_scale_normalization_and_custom_norm_factor_are_returnns(tmp_path) -> None:
    """use_normalized_loss: the objective is scale * sum / norm; the norm is the custom factor (an rf Tensor)."""
    mark = 'rf.get_run_ctx().mark_as_loss(name="ce", loss=loss)'
    custom = (
        'rf.get_run_ctx().mark_as_loss(name="ce", loss=loss, scale=0.5, use_normalized_loss=True, '
        'custom_inv_norm_factor=extern_data["classes"].dims[1].dyn_size_ext * 2)'
    )
    model, batch, ctx = _step(tmp_path, CONFIG.replace(mark, custom))
    norm = 2 * int(batch.lengths["data"].sum())
    assert float(ctx.losses["ce"].inv_norm_factor) == norm
    with torch.no_grad():
        expected = 0.5 * _summed_ce(model, batch) / norm
    torch.testing.assert_close(ctx.total_loss().detach(), expected)


def test_the_step_sees_returnns_run_context(tmp_path) -> None:
    """train_flag/step/epoch and rf's default device are set as RETURNN's engine sets them (eval: train_flag off)."""
    record = (
        "    SEEN.append((rf.get_run_ctx().train_flag, rf.get_run_ctx().step, rf.get_run_ctx().epoch, "
        "rf.get_default_device()))\n"
    )
    text = CONFIG.replace(
        "def train_step(*, model, extern_data, **_kwargs):\n",
        "SEEN = []\n\n\n" + "def train_step(*, model, extern_data, **_kwargs):\n" + record,
    )
    builder = FunctionModelBuilder(load_config(write(tmp_path, text)))
    model = builder.build(epoch=3, step=0)
    for train in (True, False):
        builder.train_step(model=model, batch=_batch(), ctx=StepContext(train=train, epoch=3, step=7))
    assert builder._train_step.__globals__["SEEN"] == [(True, 7, 3, "cpu"), (False, 7, 3, "cpu")]


def test_seqtrain_style_configs_never_import_returnn(tmp_path, monkeypatch) -> None:
    """RETURNN is no dependency: with every `import returnn...` failing, a seqtrain-style config still trains."""
    text = CONFIG[: CONFIG.index("def train_step")] + SEQTRAIN_STEP
    text = text.replace("#!returnn.py\n", "").replace("import returnn.frontend as rf\n", "")
    text = text.replace('backend = "torch"\n', "").replace('task = "train"\n', "")
    for name in [m for m in sys.modules if m == "returnn" or m.startswith("returnn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    assert run_cli("train", write(tmp_path, text), "num_epochs=1") == 0
    assert set(read_scores(tmp_path / "out/model.learning_rates")[1].error) == {
        "train_loss_ce", "train_loss_fer", "dev_loss_ce", "dev_loss_fer"
    }  # fmt: skip


def test_returnn_style_without_returnn_installed(monkeypatch) -> None:
    """Only a RETURNN-style step imports RETURNN (seqtrain never does); without it, the error says how to get it."""
    monkeypatch.setitem(sys.modules, "returnn.frontend", None)  # `import returnn.frontend` now fails
    with pytest.raises(ConfigError, match=r"pip install returnn"):
        ReturnnSteps({"data": {"dim": 9}}, None, train_step=lambda *, model, extern_data: None, forward_step=None)


def test_forward_step_must_mark_the_declared_outputs(tmp_path) -> None:
    text = CONFIG.replace("    rf.get_run_ctx().mark_as_default_output(tensor=out)\n", "")
    builder = FunctionModelBuilder(load_config(write(tmp_path, text)))
    with pytest.raises(ConfigError, match=r"marked the outputs \[\], model_outputs declares \['output'\]"):
        builder.forward_step(model=builder.build(epoch=1, step=0), batch=_batch(), ctx=ForwardContext(epoch=1))


def test_extern_data_key_missing_from_the_batch(tmp_path) -> None:
    text = CONFIG.replace(
        'extern_data = {"data": {"dim": 9},', 'extern_data = {"data": {"dim": 9}, "speaker": {"dim": 3},'
    )
    with pytest.raises(ConfigError, match=r"extern_data key 'speaker' is not in the batch"):
        _step(tmp_path, text)


RF_MODEL = """
class Model(rf.Module):
    def __init__(self):
        super().__init__()
        self.linear = rf.Linear(rf.Dim(9, name="in"), rf.Dim(2, name="out"))
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('extern_data = {"data": {"dim": 9}', 'extern_data = {"data": {"dims": [], "dim": 9}'),
         r"RETURNN-frontend config \(rf.Module models\), which seqtrain does not support"),
        (("class Model(torch.nn.Module):", RF_MODEL + "\n\nclass _Unused(torch.nn.Module):"),
         r"get_model returned a RETURNN-frontend model \(Model, an rf.Module\); RETURNN-frontend models are not"),
        (("def train_step(*, model, extern_data, **_kwargs):", "def train_step(model, data, **_kwargs):"),
         r"a step function takes \(\*, model, batch, ctx\).*requires unknown arguments \['data'\]"),
        (("def train_step(*, model, extern_data, **_kwargs):", "def train_step(*, model, extern_data, ctx):"),
         r"train_step\(\*, model, extern_data, ctx\): takes both RETURNN's `extern_data` and seqtrain's batch/ctx"),
    ],
)  # fmt: skip
def test_unsupported_returnn_styles_are_clear_errors(tmp_path, capsys, change: tuple[str, str], message: str) -> None:
    text = CONFIG.replace(*change)
    assert text != CONFIG
    assert run_cli("train", write(tmp_path, text)) != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("seqtrain train: error:")]
    assert errors and re.search(message, errors[0]), errors  # a SeqtrainError's one line (others would raise here)
