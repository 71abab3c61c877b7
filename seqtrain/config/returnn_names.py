"""RETURNN's config names that are not seqtrain keys, and what a RETURNN config using them gets.

RETURNN configs set many names. Those RETURNN and seqtrain share are declared keys (`returnn=True` in
config/keys). The rest fall into three tables here, read by the config loader and rendered into
docs/returnn.md (`python -m seqtrain.config.returnn_doc`), so the page cannot drift from the behaviour:

- `IGNORED`: names that change nothing in a PyTorch run (TensorFlow session options, log switches, ...).
  The loader prints one warning line listing them, and goes on.
- `DEFAULT_ONLY`: names that are harmless at RETURNN's default value and would change training otherwise;
  at the default they are ignored like the above, any other value is an error saying what seqtrain lacks.
- `UNSUPPORTED`: names whose meaning seqtrain does not implement; an error with what to do instead.
- `LEGACY_OPTIMIZER_FLAGS`: RETURNN's old `adam = True` style, turned into `optimizer = {"class": ...}`.
"""

from __future__ import annotations

from typing import Any

from seqtrain.errors import ConfigError

IGNORED: dict[str, str] = {
    "use_tensorflow": "seqtrain always runs PyTorch",
    "backend": "seqtrain always runs PyTorch",
    "tf_log_dir": "TensorFlow summaries; seqtrain writes TensorBoard scalars to <model>.tensorboard/",
    "tf_log_memory_usage": "TensorFlow memory log; seqtrain's epoch summary reports peak memory",
    "tf_session_opts": "TensorFlow session options",
    "torch_log_memory_usage": "seqtrain's epoch summary reports peak memory",
    "log_batch_size": "seqtrain logs batch sizes at log_verbosity 5",
    "log": "seqtrain logs to stderr and <model>.log",
    "debug_print_layer_output_template": "TensorFlow graph debugging",
    "debug_add_check_numerics_ops": "stop_on_nonfinite_train_score stops on a nan/inf loss",
    "debug_mode": "RETURNN debug switch",
    "multiprocessing": "Theano-era switch; data loading uses num_workers",
    "update_on_device": "Theano-era switch",
    "cache_size": "HDF cache of RETURNN's CachedDataset; seqtrain reads HDF lazily",
    "batch_dim": "RETURNN-frontend dimension object",
    "tf_log_memory_usage_on_exit": "TensorFlow memory log",
    "torch_dataloader_opts": "seqtrain's loader takes num_workers and data_loader_timeout",
    "optimize_move_layers_out": "TensorFlow rec-layer graph optimization",
    "use_horovod": "multi-GPU training uses torchrun + torch_distributed",
    "watch_memory": "RETURNN memory watcher",
}

# name -> (RETURNN's default, what seqtrain does not do when the value differs)
DEFAULT_ONLY: dict[str, tuple[Any, str]] = {
    "decouple_constraints": (False, "decoupled weight decay: use optimizer {'class': 'adamw', 'weight_decay': ...}"),
    "truncation": (-1, "truncated backpropagation through time is not implemented"),
    "window": (1, "a context window over input frames is not implemented; stack frames in the dataset"),
    "sparse_input": (False, "declare sparse input with extern_data = {'data': {'dim': N, 'sparse': True}}"),
}

UNSUPPORTED: dict[str, str] = {
    "use_last_best_model": "going back to the best earlier model is not implemented; remove the key",
    "update_multiple_models": "training several model copies is not implemented",
    "maximize_grad_norm": "adding the gradient norm to the objective is not implemented; remove the key",
    "search_train_network_layers": "search during training (TensorFlow rec layers) is not implemented",
    "hyper_param_tuning": "RETURNN's hyper-parameter tuning is not implemented (and RETURNN dropped it)",
    "reset_update_params": "resetting the optimizer state per epoch is not implemented",
    "update_multiple_models_average_step": "training several model copies is not implemented",
    "hidden_size": "the Theano-era network from keys (hidden_size, hidden_type, activation, bidirectional; today's "
    "RETURNN dropped it too) is not built; write a `network` dict",
}

LEGACY_OPTIMIZER_FLAGS: dict[str, str] = {
    "adam": "adam",
    "nadam": "nadam",
    "adadelta": "adadelta",
    "adagrad": "adagrad",
    "rmsprop": "rmsprop",
}


# RETURNN `task` values seqtrain has no task for, and what does the job here
OTHER_TASKS: dict[str, str] = {
    "hyper_param_tuning": "RETURNN's hyper-parameter tuning is not implemented; run one config per setting "
    "(key=value overrides on the command line)",
    "search": "decode with `seqtrain recog CONFIG --data NAME`",
    "compute_priors": "`seqtrain recog` estimates priors for recog_prior_scale (docs), or give recog_prior_file",
    "dump_dataset": "inspect data with `seqtrain data CONFIG --seqs`",
    "analyze": "inspect data with `seqtrain data CONFIG --stats`",
    "cleanup_old_models": "set cleanup_old_models; training applies it after every epoch",
}


def is_returnn_name(name: str) -> bool:
    """A RETURNN config name seqtrain knows about without declaring it as a key."""
    return name in IGNORED or name in DEFAULT_ONLY or name in UNSUPPORTED or name in LEGACY_OPTIMIZER_FLAGS


def extern_data_from_num_io(num_inputs: int | None, num_outputs: int | dict[str, Any] | None) -> dict[str, Any]:
    """RETURNN's legacy `num_inputs`/`num_outputs` as an `extern_data` dict, with RETURNN's reading of them:
    an int `num_outputs` is the class count of sparse "classes"; a dict maps keys to `[dim, ndim]` (ndim 1 =
    sparse labels, 2 = dense frames) or to extern_data options; "data" defaults to `num_inputs` dense dims."""
    outputs: dict[str, Any] = {}
    if isinstance(num_outputs, int):
        outputs["classes"] = {"dim": num_outputs, "sparse": True}
    elif isinstance(num_outputs, dict):
        for key, spec in num_outputs.items():
            outputs[key] = _key_spec(key, spec)
    if "data" not in outputs and num_inputs is not None:
        outputs["data"] = {"dim": num_inputs}
    return outputs


def _key_spec(key: str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, dict):
        return {k: v for k, v in spec.items() if k != "shape"} | (
            {"shape": tuple(d for d in spec["shape"] if d is not None)} if spec.get("shape") else {}
        )
    if isinstance(spec, (list, tuple)) and len(spec) == 2 and all(isinstance(v, int) for v in spec):
        dim, ndim = spec
        if ndim == 1:
            return {"dim": dim, "sparse": True}
        if ndim == 2:
            return {"dim": dim}
    raise ConfigError(
        f"num_outputs[{key!r}] = {spec!r}: expected [dim, ndim] with ndim 1 (sparse labels) or 2 (dense frames), "
        "or a dict of extern_data options"
    )
