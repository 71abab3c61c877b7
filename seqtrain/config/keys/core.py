"""Keys of the run itself: task, files, epochs, seeds, device, logging, checkpoints."""

from typing import Any, Literal

from seqtrain.config.registry import at_least, declare

G = "core"
declare(
    "task",
    Literal["train", "eval", "forward", "recog", "align"],
    "train",
    "what the run is for (RETURNN's key; `seqtrain align` sets 'align'); get_model configs need train_step for 'train'",
    group=G,
    returnn=True,
)
declare(
    "model",
    str | None,
    None,
    "checkpoint prefix: 'exp/x/model' -> exp/x/model.001.pt, ...; None = no checkpoints (no resume)",
    group=G,
    returnn=True,
)
declare("num_epochs", int, 1, "number of (sub-)epochs to train", group=G, returnn=True)
declare(
    "random_seed",
    int,
    42,
    "seed of every random generator (init, dropout, data order, workers), mixed with epoch/step/rank",
    group=G,
    returnn=True,
)
declare(
    "device",
    str | None,
    None,
    "'cpu', 'cuda', 'cuda:1', ...; None = CUDA when available, else CPU",
    group=G,
    returnn=True,
)
declare(
    "log_verbosity",
    int,
    4,
    "0 errors, 1 warnings, 2-4 epoch summaries and setup (4 = more detail), 5 one line per step",
    group=G,
    returnn=True,
)
declare("tensorboard", bool, True, "write TensorBoard scalars to <model>.tensorboard/", group=G)
declare(
    "learning_rate_file",
    str | None,
    None,
    "per-epoch LR and scores in RETURNN's format; None = <model>.learning_rates",
    group=G,
    returnn=True,
)
declare(
    "cleanup_old_models",
    bool | dict[str, Any],
    False,
    "delete old epoch checkpoints: True or {'keep_last_n': 2, 'keep_best_n': 4, 'keep': [epochs], 'score_key': "
    "'dev_loss_x'}; "
    "never deletes the newest or the best",
    group=G,
    returnn=True,
)
declare(
    "checkpoint_interval_minutes",
    float | None,
    15.0,
    "mid-epoch checkpoint at the first step after this many minutes; None = off",
    group=G,
)
declare("checkpoint_interval_steps", int | None, None, "mid-epoch checkpoint every N train steps; None = off", group=G)
declare(
    "stop_on_nonfinite_train_score",
    bool,
    True,
    "stop with an error when a train loss becomes inf/nan",
    group=G,
    returnn=True,
)
declare(
    "keep_freed_memory",
    bool,
    True,
    "keep freed memory in the process (glibc mallopt): saves the page faults of re-allocating activations "
    "every step (10-25% of CPU time measured on 2 cores); same results, same peak memory",
    group=G,
)
declare(
    "save_interval",
    int,
    1,
    "write an epoch checkpoint every N epochs (and always the last epoch); RETURNN's key",
    group=G,
    check=at_least(1),
    returnn=True,
)
declare(
    "start_epoch",
    int | str,
    "auto",
    "'auto' = resume after the newest checkpoint (or start at 1); N = start at epoch N from checkpoint N-1",
    group=G,
    check=lambda v: None if v == "auto" or (isinstance(v, int) and v >= 1) else "must be 'auto' or an epoch >= 1",
    returnn=True,
)
declare(
    "load",
    str | None,
    None,
    "a checkpoint to start from when none of this run exists yet (RETURNN: 'load'); its epoch is not taken over",
    group=G,
    returnn=True,
)
declare(
    "load_epoch",
    int | None,
    None,
    "with `load` unset: start from this run's own checkpoint of that epoch instead of the newest",
    group=G,
    check=at_least(1),
    returnn=True,
)
declare(
    "import_model_train_epoch1",
    str | None,
    None,
    "a checkpoint whose parameters initialize epoch 1 when this run has no checkpoint yet",
    group=G,
    returnn=True,
)
