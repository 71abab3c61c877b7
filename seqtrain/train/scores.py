"""Sums marked losses over an epoch and normalizes them the way RETURNN reports scores."""

from __future__ import annotations

import math

import torch

from seqtrain.model.context import MarkedLoss


class ScoreAccumulator:
    """Per loss name: sum of summed losses and sum of normalization counts; score = ratio."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._norms: dict[str, float] = {}

    def add(self, losses: dict[str, MarkedLoss]) -> dict[str, float]:
        """Adds one step's losses; returns that step's normalized scores (for per-step logs)."""
        step_scores = {}
        for name, m in losses.items():
            value = float(m.summed.detach())
            norm = float(m.inv_norm_factor)
            self._sums[name] = self._sums.get(name, 0.0) + value
            self._norms[name] = self._norms.get(name, 0.0) + norm
            step_scores[name] = value / norm if norm else math.nan
        return step_scores

    def scores(self) -> dict[str, float]:
        return {n: (self._sums[n] / self._norms[n] if self._norms[n] else math.nan) for n in self._sums}

    def state_dict(self) -> dict[str, dict[str, float]]:
        return {"sums": dict(self._sums), "norms": dict(self._norms)}

    def load_state_dict(self, state: dict[str, dict[str, float]]) -> None:
        self._sums = {k: float(v) for k, v in state["sums"].items()}
        self._norms = {k: float(v) for k, v in state["norms"].items()}

    def reduce_across(self, all_reduce: object) -> None:
        """Sums the accumulators of all ranks (`all_reduce` sums a 1-D float64 tensor in place)."""
        names = sorted(self._sums)
        t = torch.tensor([self._sums[n] for n in names] + [self._norms[n] for n in names], dtype=torch.float64)
        all_reduce(t)  # type: ignore[operator]
        for i, n in enumerate(names):
            self._sums[n] = float(t[i])
            self._norms[n] = float(t[len(names) + i])
