"""Checkpoint averaging: the mean of several epochs' parameters, for decoding (`model_average_epochs`).

Why: the parameters of the last epochs of a run wander around a minimum with the noise of their batches; their
mean sits nearer its centre and usually decodes a little better, on mismatched data above all, at no training cost
(ESPnet averages its best checkpoints, icefall and fairseq the last ones). Floating-point tensors are averaged in
float64 and cast back; integer buffers (counters such as BatchNorm's num_batches_tracked) are the newest
checkpoint's, since a mean of counts means nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from seqtrain.errors import CheckpointError


def average_model_states(states: Sequence[dict[str, torch.Tensor]], paths: Sequence[Path]) -> dict[str, torch.Tensor]:
    """The element-wise mean of `states` (model state dicts, oldest first); `paths` name them in errors."""
    if not states:
        raise ValueError("no checkpoints to average")
    newest = states[-1]
    for state, path in zip(states[:-1], paths[:-1], strict=True):
        _check_same_parameters(state, path, newest, paths[-1])
    averaged: dict[str, torch.Tensor] = {}
    for name, last in newest.items():
        if not torch.is_floating_point(last):
            averaged[name] = last.clone()
            continue
        total = torch.zeros_like(last, dtype=torch.float64)
        for state in states:
            total += state[name].to(torch.float64)
        averaged[name] = (total / len(states)).to(last.dtype)
    return averaged


def _check_same_parameters(state: dict[str, Any], path: Path, newest: dict[str, Any], newest_path: Path) -> None:
    """Epochs of a growing network (pretraining) or another model cannot be averaged: say which tensors differ."""
    missing, extra = sorted(set(newest) - set(state)), sorted(set(state) - set(newest))
    if missing or extra:
        raise CheckpointError(
            f"cannot average {path} with {newest_path}: different parameters (only in the newer one: "
            f"{_names(missing)}; only in the older one: {_names(extra)}); average epochs of the final network only, "
            f"or set model_average_epochs = 1"
        )
    for name, tensor in newest.items():
        if state[name].shape != tensor.shape:
            raise CheckpointError(
                f"cannot average {path} with {newest_path}: {name!r} has shape {tuple(state[name].shape)} there and "
                f"{tuple(tensor.shape)} here (a network that grew); average epochs of the final network only"
            )


def _names(names: list[str]) -> str:
    return (", ".join(names[:5]) + (", ..." if len(names) > 5 else "")) or "none"
