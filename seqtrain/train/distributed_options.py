"""The `torch_distributed` config dict: RETURNN's option names, checked before any process group exists."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from seqtrain.errors import ConfigError

OPTIONS = {
    "reduce_type": "'grad' (default): gradients summed over the ranks every step; 'param': local steps, "
    "parameters averaged every param_sync_step steps",
    "param_sync_step": "with reduce_type 'param': average the parameters every this many steps (required)",
    "batch_size_is_global": "False (default): batch_size (and max_seqs) per process; True: for all processes "
    "together, each batch is split across the ranks",
    "backend": "torch.distributed backend; default 'cpu:gloo,cuda:nccl' on GPUs, 'gloo' on CPU",
    "timeout_sec": "seconds a collective may wait for the other ranks before the run fails (default 1800)",
}
# RETURNN options for its DistributedDataParallel wrapper; seqtrain reduces gradients itself.
_DDP_ONLY = ("class", "options", "sync_on_cpu")


@dataclass(frozen=True)
class DistributedOptions:
    reduce_type: str = "grad"
    param_sync_step: int = 0
    batch_size_is_global: bool = False
    backend: str | None = None
    timeout_sec: float = 1800.0


def _unknown_option(name: str) -> ConfigError:
    if name in _DDP_ONLY:
        return ConfigError(
            f"torch_distributed: option {name!r} configures RETURNN's DistributedDataParallel wrapper; seqtrain "
            "all-reduces gradients itself (unused parameters and uneven data need no options). Remove it."
        )
    close = difflib.get_close_matches(name, list(OPTIONS), n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    known = "; ".join(f"{k}: {doc}" for k, doc in OPTIONS.items())
    return ConfigError(f"torch_distributed: unknown option {name!r}{hint} (options: {known})")


def parse_options(value: dict[str, Any] | None) -> DistributedOptions:
    """Validates the dict (None = all defaults); every mistake names the option and what it accepts."""
    opts = dict(value or {})
    for name in opts:
        if name not in OPTIONS:
            raise _unknown_option(name)
    reduce_type = opts.get("reduce_type", "grad")
    if reduce_type not in ("grad", "param"):
        hint = " ('grad' reduces explicitly already)" if reduce_type == "grad_explicit" else ""
        raise ConfigError(f"torch_distributed: reduce_type must be 'grad' or 'param', got {reduce_type!r}{hint}")
    sync = opts.get("param_sync_step")
    if reduce_type == "param":
        if not isinstance(sync, int) or isinstance(sync, bool) or sync < 1:
            raise ConfigError(
                f"torch_distributed: reduce_type 'param' needs param_sync_step, a positive int (e.g. 100), got {sync!r}"
            )
    elif sync is not None:
        raise ConfigError("torch_distributed: param_sync_step only applies to reduce_type 'param'")
    is_global = opts.get("batch_size_is_global", False)
    if not isinstance(is_global, bool):
        raise ConfigError(f"torch_distributed: batch_size_is_global must be True or False, got {is_global!r}")
    backend = opts.get("backend")
    if backend is not None and not isinstance(backend, str):
        raise ConfigError(f"torch_distributed: backend must be a string like 'nccl' or 'gloo', got {backend!r}")
    timeout = opts.get("timeout_sec", 1800.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"torch_distributed: timeout_sec must be a positive number of seconds, got {timeout!r}")
    return DistributedOptions(
        reduce_type=reduce_type,
        param_sync_step=sync or 0,
        batch_size_is_global=is_global,
        backend=backend,
        timeout_sec=float(timeout),
    )
