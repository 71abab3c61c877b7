from __future__ import annotations

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.model.context import StepContext
from seqtrain.train.scores import ScoreAccumulator


def test_objective_sums_scaled_losses_and_skips_eval_only() -> None:
    w = torch.tensor(2.0, requires_grad=True)
    ctx = StepContext(train=True, epoch=1, step=0)
    ctx.mark_as_loss("main", w * torch.ones(3))  # sum 6
    ctx.mark_as_loss("aux", w * torch.ones(2), scale=0.5)  # sum 4, scaled 2
    ctx.mark_as_loss("eval_only", w * 100, only_eval=True)
    ctx.mark_as_loss("err", w * 10, as_error=True)
    ctx.mark_as_loss("zero", w * 1000, scale=0.0)
    total = ctx.total_loss()
    assert float(total.detach()) == pytest.approx(8.0)
    total.backward()
    assert float(w.grad) == pytest.approx(3 + 0.5 * 2)  # eval-only / error / zero-scale give no gradient


def test_normalized_loss_divides_by_norm_factor() -> None:
    w = torch.tensor(1.0, requires_grad=True)
    ctx = StepContext(train=True, epoch=1, step=0)
    ctx.mark_as_loss("ctc", w * torch.tensor([4.0, 6.0]), custom_inv_norm_factor=5, use_normalized_loss=True)
    assert float(ctx.total_loss().detach()) == pytest.approx(2.0)


def test_scores_are_sum_over_norm_over_the_epoch() -> None:
    acc = ScoreAccumulator()
    for values, labels in (([1.0, 2.0], 4), ([3.0], 2)):
        ctx = StepContext(train=False, epoch=1, step=0)
        ctx.mark_as_loss("ctc", torch.tensor(values), custom_inv_norm_factor=torch.tensor([labels]))
        ctx.mark_as_loss("ce", torch.tensor(values))  # default norm: number of elements (frames)
        acc.add(ctx.losses)
    assert acc.scores() == {"ctc": pytest.approx(6.0 / 6), "ce": pytest.approx(6.0 / 3)}
    restored = ScoreAccumulator()
    restored.load_state_dict(acc.state_dict())
    assert restored.scores() == acc.scores()


def test_marking_twice_is_an_error() -> None:
    ctx = StepContext(train=True, epoch=1, step=0)
    ctx.mark_as_loss("a", torch.tensor(1.0))
    with pytest.raises(ConfigError, match="marked twice"):
        ctx.mark_as_loss("a", torch.tensor(1.0))
    with pytest.raises(ConfigError, match=r"torch\.Tensor"):
        ctx.mark_as_loss("b", 1.0)  # type: ignore[arg-type]
