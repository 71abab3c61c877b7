"""Generic scheduling in real training runs: `#config` per epoch, batch size growth, curriculum, hand-edited rates.

The clipping example is the seed's (`gradient_clip = 10` only for epochs < 5); its effect is observed in
the parameters: a model whose gradient is 1000 for every weight moves by exactly lr * clip per step.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from seqtrain.config import load_config
from seqtrain.data.setup import build_data, plan_for
from seqtrain.model.builder import FunctionModelBuilder
from seqtrain.train import engine
from seqtrain.train.optim.lr_file import EpochData, read_scores, write_scores
from tests.corpus import write_config
from tests.train.helpers import run_cli

WEIGHTS_MODEL = """
optimizer = None  # SGD
learning_rate = 0.5
gradient_clip = 0
num_workers = 0


class _Weights(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(4))


def get_model(*, epoch, config):
    return _Weights()


def train_step(*, model, batch, ctx):
    # the gradient is 1000 for every weight whatever the batch, so each update moves w by exactly lr * min(1000, clip)
    ctx.mark_as_loss("lin", (model.w * 1000.0).sum() + 0.0 * batch["data"].sum(), custom_inv_norm_factor=1)
"""


def get_network(epoch: int, **kwargs: Any) -> dict[str, Any]:
    """The seed's example, as a net-dict config's get_network returns it (here only its "#config" is used)."""
    net_dict: dict[str, Any] = {"#config": {}}
    if epoch < 5:
        net_dict["#config"]["gradient_clip"] = 10
    return net_dict


class NetConfigBuilder(FunctionModelBuilder):
    """get_model/train_step for the model, `#config` from `get_network` above: a stand-in for the net-dict builder."""

    def epoch_config(self, epoch: int) -> dict[str, Any]:
        return dict(get_network(epoch)["#config"])


def checkpoint(out: Path, epoch: int) -> dict[str, Any]:
    return torch.load(out / f"model.{epoch:03d}.pt", weights_only=True)


def test_seed_gradient_clip_example_changes_clipping_exactly_at_epoch_5(
    tiny_corpus: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(engine, "make_model_builder", NetConfigBuilder)
    config = write_config(tmp_path, tiny_corpus, num_epochs=6, extra=WEIGHTS_MODEL)
    assert run_cli("train", config) == 0
    out = tmp_path / "out"
    w, step = 0.0, 0
    for epoch in range(1, 7):
        state = checkpoint(out, epoch)
        steps = state["global_step"] - step
        assert steps > 0
        w -= 0.5 * steps * (10.0 if epoch < 5 else 1000.0)
        assert torch.equal(state["model"]["w"], torch.full((4,), w)), f"epoch {epoch}"
        step = state["global_step"]
    log = capsys.readouterr().out
    assert "epoch 5: gradient_clip 10 → 0" in log
    changes = [line for line in log.splitlines() if line.startswith("epoch") and "gradient_clip" in line]
    assert changes == ["epoch 5: gradient_clip 10 → 0"]  # logged once, where it changes
    resolved = {e: (out / f"model.config/resolved.epoch.{e:03d}.txt").read_text() for e in (4, 5)}
    assert "\ngradient_clip = 10  #" in resolved[4]
    assert "\ngradient_clip = 0  #" in resolved[5]


try:
    import seqtrain.model.net_dict_builder  # noqa: F401

    HAVE_NET_DICT = True
except ImportError:
    HAVE_NET_DICT = False

SEED_CONFIG = """
model = {model!r}
num_epochs = 5
train = {{"class": "HDFDataset", "files": [{train!r}], "seq_ordering": "laplace:.10"}}
dev = {{"class": "HDFDataset", "files": [{dev!r}]}}
batch_size = 200
max_seqs = 8
learning_rate = 0.5
num_workers = 0
tensorboard = False
gradient_clip = {clip}


def get_network(epoch: int, **kwargs):
    net_dict = {{
        "hidden": {{"class": "linear", "activation": "relu", "n_out": 16, "from": "data"}},
        "output": {{"class": "softmax", "from": "hidden", "n_out": 6, "loss": "ctc", "target": "classes"}},
        "#config": {{}},
    }}
    if {seed_example}:
        if epoch < 5:
            net_dict["#config"]["gradient_clip"] = 10
    return net_dict
"""


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NET_DICT, reason="net dict builder not available")
def test_seed_example_literally_with_get_network(
    tiny_corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The seed's config, word for word in get_network; against a run that clips in every epoch."""
    runs = {}
    for name, clip, seed_example in (("seed", 0, True), ("always", 10, False)):
        directory = tmp_path / name
        directory.mkdir()
        path = directory / "config.py"
        path.write_text(
            SEED_CONFIG.format(
                model=str(directory / "out/model"),
                train=str(tiny_corpus["train"]),
                dev=str(tiny_corpus["dev"]),
                clip=clip,
                seed_example=seed_example,
            )
        )
        assert run_cli("train", path) == 0
        runs[name] = directory / "out"
    assert "epoch 5: gradient_clip 10 → 0" in capsys.readouterr().out
    for epoch in range(1, 5):  # clipped at 10 in both runs
        assert all(
            torch.equal(a, b)
            for a, b in zip(
                checkpoint(runs["seed"], epoch)["model"].values(), checkpoint(runs["always"], epoch)["model"].values()
            )
        )
    last = zip(checkpoint(runs["seed"], 5)["model"].values(), checkpoint(runs["always"], 5)["model"].values())
    assert not all(torch.equal(a, b) for a, b in last), "epoch 5 must train without clipping"


def test_batch_size_growth_and_max_length_curriculum(
    tiny_corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    extra = """
    batch_size = {1: 100, 3: 400}
    max_seq_length = {1: 25, 2: None}  # only short sequences in epoch 1
    num_workers = 0
    """
    config = write_config(tmp_path, tiny_corpus, num_epochs=3, extra=extra)
    assert run_cli("train", config) == 0
    log = capsys.readouterr().out
    assert "epoch 2: max_seq_length 25 → None" in log
    assert "epoch 3: batch_size 100 → 400" in log
    fixed = {1: ["batch_size=100", "max_seq_length=25"], 2: ["batch_size=100"], 3: ["batch_size=400"]}
    step = 0
    for epoch, overrides in fixed.items():
        expected_config = load_config(config, overrides)
        train_setup = build_data(expected_config, need_train=True).train
        assert train_setup is not None
        plan = plan_for(expected_config, train_setup, epoch, step=step)
        state = checkpoint(tmp_path / "out", epoch)
        assert state["data"]["num_batches"] == len(plan.batches)
        assert state["global_step"] - step == len(plan.batches)
        step = state["global_step"]
        if epoch == 1:
            assert plan.num_skipped > 0
    batches = [checkpoint(tmp_path / "out", epoch)["data"]["num_batches"] for epoch in (1, 2, 3)]
    assert batches[2] < batches[1]  # 4x the batch size


def test_learning_rate_of_each_step_reaches_every_param_group(tiny_corpus: dict[str, Path], tmp_path: Path) -> None:
    extra = """
    learning_rates = [0.002, 0.004]
    learning_rate_step_schedule = {"warmup_steps": 1000}  # still warming up: factor (step + 1) / 1000
    optimizer = {"class": "adam", "param_groups": [{"params": "out.*", "learning_rate_multiplier": 0.5}]}
    num_workers = 0
    """
    config = write_config(tmp_path, tiny_corpus, num_epochs=2, extra=extra)
    assert run_cli("train", config) == 0
    state = checkpoint(tmp_path / "out", 2)
    last_step = state["global_step"] - 1
    groups = state["optimizer"]["param_groups"]
    assert [g.get("learning_rate_multiplier", 1.0) for g in groups] == [1.0, 0.5]
    assert groups[0]["lr"] == pytest.approx(0.004 * (last_step + 1) / 1000, rel=1e-12)
    assert groups[1]["lr"] == pytest.approx(0.5 * 0.004 * (last_step + 1) / 1000, rel=1e-12)
    assert [d.learning_rate for d in read_scores(tmp_path / "out/model.learning_rates").values()] == [0.002, 0.004]


def test_a_hand_edited_rate_in_the_file_is_used(
    tiny_corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=2, extra="num_workers = 0\n")
    assert run_cli("train", config, "num_epochs=1") == 0
    path = tmp_path / "out/model.learning_rates"
    data = read_scores(path)
    assert data[1].learning_rate == 0.01 and "dev_loss_ctc" in data[1].error
    data[2] = EpochData(0.0123)  # what a user writes into the file for the coming epoch
    write_scores(path, data)
    capsys.readouterr()
    assert run_cli("train", config) == 0
    assert f"epoch 2: learning rate 0.0123 (as stored in {path})" in capsys.readouterr().out
    assert checkpoint(tmp_path / "out", 2)["optimizer"]["param_groups"][0]["lr"] == 0.0123
    after = read_scores(path)
    assert after[2].learning_rate == 0.0123 and "dev_loss_ctc" in after[2].error
    assert after[1] == data[1]


def test_config_file_of_a_run_with_schedules_passes_seqtrain_config(
    tiny_corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    extra = textwrap.dedent(
        """
        gradient_noise = {1: 0.0, 3: 0.01}
        accum_grad_multiple_step = lambda *, epoch, step: 1 if epoch < 2 else 2
        learning_rate_control = "newbob_multi_epoch"
        """
    )
    config = write_config(tmp_path, tiny_corpus, extra=extra)
    assert run_cli("config", config, "--epoch", "3") == 0
    out = capsys.readouterr().out
    assert "gradient_noise = 0.01  # config" in out
    assert "accum_grad_multiple_step = 2  # config" in out
    assert "learning_rate_control = 'newbob_multi_epoch'  # config" in out
