"""Keys of the optimizer, the learning rate (per epoch and per step) and the gradient update.

Names and defaults follow RETURNN (`returnn/learning_rate_control.py`, `returnn/torch/updater.py`) so
that a RETURNN config means the same here; `learning_rate_step_schedule` is seqtrain's own.
"""

from collections.abc import Callable
from typing import Any, Literal

from seqtrain.config.registry import at_least, declare

G = "optim"
CONTROL_TYPES = ("constant", "newbob", "newbob_rel", "newbob_relative", "newbob_abs", "newbob_multi_epoch")

# ---- optimizer and gradient update
declare(
    "optimizer",
    str | dict[str, Any] | type | None,
    None,
    "'adam', {'class': 'adamw', 'weight_decay': 0.01, 'param_groups': [...]}, a dotted path or a class; None = SGD",
    group=G,
    returnn=True,
)
declare(
    "gradient_clip",
    float,
    0.0,
    "clip each gradient value to [-x, x]; 0 = off",
    schedulable=True,
    group=G,
    check=at_least(0),
    returnn=True,
)
declare(
    "gradient_clip_global_norm",
    float,
    0.0,
    "scale gradients so their global L2 norm is at most x; 0 = off",
    schedulable=True,
    group=G,
    check=at_least(0),
    returnn=True,
)
declare(
    "gradient_noise",
    float,
    0.0,
    "add truncated-normal noise with this std (cut at 2 std) to every gradient before clipping; 0 = off",
    schedulable=True,
    group=G,
    check=at_least(0),
    returnn=True,
)
declare(
    "accum_grad_multiple_step",
    int,
    1,
    "sum the gradients of N batches per update (an epoch's last update may have fewer); global steps count batches",
    schedulable=True,
    group=G,
    check=at_least(1),
    returnn=True,
)

# ---- learning rate per epoch (learning_rate_control, the learning-rate file)
declare(
    "learning_rate",
    float,
    1.0,
    "the base LR (RETURNN's default 1.0); {epoch: lr} resets it at those epochs; f(*, epoch, step) = LR of every step",
    schedulable=True,
    group=G,
    returnn=True,
)
declare(
    "learning_rates",
    list[float] | dict[int, float] | None,
    None,
    "predefined LR per epoch: [lr of epoch 1, lr of epoch 2, ...] or {epoch: lr} (warmup, resets)",
    group=G,
    returnn=True,
)
declare("min_learning_rate", float, 0.0, "Newbob never decays the LR below this", group=G)
declare(
    "pretrain_learning_rate",
    float | None,
    None,
    "RETURNN: the constant LR of the `pretrain` epochs (None = learning_rate); the first epoch after them starts "
    "again at learning_rate, the control takes over from there",
    group=G,
    returnn=True,
)
declare(
    "use_learning_rate_control_always",
    bool,
    False,
    "RETURNN: let learning_rate_control / learning_rates decide in the pretrain epochs too",
    group=G,
    returnn=True,
)
declare(
    "learning_rate_control",
    Literal[CONTROL_TYPES],  # type: ignore[valid-type]
    "constant",
    "how the next epoch's LR follows from the scores: constant, newbob (= newbob_rel), newbob_abs, newbob_multi_epoch",
    group=G,
    returnn=True,
)
declare(
    "learning_rate_control_error_measure",
    str | list[str] | None,
    None,
    "the score Newbob looks at, e.g. 'dev_loss_ctc' (+ '_output' is tried too); None = the first dev score",
    group=G,
    returnn=True,
)
declare(
    "learning_rate_control_relative_error_relative_lr",
    bool,
    False,
    "divide the relative error by (current LR / learning_rate): a smaller LR is expected to improve less",
    group=G,
    returnn=True,
)
declare(
    "learning_rate_control_min_num_epochs_per_new_lr",
    int,
    0,
    "keep a new LR for at least this many epochs before Newbob may change it again",
    group=G,
    returnn=True,
)
declare(
    "newbob_learning_rate_decay",
    float | Callable,
    0.5,
    "Newbob multiplies the LR by this (or f(lr) -> lr)",
    group=G,
    returnn=True,
)
declare(
    "newbob_learning_rate_growth",
    float | Callable,
    1.0,
    "Newbob multiplies the LR by this when the score improves enough (1.0 = never grow)",
    group=G,
    returnn=True,
)
declare(
    "newbob_relative_error_threshold",
    float,
    -0.01,
    "newbob_rel / newbob_multi_epoch decay when (new - old) / new score > this (-0.01 = need 1% improvement)",
    group=G,
    returnn=True,
)
declare(
    "newbob_relative_error_grow_threshold",
    float | None,
    None,
    "newbob_multi_epoch grows the LR when the mean relative error < this; None = newbob_relative_error_threshold",
    group=G,
    returnn=True,
)
declare(
    "newbob_relative_error_div_by_old",
    bool,
    False,
    "relative error = (new - old) / old instead of / new",
    group=G,
    returnn=True,
)
declare("newbob_error_threshold", float, -0.01, "newbob_abs decays when new - old score > this", group=G, returnn=True)
declare(
    "newbob_multi_num_epochs",
    int,
    5,
    "newbob_multi_epoch averages the relative error over this many epochs",
    group=G,
    check=at_least(1),
    returnn=True,
)
declare(
    "newbob_multi_update_interval",
    int | None,
    None,
    "newbob_multi_epoch changes the LR only every N epochs; None = newbob_multi_num_epochs",
    group=G,
    check=at_least(1),
    returnn=True,
)

# ---- learning rate per step (multiplies the epoch's LR)
declare(
    "learning_rate_step_schedule",
    dict[str, Any] | None,
    None,
    "per-step LR factor: {'warmup_steps', 'warmup': linear|exponential, 'init_scale', 'hold_steps', "
    "'decay': exponential|inverse_sqrt|cosine|linear|step, 'decay_steps', 'decay_rate', 'final_scale'}; "
    "lengths in epochs instead: 'warmup_epochs', 'hold_epochs', 'decay_epochs' (floats)",
    group=G,
)
declare(
    "dynamic_learning_rate",
    Callable,
    None,
    "f(*, global_train_step, epoch, epoch_continuous, learning_rate, **kwargs) -> the LR of that step",
    group=G,
    hook=True,
    returnn=True,
)
declare(
    "learning_rate_decay",
    float | Callable | None,
    None,
    "RETURNN's name of `newbob_learning_rate_decay`, read first as RETURNN does; None = use that key",
    group=G,
    returnn=True,
)
declare(
    "optimizer_epsilon",
    float | None,
    None,
    "epsilon of the optimizer when its dict gives none (RETURNN's key; for classes with an eps option); None = "
    "the class's default",
    group=G,
    check=at_least(0),
    returnn=True,
)
declare(
    "gradient_clip_norm",
    float,
    0.0,
    "clip each parameter's gradient to this L2 norm (per tensor, after gradient_clip); 0 = off",
    schedulable=True,
    group=G,
    check=at_least(0),
    returnn=True,
)
declare(
    "gradient_nan_inf_filter",
    bool,
    False,
    "set non-finite gradient entries (nan/inf) to 0 before noise and clipping (RETURNN's key)",
    group=G,
    returnn=True,
)
