"""Keys of pretraining, of parameter transfer when the network changes between epochs, and of subset training.

`pretrain` and `copy_param_mode` keep RETURNN's names and values (`returnn/pretrain.py`,
`LayerBase.set_param_values_by_dict`); the growth, optimizer-state and parameter-selection keys are
seqtrain's own. All of them may differ per epoch through a net dict's `#config` or a pipeline stage.
"""

from typing import Any, Literal

from seqtrain.config.registry import declare

G = "pretrain"
declare(
    "pretrain",
    bool | str | dict[str, Any] | None,
    None,
    "RETURNN's pretraining of `network`: 'default'/True or {'repetitions', 'construction_algo' ('from_output', "
    "'from_input', 'no_network_modifications' or f(*, idx, net_dict)), 'copy_param_mode', 'copy_output_layer', "
    "'greedy', 'output_layers', 'input_layers'}: one growing net per epoch, then the full one",
    group=G,
    returnn=True,
)
declare(
    "pretrain_repetitions",
    int | list[int] | dict[Any, int] | None,
    None,
    "RETURNN's separate key for pretrain's 'repetitions' (the `pretrain` dict's own entry wins)",
    group=G,
    returnn=True,
)
declare(
    "pretrain_construction_algo",
    Any,
    None,
    "RETURNN's separate key for pretrain's 'construction_algo' (the `pretrain` dict's own entry wins)",
    group=G,
    returnn=True,
)
declare(
    "pretrain_copy_output_layer",
    bool | str | None,
    None,
    "RETURNN's separate key for pretrain's 'copy_output_layer' (the `pretrain` dict's own entry wins)",
    group=G,
    returnn=True,
)
declare(
    "pretrain_greedy",
    bool | None,
    None,
    "RETURNN's separate key for pretrain's 'greedy' (the `pretrain` dict's own entry wins)",
    group=G,
    returnn=True,
)
declare(
    "copy_param_mode",
    Literal["subset", "ifpossible", "reset"],
    "subset",
    "when the model is rebuilt between epochs: 'subset' copies every parameter by name, a changed shape into "
    "the matching slice (grow/shrink); 'ifpossible' only same-shape ones; 'reset' none (RETURNN's values)",
    group=G,
)
declare(
    "copy_param_map",
    dict[str, str | None] | None,
    None,
    "on a rebuild, {new parameter: old parameter} ('enc.*': 'lstm.*' maps name prefixes; None = fresh init)",
    group=G,
)
declare(
    "copy_param_grow_slice",
    Literal["start", "end"],
    "start",
    "where the old values of a grown tensor go along each grown axis (per gate / direction block)",
    group=G,
)
declare(
    "copy_param_grow_init",
    Literal["random", "preserve_function"],
    "random",
    "new entries of a grown tensor: 'random' = the layer's init; 'preserve_function' = also zero the weights "
    "from new input units into old units, so the grown net computes what the old one did",
    group=G,
)
declare(
    "copy_param_grow_scale",
    float | Literal["fan_in"],
    1.0,
    "factor on the copied values of a grown tensor; 'fan_in' = sqrt(old fan-in / new fan-in)",
    group=G,
)
declare(
    "copy_optimizer_state",
    Literal["all", "same_shape", "none"],
    "all",
    "optimizer state on a rebuild: 'all' keeps it for copied and grown parameters (grown: old slice kept, "
    "new entries 0); 'same_shape' resets grown ones; 'none' resets all (always when the optimizer class changes)",
    group=G,
)
declare(
    "trainable_params",
    list[str] | None,
    None,
    "train only parameters matching these patterns ('lstm3.*', 'output.*'); None = all; resolved per epoch",
    schedulable=True,
    group=G,
)
declare(
    "frozen_params",
    list[str] | None,
    None,
    "do not train parameters matching these patterns ('encoder.*'); None = none; resolved per epoch",
    schedulable=True,
    group=G,
)
