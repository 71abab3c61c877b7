"""Which torch device a run uses."""

from __future__ import annotations

import torch

from seqtrain.errors import ConfigError


def pick_device(spec: str | None) -> torch.device:
    """`None` = CUDA when available, else CPU; an explicit CUDA request without CUDA is an error."""
    if spec is None or spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "gpu":
        spec = "cuda"
    try:
        device = torch.device(spec)
    except RuntimeError as e:
        raise ConfigError(f"device {spec!r} is not a torch device ({e})") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {spec!r} requested but CUDA is not available here; use device='cpu'")
    return device
