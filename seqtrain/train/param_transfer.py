"""Carrying parameters (and optimizer state) over when the model is rebuilt between epochs.

Matching is by parameter name; a parameter with the same name and shape is copied as is, together
with its optimizer state. Everything else keeps its fresh initialization and fresh optimizer state.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger("seqtrain")


def transfer_state(
    old_model: torch.nn.Module,
    new_model: torch.nn.Module,
    old_optimizer: torch.optim.Optimizer | None,
    new_optimizer: torch.optim.Optimizer | None,
) -> dict[str, list[str]]:
    """Copies same-name same-shape parameters and their optimizer state; returns what happened to each."""
    old_params = dict(old_model.named_parameters())
    report: dict[str, list[str]] = {"copied": [], "new": [], "dropped": [], "shape_changed": []}
    with torch.no_grad():
        for name, new_p in new_model.named_parameters():
            old_p = old_params.get(name)
            if old_p is None:
                report["new"].append(name)
            elif old_p.shape != new_p.shape:
                report["shape_changed"].append(name)
            else:
                new_p.copy_(old_p)
                report["copied"].append(name)
                if old_optimizer is not None and new_optimizer is not None and old_p in old_optimizer.state:
                    new_optimizer.state[new_p] = {
                        k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in old_optimizer.state[old_p].items()
                    }
        new_names = {n for n, _ in new_model.named_parameters()}
        report["dropped"] = [n for n in old_params if n not in new_names]
        old_buffers = dict(old_model.named_buffers())
        for name, buf in new_model.named_buffers():
            if name in old_buffers and old_buffers[name].shape == buf.shape:
                buf.copy_(old_buffers[name])
    log.info(
        "parameters: %d copied, %d new, %d with changed shape (re-initialized), %d dropped",
        len(report["copied"]), len(report["new"]), len(report["shape_changed"]), len(report["dropped"]),
    )
    return report
