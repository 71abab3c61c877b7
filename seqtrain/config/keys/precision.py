"""Keys of how the model computes on the device: mixed precision (RETURNN's names) and torch.compile."""

from typing import Any, Literal

from seqtrain.config.registry import declare

G = "precision"
declare(
    "torch_amp",
    Literal["bfloat16", "float16"] | dict[str, Any] | None,
    None,
    "mixed precision (RETURNN's key): 'bfloat16' or 'float16' runs forward and losses under torch.autocast, "
    "parameters and optimizer stay float32; or {'dtype': ..., 'grad_scaler': {...}}; None = float32",
    group=G,
    returnn=True,
)
declare(
    "grad_scaler",
    dict[str, Any] | None,
    None,
    "torch.amp.GradScaler options (RETURNN's key); unset = {} whenever torch_amp is set, None = no loss scaling "
    "(fine for bfloat16); float16 needs it",
    group=G,
    returnn=True,
)
declare(
    "torch_amp_eval",
    bool,
    True,
    "with torch_amp: autocast also in evaluation, recog and align (False = float32 there)",
    group=G,
)
declare(
    "torch_compile",
    bool | dict[str, Any],
    False,
    "torch.compile the model once per architecture: True or a dict of torch.compile options "
    "({'mode': 'reduce-overhead', 'dynamic': True, ...}); the log reports the compiled graphs per epoch",
    group=G,
)
