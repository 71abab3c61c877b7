"""The `torch_distributed` config dict: RETURNN's option names, checked before any process group exists."""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any

from torch.nn.parallel import DistributedDataParallel

from seqtrain.errors import ConfigError

OPTIONS = {
    "reduce_type": "'grad' (default): gradients summed over the ranks in DistributedDataParallel, overlapped with "
    "backward; 'grad_explicit': summed after backward without DDP; 'param': local steps, parameters averaged "
    "every param_sync_step steps",
    "class": "with 'grad': the DistributedDataParallel class (RETURNN's option; a subclass of it, or a compatible one)",
    "options": "with 'grad': keyword arguments of DistributedDataParallel (find_unused_parameters, bucket_cap_mb, "
    "gradient_as_bucket_view, static_graph, ...)",
    "sync_on_cpu": "with 'param': average the parameters on the CPU (RETURNN's option; saves GPU memory, costs copies)",
    "param_sync_step": "with reduce_type 'param': average the parameters every this many steps (required)",
    "batch_size_is_global": "False (default): batch_size (and max_seqs) per process; True: for all processes "
    "together, each batch is split across the ranks",
    "backend": "torch.distributed backend; default 'cpu:gloo,cuda:nccl' on GPUs, 'gloo' on CPU",
    "timeout_sec": "seconds a collective may wait for the other ranks before the run fails (default 1800)",
}
# DistributedDataParallel arguments seqtrain sets itself: the module is the train step, inputs are on the device
# already, the gradients are summed by seqtrain's communication hook on the run's process group.
_DDP_FIXED = ("module", "device_ids", "output_device", "process_group", "device_mesh")
_DDP_ARGS = tuple(p for p in inspect.signature(DistributedDataParallel.__init__).parameters if p != "self")
REDUCE_TYPES = ("grad", "grad_explicit", "param")


@dataclass(frozen=True)
class DistributedOptions:
    reduce_type: str = "grad"
    param_sync_step: int = 0
    batch_size_is_global: bool = False
    backend: str | None = None
    timeout_sec: float = 1800.0
    ddp_class: type | None = None  # None: DistributedDataParallel
    ddp_options: dict[str, Any] = field(default_factory=dict)
    sync_on_cpu: bool = False


def _unknown_option(name: str) -> ConfigError:
    close = difflib.get_close_matches(name, list(OPTIONS), n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    known = "; ".join(f"{k}: {doc}" for k, doc in OPTIONS.items())
    return ConfigError(f"torch_distributed: unknown option {name!r}{hint} (options: {known})")


def _ddp_options(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"torch_distributed: options must be a dict of DistributedDataParallel arguments, got {value!r}"
        )
    for name in value:
        if name in _DDP_FIXED:
            raise ConfigError(
                f"torch_distributed: options[{name!r}] is set by seqtrain (the train step on this rank's device, "
                "the run's process group); remove it"
            )
        if name not in _DDP_ARGS:
            close = difflib.get_close_matches(name, list(_DDP_ARGS), n=1, cutoff=0.6)
            takes = f" (DistributedDataParallel takes {', '.join(_DDP_ARGS)})"
            hint = f"; did you mean {close[0]!r}?" if close else takes
            raise ConfigError(f"torch_distributed: unknown DistributedDataParallel option {name!r}{hint}")
    for name in ("broadcast_buffers", "forward_sync_buffers"):
        if value.get(name):
            raise ConfigError(
                f"torch_distributed: options[{name!r}]=True is not supported: seqtrain averages buffers "
                "(BatchNorm statistics) at every checkpoint and epoch end instead, and a broadcast in the forward pass "
                "would wait forever on a rank that has no data in a step. Remove it."
            )
    return dict(value)


def parse_options(value: dict[str, Any] | None) -> DistributedOptions:
    """Validates the dict (None = all defaults); every mistake names the option and what it accepts."""
    opts = dict(value or {})
    for name in opts:
        if name not in OPTIONS:
            raise _unknown_option(name)
    reduce_type = opts.get("reduce_type", "grad")
    if reduce_type not in REDUCE_TYPES:
        raise ConfigError(f"torch_distributed: reduce_type must be one of {REDUCE_TYPES}, got {reduce_type!r}")
    for name, only_for in (("class", "grad"), ("options", "grad"), ("sync_on_cpu", "param")):
        if name in opts and reduce_type != only_for:
            raise ConfigError(f"torch_distributed: {name!r} only applies to reduce_type {only_for!r}")
    ddp_class = opts.get("class")
    if ddp_class is not None and not (isinstance(ddp_class, type) and issubclass(ddp_class, DistributedDataParallel)):
        raise ConfigError(
            f"torch_distributed: class must be DistributedDataParallel or a subclass of it, got {ddp_class!r}"
        )
    sync_on_cpu = opts.get("sync_on_cpu", False)
    if not isinstance(sync_on_cpu, bool):
        raise ConfigError(f"torch_distributed: sync_on_cpu must be True or False, got {sync_on_cpu!r}")
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
        ddp_class=ddp_class,
        ddp_options=_ddp_options(opts.get("options", {})),
        sync_on_cpu=sync_on_cpu,
    )
