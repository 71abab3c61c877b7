"""`torch_compile`: the model's forward compiled once per architecture, and how often it was (re)compiled.

Only `model.forward` is compiled, in place: parameter names, checkpoints and `preload_from_files` stay
those of the plain model, and a user's `train_step` that calls the model as usual runs the compiled code.
(`nn.Module.compile()` would be the obvious call, but with torch 2.13 it left `_call_impl` uncompiled.)
Sequence lengths differ from batch to batch: torch.compile's automatic dynamic shapes recompile once
when a length changes and then treat it as dynamic, so an epoch costs a few compilations, not one per
batch; the count of compiled graphs per epoch is logged so that a model that recompiles every batch shows.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from typing import Any

import torch

from seqtrain.errors import ConfigError

log = logging.getLogger("seqtrain")

_OPTIONS = tuple(p for p in inspect.signature(torch.compile).parameters if p != "model")


def compile_options(value: bool | dict[str, Any]) -> dict[str, Any] | None:
    """The torch.compile keyword arguments of `torch_compile`; None = do not compile."""
    if value is False:
        return None
    if value is True:
        return {}
    for name in value:
        if name not in _OPTIONS:
            matches = difflib.get_close_matches(name, list(_OPTIONS), n=1, cutoff=0.6)
            hint = f"; did you mean {matches[0]!r}?" if matches else f" (torch.compile takes {', '.join(_OPTIONS)})"
            raise ConfigError(f"torch_compile: unknown option {name!r}{hint}")
    return dict(value)


# Layers of a net dict are often separate compiled frames (the net's own Python between them breaks the graph),
# and each block of a stack has its own constants (e.g. a stochastic-depth survival probability per block), so
# one layer class needs one graph per block: torch's default limit of 8 per function sends deep stacks (12
# conformer blocks) back to eager mode. The accumulated limit (256) still stops a model that recompiles per batch.
RECOMPILE_LIMIT = 64


def compile_model(model: torch.nn.Module, options: dict[str, Any]) -> None:
    """Compiles `model.forward` in place (lazily: the first call compiles)."""
    import torch._dynamo.config as dynamo_config  # torch's own settings; only needed when compiling

    dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, RECOMPILE_LIMIT)
    try:
        model.forward = torch.compile(model.forward, **options)  # type: ignore[method-assign]
    except (TypeError, ValueError, RuntimeError) as e:
        raise ConfigError(f"torch_compile={options!r}: torch.compile refused it: {e}") from e


def compiled_graphs() -> int:
    """Graphs torch.compile has produced in this process so far (a recompilation adds one, so does a graph break)."""
    from torch._dynamo.utils import counters  # torch's own bookkeeping; imported late, only when compiling

    return int(counters["stats"]["unique_graphs"])
