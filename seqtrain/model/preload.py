"""`preload_from_files`: initialize parameters from other runs' checkpoints or plain PyTorch state dicts.

RETURNN's semantics (returnn/torch/engine.py, `_load_model`):
- `init_for_train: True` entries are loaded when a training run starts fresh (never on resume, where the
  run's own checkpoint has the trained values); entries without it (the default) are loaded for
  recognition/forwarding on top of the run's checkpoint.
- Entries are applied in reversed sorted order of their names, each overwriting, so the alphabetically
  first entry wins where several provide a parameter.
- `prefix`: only the model's parameters starting with it are loaded, from the file's names without it.
- `ignore_params`, `ignore_params_prefixes`: model-side names not to load; `var_name_mapping`:
  {model name: name in the file (with the prefix applied)}; `checkpoint_key`: the entry of a dict file
  that holds the state dict (default "model"; our checkpoints and plain state dicts are recognized).
- `ignore_missing`: a model parameter (in the prefix's scope) that the file lacks is left as it is;
  otherwise that is an error. A shape mismatch is always an error naming the parameter and both shapes.
- `filename: None` with `prefix` or `pattern`: those parameters are knowingly left freshly initialized.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seqtrain.errors import CheckpointError, ConfigError

log = logging.getLogger("seqtrain")

_OPTIONS = {
    "filename",
    "prefix",
    "pattern",
    "init_for_train",
    "ignore_missing",
    "ignore_params",
    "ignore_params_prefixes",
    "var_name_mapping",
    "checkpoint_key",
    "custom_missing_load_func",
}


@dataclass
class PreloadReport:
    loaded: dict[str, str] = field(default_factory=dict)  # model name -> "entry: file name"
    missing: list[str] = field(default_factory=list)  # in scope but not in the file (ignore_missing)
    unexpected: list[str] = field(default_factory=list)  # in the file but not in the model


def _entries_for(preload: Mapping[str, Any] | None, *, training: bool) -> list[tuple[str, dict[str, Any]]]:
    entries = []
    for name, opts in sorted((preload or {}).items(), reverse=True):
        if not isinstance(opts, dict) or "filename" not in opts:
            raise ConfigError(f"preload_from_files[{name!r}]: needs a dict with 'filename' (None to keep fresh init)")
        unknown = set(opts) - _OPTIONS
        if unknown:
            raise ConfigError(
                f"preload_from_files[{name!r}]: unknown options {sorted(unknown)}; allowed: {sorted(_OPTIONS)}"
            )
        init_for_train = opts.get("init_for_train", False)
        if init_for_train == "always":
            raise ConfigError(
                f"preload_from_files[{name!r}]: init_for_train='always' is not supported; use True and freeze the "
                "parameters (net dict: 'trainable': False; get_model: requires_grad_(False))"
            )
        if not isinstance(init_for_train, bool):
            raise ConfigError(
                f"preload_from_files[{name!r}]: init_for_train must be True or False, got {init_for_train!r}"
            )
        if init_for_train == training:
            entries.append((name, opts))
    return entries


def load_state_dict_file(path: str | Path, checkpoint_key: str | None = "model") -> dict[str, torch.Tensor]:
    """A state dict from our checkpoint, from a dict holding it under `checkpoint_key`, or a plain one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"preload file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"preload file {path} cannot be loaded as a torch file: {e}") from e
    if isinstance(obj, dict) and checkpoint_key is not None and isinstance(obj.get(checkpoint_key), dict):
        obj = obj[checkpoint_key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        where = f" under {checkpoint_key!r}" if checkpoint_key else ""
        raise CheckpointError(
            f"preload file {path} holds no state dict (name -> tensor){where}; "
            "set checkpoint_key to the entry that holds it, or None for the file itself"
        )
    return dict(obj)


def _file_state(name: str, opts: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The file's tensors renamed into the model's namespace (prefix, ignores, mapping)."""
    state = load_state_dict_file(opts["filename"], opts.get("checkpoint_key", "model"))
    prefix = opts.get("prefix") or ""
    state = {prefix + k: v for k, v in state.items()}
    ignore = set(opts.get("ignore_params", []))
    ignore_prefixes = tuple(opts.get("ignore_params_prefixes", []))
    state = {k: v for k, v in state.items() if k not in ignore and not k.startswith(ignore_prefixes or ("\0",))}
    for model_name, file_name in (opts.get("var_name_mapping") or {}).items():
        if file_name not in state:
            raise CheckpointError(
                f"preload_from_files[{name!r}]: var_name_mapping {model_name!r} <- {file_name!r}: "
                f"{opts['filename']} has no {file_name!r} (names there, prefix applied: {sorted(state)[:10]}...)"
            )
        state[model_name] = state.pop(file_name)
    return state


def _in_scope(names: list[str], opts: dict[str, Any]) -> list[str]:
    if opts.get("pattern"):
        return [n for n in names if fnmatch.fnmatchcase(n, opts["pattern"])]
    prefix = opts.get("prefix") or ""
    return [n for n in names if n.startswith(prefix)]


def _load_entry(model: torch.nn.Module, name: str, opts: dict[str, Any], report: PreloadReport) -> list[str]:
    """Loads one entry; returns the model names in its scope that the file lacks."""
    target = model.state_dict()
    scope = _in_scope(list(target), opts)
    if not scope:
        raise CheckpointError(
            f"preload_from_files[{name!r}]: no model parameter matches prefix {opts.get('prefix')!r}; "
            f"model parameters: {list(target)[:10]}..."
        )
    state = _file_state(name, opts)
    if not set(state) & set(scope):
        raise CheckpointError(
            f"preload_from_files[{name!r}]: none of the names in {opts['filename']} match the model "
            f"(file, prefix applied: {sorted(state)[:5]}...; model: {scope[:5]}...); check prefix/var_name_mapping"
        )
    missing = [n for n in scope if n not in state]
    custom: Callable[..., torch.Tensor | None] | None = opts.get("custom_missing_load_func")
    if custom is not None:
        for n in list(missing):
            value = custom(name=n, shape=target[n].shape, preload_model_state=state)
            if value is not None:
                state[n] = value
                missing.remove(n)
    with torch.no_grad():
        for n in scope:
            if n not in state:
                continue
            if tuple(state[n].shape) != tuple(target[n].shape):
                raise CheckpointError(
                    f"preload_from_files[{name!r}]: parameter {n!r} has shape {tuple(state[n].shape)} in "
                    f"{opts['filename']}, but {tuple(target[n].shape)} in the model"
                )
            target[n].copy_(state[n])
            report.loaded[n] = f"{name}: {Path(opts['filename']).name}"
    report.unexpected += sorted(n for n in state if n not in target)
    return missing


def apply_preload(model: torch.nn.Module, preload: Mapping[str, Any] | None, *, training: bool) -> PreloadReport:
    """Loads the entries meant for this situation (fresh training start, or recognition) into `model`."""
    report = PreloadReport()
    missing: dict[str, str] = {}
    fresh: set[str] = set()
    entries = _entries_for(preload, training=training)
    if not entries:
        return report
    for name, opts in entries:
        if opts["filename"] is None:
            keep = _in_scope(list(model.state_dict()), opts) if (opts.get("prefix") or opts.get("pattern")) else []
            if not keep:
                raise ConfigError(
                    f"preload_from_files[{name!r}]: filename None needs a 'prefix' or 'pattern' that matches"
                )
            log.info("preload %s: keeping the fresh initialization of %d parameters", name, len(keep))
            fresh.update(keep)
            continue
        log.info("preload %s: loading %s", name, opts["filename"])
        for n in _load_entry(model, name, opts, report):
            if opts.get("ignore_missing", False):
                report.missing.append(n)
            elif n not in report.loaded:
                missing[n] = name
    for n in [*report.loaded, *fresh]:
        missing.pop(n, None)
    if missing:
        first = next(iter(missing.values()))
        raise CheckpointError(
            f"preload_from_files[{first!r}]: the file lacks model parameter(s) {sorted(missing)}; "
            "set 'ignore_missing': True to keep their fresh initialization, or map names with var_name_mapping"
        )
    if report.unexpected:
        log.info("preload: parameters in the files but not in the model (not loaded): %s", report.unexpected)
    log.info("preload: %d parameters loaded", len(report.loaded))
    return report
