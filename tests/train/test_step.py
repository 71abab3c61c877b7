"""The update of one step: gradient noise, clipping by value and by global norm, the logged gradient norm."""

from __future__ import annotations

import math

import pytest
import torch

from seqtrain.train.step import ClipOptions, GradientNoise, add_gradient_noise_, clip_and_update


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
