"""Functions (and net dicts) the framework calls: the two ways to define a model."""

from collections.abc import Callable
from typing import Any

from seqtrain.config.registry import declare

G = "model"
declare("get_model", Callable, None, "get_model(*, epoch, config) -> torch.nn.Module", group=G, hook=True, returnn=True)
declare(
    "train_step",
    Callable,
    None,
    "train_step(*, model, batch, ctx): compute losses and call ctx.mark_as_loss(...)",
    group=G,
    hook=True,
    returnn=True,
)
declare(
    "forward_step",
    Callable,
    None,
    "forward_step(*, model, batch, ctx): call ctx.mark_as_output(...) for recog/forward",
    group=G,
    hook=True,
    returnn=True,
)
declare("network", dict[str, Any] | None, None, "declarative net dict (RETURNN layer dicts)", group=G, returnn=True)
declare(
    "get_network",
    Callable,
    None,
    "get_network(epoch, **kwargs) -> net dict, may set net['#config']",
    group=G,
    hook=True,
    returnn=True,
)
declare(
    "epoch_start",
    Callable,
    None,
    "epoch_start(*, epoch, step, model, dataset_name): called before each dataset's pass (RETURNN's hook)",
    group=G,
    hook=True,
    returnn=True,
)
declare(
    "epoch_end",
    Callable,
    None,
    "epoch_end(*, epoch, step, model, dataset_name): called after each dataset's pass (train, dev, ...)",
    group=G,
    hook=True,
    returnn=True,
)
declare(
    "model_outputs",
    dict[str, dict[str, Any]] | None,
    None,
    "RETURNN PyTorch style: what forward_step marks ({'output': {'dim': 2}}); shapes of the forward outputs",
    group=G,
    returnn=True,
)
