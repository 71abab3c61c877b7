"""Keys of the model side: global regularization, user layer classes, preloading parameters."""

from typing import Any

from seqtrain.config.registry import declare

G = "nn"
declare(
    "L2",
    float,
    0.0,
    "L2 penalty L2 * sum(w^2) over all trainable parameters, added to the training objective (loss 'L2'); "
    "net-dict layers also take their own 'L2'",
    schedulable=True,
    group=G,
)
declare(
    "param_variational_noise",
    float,
    0.0,
    "std of Gaussian noise added to every parameter in each training step (never in eval); "
    "a net-dict layer's own 'param_variational_noise' wins",
    schedulable=True,
    group=G,
)
declare(
    "network_layer_classes",
    dict[str, type] | None,
    None,
    "own net-dict layer classes by name: {'my_layer': MyLayer} (subclasses of seqtrain.nn.layer.Layer)",
    group=G,
)
declare(
    "preload_from_files",
    dict[str, dict[str, Any]] | None,
    None,
    "{name: {'filename': ..., 'prefix': ..., 'init_for_train': True, 'ignore_missing': ..., 'ignore_params': [...], "
    "'var_name_mapping': {...}}}: load parameters from our checkpoints or plain state dicts (RETURNN semantics)",
    group=G,
    returnn=True,
)
declare(
    "target",
    str,
    "classes",
    "RETURNN's default target: the data key a net-dict layer's `loss` uses when it names no `target`",
    group=G,
    returnn=True,
)
