"""The update of one step: gradient noise, clipping by value and by global norm, the logged gradient norm."""

from __future__ import annotations

import math
import re

import pytest
import torch

from seqtrain.config import Config
from seqtrain.data.collate import Batch
from seqtrain.errors import ConfigError
from seqtrain.model.context import ForwardContext, StepContext
from seqtrain.model.make_builder import make_model_builder
from seqtrain.model.precision import Precision
from seqtrain.train.step import ClipOptions, GradientNoise, TrainStep, add_gradient_noise_, clip_and_update
from tests.corpus import write_config
from tests.train.helpers import run_cli


def sgd_with_grad(grad: list[float]) -> tuple[torch.nn.Parameter, torch.optim.Optimizer]:
    param = torch.nn.Parameter(torch.zeros(len(grad)))
    param.grad = torch.tensor(grad)
    return param, torch.optim.SGD([param], lr=1.0)


def test_global_norm_clipping_returns_the_norm_before_clipping() -> None:
    param, optimizer = sgd_with_grad([3.0, 4.0])
    norm = clip_and_update(params=[param], optimizer=optimizer, clip=ClipOptions(gradient_clip_global_norm=1.0))
    assert norm == 5.0
    assert torch.allclose(param.detach(), torch.tensor([-0.6, -0.8]))
    assert param.grad is None  # cleared for the next step


def test_clip_by_value_then_by_norm() -> None:
    param, optimizer = sgd_with_grad([3.0, 4.0])
    clip = ClipOptions(gradient_clip=2.0, gradient_clip_global_norm=1.0)
    assert clip_and_update(params=[param], optimizer=optimizer, clip=clip) == 5.0
    # [3, 4] -> by value [2, 2] -> norm 2.83 -> scaled to norm 1: [0.707, 0.707]
    assert torch.allclose(param.detach(), torch.full((2,), -1 / math.sqrt(2)))


def test_no_clipping_leaves_the_gradient_alone() -> None:
    param, optimizer = sgd_with_grad([3.0, 4.0])
    assert clip_and_update(params=[param], optimizer=optimizer, clip=ClipOptions()) == 5.0
    assert torch.equal(param.detach(), torch.tensor([-3.0, -4.0]))


def test_gradient_noise_is_a_truncated_normal_from_the_given_seed() -> None:
    grads = [torch.zeros(200_000), torch.zeros(3, 5)]
    add_gradient_noise_(grads, GradientNoise(std=0.1, seed=7))
    noise = grads[0]
    assert noise.abs().max() <= 0.2  # cut at 2 std
    # std of a normal truncated at +-2 sigma: sigma * sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))) = 0.8796 sigma
    assert float(noise.std()) == pytest.approx(0.08796, rel=0.01)
    assert abs(float(noise.mean())) < 0.001
    again = [torch.zeros(200_000), torch.zeros(3, 5)]
    add_gradient_noise_(again, GradientNoise(std=0.1, seed=7))
    assert all(torch.equal(a, b) for a, b in zip(grads, again))
    other = [torch.zeros(200_000)]
    add_gradient_noise_(other, GradientNoise(std=0.1, seed=8))
    assert not torch.equal(other[0], grads[0])


def test_noise_comes_before_clipping_and_does_not_change_the_logged_norm() -> None:
    param, optimizer = sgd_with_grad([0.0] * 1000)
    clip = ClipOptions(gradient_clip=0.05)
    norm = clip_and_update(params=[param], optimizer=optimizer, clip=clip, noise=GradientNoise(std=1.0, seed=1))
    assert norm == 0.0  # the gradient as it came out of backward
    assert param.detach().abs().max() == pytest.approx(0.05)  # noise of std 1, clipped to 0.05
    assert (param.detach().abs() == 0.05).float().mean() > 0.9


OUT_OF_MEMORY = """
num_workers = 0
_plain_train_step = train_step

def train_step(*, model, batch, ctx):
    if ctx.step == 1:  # what the CUDA caching allocator raises
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    _plain_train_step(model=model, batch=batch, ctx=ctx)
"""


def test_out_of_memory_names_the_batch_and_what_to_change(tiny_corpus: dict, tmp_path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=1, extra=OUT_OF_MEMORY)
    assert run_cli("train", config) == 1
    error = capsys.readouterr().err
    assert re.search(r"epoch 1, step 1: out of memory in the batch of \d+ seqs, padded data \(\d+, \d+, 8\)", error)
    assert "(seqs train-" in error
    assert "Lower batch_size (padded frames per batch) or max_seqs" in error
    assert "(CUDA out of memory. Tried to allocate 20.00 GiB)" in error


def test_a_train_step_under_autocast_and_the_output_of_forward_is_float32() -> None:
    """The step's objective and every marked output reach the loop and the decoders in float32."""
    config = Config.from_dict(
        {
            "get_model": lambda **_: torch.nn.Linear(3, 2),
            "train_step": lambda *, model, batch, ctx: ctx.mark_as_loss("l2", model(batch["data"]) ** 2),
        }
    )
    model = torch.nn.Linear(3, 2)
    step = TrainStep(model, make_model_builder(config), Precision(amp=True, dtype=torch.bfloat16), torch.device("cpu"))
    batch = Batch({"data": torch.randn(2, 4, 3)}, {"data": torch.tensor([4, 3], dtype=torch.int32)}, ["a", "b"], [0, 1])
    ctx = StepContext(train=True, epoch=1, step=0)
    total = step(batch, ctx)
    assert total is not None and total.dtype == torch.float32
    forward = ForwardContext(epoch=1)
    forward.mark_as_output("y", model(batch["data"]).bfloat16())
    assert forward.outputs["y"][0].dtype == torch.float32


def test_float16_on_the_cpu_with_an_lstm_is_a_clear_error() -> None:
    """oneDNN has no float16 LSTM: the raw RuntimeError becomes one that says what to use instead."""

    def lstm_step(*, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None:
        ctx.mark_as_loss("sum", model(batch["data"])[0])

    config = Config.from_dict({"get_model": lambda **_: torch.nn.LSTM(3, 4), "train_step": lstm_step})
    step = TrainStep(
        torch.nn.LSTM(3, 4, batch_first=True), make_model_builder(config), Precision(amp=True, dtype=torch.float16),
        torch.device("cpu"),
    )  # fmt: skip
    batch = Batch({"data": torch.randn(2, 4, 3)}, {"data": torch.tensor([4, 3], dtype=torch.int32)}, ["a", "b"], [0, 1])
    with pytest.raises(ConfigError, match="use torch_amp='bfloat16' on the CPU, float16 on a GPU"):
        step(batch, StepContext(train=True, epoch=1, step=0))


def test_an_error_of_the_users_step_under_float16_on_the_cpu_stays_as_it_is() -> None:
    def failing_step(*, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None:
        raise RuntimeError("my own bug")

    config = Config.from_dict({"get_model": lambda **_: torch.nn.Linear(3, 2), "train_step": failing_step})
    step = TrainStep(
        torch.nn.Linear(3, 2), make_model_builder(config), Precision(amp=True, dtype=torch.float16), torch.device("cpu")
    )
    batch = Batch({"data": torch.randn(1, 2, 3)}, {"data": torch.tensor([2], dtype=torch.int32)}, ["a"], [0])
    with pytest.raises(RuntimeError, match="my own bug"):
        step(batch, StepContext(train=True, epoch=1, step=0))
