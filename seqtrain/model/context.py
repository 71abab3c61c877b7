"""What a user's `train_step` / `forward_step` talks to: mark losses, mark outputs.

Losses are marked, not returned, so one step can produce several losses with scales, auxiliary and
eval-only losses, and error measures, and the engine decides what gets a gradient (training) and what
is only reported (eval, `only_eval`, `as_error`). In recognition no loss is ever computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqtrain.errors import ConfigError


@dataclass
class MarkedLoss:
    """One marked loss of one step: summed value and the count it is normalized by when reported."""

    name: str
    summed: torch.Tensor
    inv_norm_factor: torch.Tensor
    scale: float
    as_error: bool
    only_eval: bool
    use_normalized_loss: bool

    def objective(self) -> torch.Tensor:
        """This loss's contribution to the training objective (RETURNN: summed unless normalized)."""
        value = self.summed / self.inv_norm_factor if self.use_normalized_loss else self.summed
        return self.scale * value


class StepContext:
    """Passed as `ctx` to `train_step`: where training is, and `mark_as_loss`."""

    def __init__(self, *, train: bool, epoch: int, step: int) -> None:
        self.train = train
        self.epoch = epoch
        self.step = step
        self.losses: dict[str, MarkedLoss] = {}

    def mark_as_loss(
        self,
        name: str,
        loss: torch.Tensor,
        *,
        scale: float = 1.0,
        as_error: bool = False,
        only_eval: bool = False,
        custom_inv_norm_factor: torch.Tensor | float | int | None = None,
        use_normalized_loss: bool = False,
    ) -> None:
        """Marks a loss (any shape; it is summed) under `name`.

        Reported per epoch as sum(loss) / sum(inv_norm_factor); the factor defaults to the number of
        elements of `loss` (per frame for a frame-wise loss), pass e.g. the number of target labels for
        CTC. `scale` weights it in the training objective; `as_error` and `only_eval` losses are
        reported but never get a gradient; `scale=0` has the same effect.
        """
        if name in self.losses:
            raise ConfigError(f"mark_as_loss: loss {name!r} marked twice in one step; give each loss its own name")
        if not isinstance(loss, torch.Tensor):
            raise ConfigError(f"mark_as_loss({name!r}): loss must be a torch.Tensor, got {type(loss).__name__}")
        if custom_inv_norm_factor is None:
            norm = torch.tensor(float(max(loss.numel(), 1)), device=loss.device)
        elif isinstance(custom_inv_norm_factor, torch.Tensor):
            norm = custom_inv_norm_factor.detach().to(loss.device, torch.float32).sum()
        else:
            norm = torch.tensor(float(custom_inv_norm_factor), device=loss.device)
        summed = loss.float().sum()
        no_grad = as_error or only_eval or scale == 0
        self.losses[name] = MarkedLoss(
            name=name,
            summed=summed.detach() if no_grad else summed,
            inv_norm_factor=norm,
            scale=float(scale),
            as_error=as_error,
            only_eval=only_eval,
            use_normalized_loss=use_normalized_loss,
        )

    def total_loss(self) -> torch.Tensor | None:
        """The training objective: sum of the scaled losses that get a gradient; None if there are none."""
        terms = [m.objective() for m in self.losses.values() if m.summed.requires_grad]
        if not terms:
            return None
        return torch.stack(terms).sum() if len(terms) > 1 else terms[0]


class ForwardContext:
    """Passed as `ctx` to `forward_step`: `mark_as_output` for recognition, alignment and dumping."""

    def __init__(self, *, epoch: int) -> None:
        self.epoch = epoch
        self.train = False
        self.outputs: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def mark_as_output(self, name: str, tensor: torch.Tensor, *, lengths: torch.Tensor | None = None) -> None:
        """Marks `tensor` [B, T, ...] (with per-sequence `lengths` [B] if it has a time axis) as an output.
        float16/bfloat16 (from autocast) is stored as float32: decoders sum log probabilities over frames."""
        if name in self.outputs:
            raise ConfigError(f"mark_as_output: output {name!r} marked twice in one step")
        value = tensor.detach()
        if value.dtype in (torch.float16, torch.bfloat16):
            value = value.float()
        self.outputs[name] = (value, None if lengths is None else lengths.detach().cpu())

    def mark_as_loss(self, *_args: object, **_kwargs: object) -> None:
        """Losses are never computed in forward/recognition; a shared step function may still call this."""
