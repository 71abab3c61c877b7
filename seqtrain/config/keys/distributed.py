"""Keys of multi-process training (torchrun) and of bitwise-reproducible training."""

from typing import Any, Literal

from seqtrain.config.registry import declare

G = "distributed"
declare(
    "torch_distributed",
    dict[str, Any] | None,
    None,
    "options of training under torchrun: {'reduce_type': 'grad' (DDP) | 'grad_explicit' | 'param', "
    "'class': DDP class, 'options': {DDP kwargs}, 'param_sync_step': K, 'sync_on_cpu': False, "
    "'batch_size_is_global': False, 'backend': ..., 'timeout_sec': 1800}; None = defaults when torchrun starts it",
    group=G,
    returnn=True,
)
declare(
    "deterministic_train",
    bool | Literal["strict"],
    False,
    "torch.use_deterministic_algorithms + deterministic cuDNN/cuBLAS; True warns about ops without a deterministic "
    "kernel, 'strict' stops at them",
    group=G,
    returnn=True,
)
