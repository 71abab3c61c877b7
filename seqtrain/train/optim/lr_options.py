"""The learning-rate control's options, resolved from the `learning_rate_control*` / `newbob_*` keys.

Its own module so that the rules (`lr_rules`) and the control that keeps the history (`lr_control`) both
read it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

LearningRateUpdate = float | Callable[[float], float]


@dataclass(frozen=True)
class ControlOptions:
    """The `learning_rate_control*` / `newbob_*` keys, resolved (RETURNN's defaults)."""

    kind: str = "constant"  # constant | newbob_rel | newbob_abs | newbob_multi_epoch
    min_learning_rate: float = 0.0
    predefined: Mapping[int, float] = field(default_factory=dict)  # learning_rates + {epoch: lr} schedule entries
    error_measure: tuple[str, ...] = ()  # empty: RETURNN's default choice (the first dev score)
    relative_error_relative_lr: bool = False
    min_num_epochs_per_new_lr: int = 0
    relative_error_div_by_old: bool = False
    decay: LearningRateUpdate = 0.5
    growth: LearningRateUpdate = 1.0
    relative_error_threshold: float = -0.01
    relative_error_grow_threshold: float = -0.01
    error_threshold: float = -0.01
    multi_num_epochs: int = 5
    multi_update_interval: int = 5

    @property
    def needs_scores(self) -> bool:
        return self.kind != "constant"
