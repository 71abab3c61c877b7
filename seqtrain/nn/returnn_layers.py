"""RETURNN's net-dict layer classes: which seqtrain has (same name, same meaning) and what to do for the rest.

`RETURNN_LAYER_CLASSES` is the list of `layer_class` names of RETURNN's TensorFlow layers (returnn/tf/layers,
RETURNN 1.20261022; tests/nn/test_returnn_layers.py checks it against an installed RETURNN when there is one).
A net dict naming one that seqtrain lacks gets an error saying so (with a note for the ones RETURNN's demos
use), instead of a bare "unknown layer class"; docs/returnn.md lists both sides, generated from here:
`returnn_layer_support` (which classes), `SAME_NAME_NOTES` (where a class seqtrain has differs from RETURNN's),
`IGNORED_LAYER_OPTIONS` / `UNSUPPORTED_LAYER_OPTIONS` (RETURNN's options of every layer that seqtrain accepts
without effect / rejects with a note).
"""

from __future__ import annotations

from collections.abc import Iterable

RETURNN_LAYER_CLASSES: frozenset[str] = frozenset(
    {
        "accumulate_mean",
        "activation",
        "alternating_real_to_complex",
        "apply_length_distribution",
        "batch_median_pooling",
        "batch_norm",
        "batch_softmax",
        "boolean_mask",
        "cast",
        "choice",
        "choice_get_beam_scores",
        "choice_get_src_beams",
        "classes_to_length_distribution",
        "classes_to_length_distribution_global",
        "classes_to_segments",
        "combine",
        "combine_dims",
        "compare",
        "complex_linear_projection",
        "complex_to_alternating_real",
        "concat",
        "concat_attention",
        "cond",
        "constant",
        "conv",
        "copy",
        "ctc_loss",
        "cum_concat",
        "cumsum",
        "dct",
        "decide",
        "decide_keep_beam",
        "dot",
        "dot_attention",
        "dropout",
        "edit_distance",
        "edit_distance_table",
        "elemwise_prod",
        "eval",
        "expand_dims",
        "fast_bw",
        "fill_unused",
        "first_t_frames_noise_estimator",
        "flatten_batch",
        "flatten_time",
        "fold",
        "forced_align",
        "framewise_statistics",
        "gather",
        "gather_nd",
        "gating",
        "gauss_window_attention",
        "generic_attention",
        "get_last_hidden_state",
        "get_rec_accumulated",
        "global_train_step",
        "gradient",
        "hdf_dump",
        "identity",
        "image_summary",
        "istft",
        "kenlm",
        "layer_norm",
        "length",
        "linear",
        "loss",
        "mask_based_gevbeamforming",
        "mask_based_mvdrbeamforming",
        "masked_computation",
        "math_norm",
        "mel_filterbank",
        "merge_dims",
        "multichannel_multiresolution_stft_layer",
        "multichannel_stft_layer",
        "norm",
        "normalize_length_scores",
        "optimal_completions",
        "pad",
        "parametric_wiener_filter",
        "pool",
        "positional_encoding",
        "postfix_in_time",
        "prefix_in_time",
        "print",
        "rand_int",
        "random",
        "random_state_init",
        "range",
        "range_from_length",
        "range_in_axis",
        "rec",
        "rec_last_output",
        "rec_unstack",
        "reduce",
        "reduce_out",
        "reinterpret_data",
        "relative_positional_encoding",
        "remove",
        "repeat",
        "reshape",
        "resize",
        "rnn_cell",
        "scaled_grad",
        "scatter_nd",
        "search_sorted",
        "segment_alignment",
        "segment_input",
        "self_attention",
        "seq_len_mask",
        "shift_axis",
        "signal_masking",
        "slice",
        "slice_nd",
        "softmax",
        "softmax_over_spatial",
        "source",
        "sparse_softmax_cross_entropy_with_logits",
        "split",
        "split_batch_beam",
        "split_batch_time",
        "split_concatenated_multichannel",
        "split_dims",
        "squeeze",
        "stack",
        "stft",
        "subnetwork",
        "swap_axes",
        "swap_time_feature",
        "switch",
        "synthetic_gradient",
        "tikhonov_regularization",
        "tile",
        "tile_features",
        "time_chunking",
        "time_unchunking",
        "top_k",
        "train_flag",
        "transpose",
        "transposed_conv",
        "twod_lstm",
        "unflatten_batch",
        "unflatten_nd",
        "unmask",
        "unsegment_input",
        "variable",
        "variable_assign",
        "variable_read",
        "weighted_sum",
        "window",
        "neural_transducer",  # in older RETURNN versions (its 12AX demo)
        "torch",  # Lua Torch layer of the Theano era (its lua demo)
    }
)

NOTES: dict[str, str] = {
    "choice": "beam search inside a rec loop (attention decoders) is not implemented; decode with seqtrain recog",
    "decide": "beam search inside a rec loop is not implemented; decode with seqtrain recog",
    "dot_attention": "attention over a base: sequence inside a rec unit is not implemented; use self_attention "
    "outside a rec unit, or a torch model",
    "gauss_window_attention": "attention over a base: sequence inside a rec unit is not implemented",
    "generic_attention": "attention over a base: sequence inside a rec unit is not implemented",
    "rnn_cell": "an RNN cell as one step of a rec unit is not implemented; write the cell with linear/eval layers "
    "and prev: (RETURNN's demo-tf-rec-explicit-lstm), or use a rec layer with a unit name outside the unit",
    "get_last_hidden_state": "for a per-sequence summary use {'class': 'reduce', 'mode': 'mean', 'axes': 'T'}",
    "conv": "use conv1d or conv2d",
    "neural_transducer": "removed from RETURNN as well; seqtrain's 'transducer' layer is RNN-T",
    "torch": "the Lua Torch layer was removed from RETURNN as well; write a torch module with get_model",
    "subnetwork": "nested net dicts are not implemented; flatten the layers into the network",
    "reinterpret_data": "sparse dims and axes are fixed by extern_data",
    "postfix_in_time": "add end-of-sequence labels in the dataset",
    "compare": "RETURNN's decoders use it for their end-of-sequence flag; decoders are not implemented",
    "combine_dims": "use merge_dims",
    "softmax_over_spatial": "attention weights inside a rec unit are not implemented",
}
"""Why a RETURNN layer class is missing / what to use instead (shown in the error and in docs/returnn.md)."""


SAME_NAME_NOTES: dict[str, str] = {
    "softmax": "outputs log-probabilities (RETURNN: probabilities); losses, errors and recognition are the same, "
    "a layer reading the output sees log-probabilities",
    "rec": "units: RETURNN's LSTM names (NativeLstm2, LSTMBlock, BasicLSTM, ...; all torch's LSTM), GRU, or a "
    "sub-network unit run frame by frame (per-frame layer classes, prev:, data:source, base: without time axis); "
    "no search, no attention, no targets inside the loop",
    "eval": "`eval` is a string of source(i), numbers, + - * / ** and element-wise functions (interpreted, never "
    "exec'd), or a torch function of the source tensors; RETURNN's TensorFlow functions (self, source, ...) are an "
    "error",
    "combine": "kinds add, sub, mul, truediv, average, maximum, minimum, squared_difference, logaddexp, pow; "
    "activation and with_bias as RETURNN's",
    "concat": "on the feature axis only: 'from' is a list of layer names or (name, 'F') pairs",
    "merge_dims": "merges all feature axes (axes 'static' / 'except_time'); other axes are an error",
    "reduce": "over 'T' (valid frames only) or 'F'; over 'F' the axis is kept with size 1 (RETURNN drops it)",
    "pool": "padding defaults to 'same' (RETURNN: 'valid'); pool_size defaults to 2",
    "batch_norm": "momentum 0.1 (RETURNN's behaviour version >= 12), epsilon defaults to 1e-5 (RETURNN: 1e-3); "
    "RETURNN's use_sample, masked_time, param_version, ... are not accepted",
    "positional_encoding": "adds interleaved sin/cos encodings (Vaswani et al.) to its input; RETURNN's outputs "
    "tensor2tensor's [sin | cos] encoding and adds it only with add_to_input=True (not accepted here)",
    "self_attention": "RETURNN's key_shift, initial_state and state over steps are not accepted; attention_left_only "
    "is causal masking over the whole sequence (not inside a rec unit)",
}
"""Where a class with RETURNN's name differs from RETURNN's (docs/returnn.md); the others compute the same."""

IGNORED_LAYER_OPTIONS: dict[str, str] = {
    "name_scope": "TensorFlow variable scope; seqtrain's parameters are named by their layer",
    "param_device": "TensorFlow device placement",
    "collocate_with": "TensorFlow graph placement",
    "control_dependencies_on_output": "TensorFlow graph ordering",
    "debug_print_layer_output": "TensorFlow debug printing",
    "encapsulate": "TensorFlow sub-network structure",
    "need_last": "RETURNN-internal",
    "optimize_move_layers_out": "TensorFlow optimization of a rec loop",
}
"""RETURNN layer options (of every layer) that change nothing in seqtrain: accepted and ignored."""

UNSUPPORTED_LAYER_OPTIONS: dict[str, str] = {
    "reuse_params": "parameters shared between layers are not implemented",
    "batch_norm": "add a 'batch_norm' layer after this one",
    "spatial_smoothing": "not implemented",
    "param_dropout": "dropout on parameters is not implemented (param_variational_noise is)",
    "param_dropout_min_ndim": "dropout on parameters is not implemented (param_variational_noise is)",
    "updater_opts": "per-layer optimizer settings are not implemented",
    "register_as_extern_data": "layers registered as data keys are not implemented; targets come from the data",
    "out_type": "a layer's output follows from its class, sources and n_out",
    "out_shape": "a layer's output follows from its class, sources and n_out",
    "out_dim": "dim tags are not implemented; use n_out",
    "in_dim": "dim tags are not implemented; the input dim follows from the sources",
    "size_target": "output lengths taken from a target (RETURNN's decoders) are not implemented",
    "only_on_search": "search inside the network is not implemented; decode with seqtrain recog",
    "cheating": "search inside the network is not implemented",
    "copy_output_loss_from_source_idx": "not implemented",
    "initial_output": "only inside a rec unit (the value of prev:<layer> at the first step)",
    "state": "states given to layers are not implemented",
    "dropout_on_forward": "dropout applies in training only",
}
"""RETURNN layer options (of every layer) seqtrain does not implement: an error naming the layer and the option."""


def unsupported_option_message(option: str) -> str | None:
    """The error text for a RETURNN layer option seqtrain does not implement; None for other names."""
    note = UNSUPPORTED_LAYER_OPTIONS.get(option)
    return None if note is None else f"RETURNN layer option {option!r} is not implemented in seqtrain ({note})"


def unsupported_message(layer_class: str) -> str | None:
    """The error text for a RETURNN layer class seqtrain does not have; None if it is not RETURNN's."""
    if layer_class not in RETURNN_LAYER_CLASSES:
        return None
    note = NOTES.get(layer_class, "")
    return f"RETURNN layer class {layer_class!r} is not implemented in seqtrain" + (f" ({note})" if note else "")


def returnn_layer_support(seqtrain_classes: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """(RETURNN layer classes seqtrain has under the same name, {RETURNN class seqtrain lacks: note or ""}) for
    docs tables; `seqtrain_classes` is `seqtrain.nn.layers.LAYERS.names()` (passed in: this module imports no
    layers)."""
    ours = set(seqtrain_classes)
    missing = {name: NOTES.get(name, "") for name in sorted(RETURNN_LAYER_CLASSES - ours)}
    return sorted(ours & RETURNN_LAYER_CLASSES), missing
