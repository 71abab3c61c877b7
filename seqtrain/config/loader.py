"""Reads a config file and `key=value` overrides into a checked `Config`.

A seqtrain config is a Python file executed as a module; its top-level names are config keys. Ignored:
names starting with `_`, imported modules, and functions/classes that are helpers (referenced by other
keys). Anything else must be a declared key, so a typo such as `learning_rte = 0.1` fails loudly with
a suggestion instead of silently training with the default.

A RETURNN config runs unchanged (docs/returnn.md). It is recognised by its form: a file not named *.py,
a `#!` first line, RETURNN's line or JSON format, an `import returnn`, or a RETURNN-only name such as
`use_tensorflow`. Such configs usually define plain variables of their own (`demo_name = ...`), so there
the rule for an unknown name is:
- a RETURNN name without effect here (`returnn_names.IGNORED`, or a `DEFAULT_ONLY` name at RETURNN's
  default) -> one warning line listing them;
- a RETURNN name whose meaning seqtrain lacks (`UNSUPPORTED`, `DEFAULT_ONLY` at another value) -> error;
- a name close to a seqtrain key (`difflib` ratio >= 0.85, e.g. `learning_rte`) -> still a typo error;
- anything else -> a user variable, reported once in one line.
The file also finds RETURNN's `config` object in its namespace (returnn_config.py).
"""

from __future__ import annotations

import ast
import inspect
import logging
import os
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtrain.config import keys as _keys  # noqa: F401  (declares all keys)
from seqtrain.config.config import Config
from seqtrain.config.registry import close_matches, get_key, is_declared, suggestion_text
from seqtrain.config.returnn_config import ReturnnConfigView
from seqtrain.config.returnn_names import (
    DEFAULT_ONLY,
    IGNORED,
    LEGACY_OPTIMIZER_FLAGS,
    OTHER_TASKS,
    UNSUPPORTED,
    is_returnn_name,
)
from seqtrain.config.returnn_text import config_format, parse_json_config, parse_text_config
from seqtrain.config.schedule import check_value
from seqtrain.errors import ConfigError, SeqtrainError

log = logging.getLogger("seqtrain")

_MODULE_NAME = "seqtrain_user_config"
TYPO_CUTOFF = 0.85  # difflib ratio from which an unknown name in a RETURNN config counts as a misspelled key


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value`; the value is a Python literal if it parses as one, else the plain string."""
    if "=" not in text:
        raise ConfigError(f"command-line override {text!r} must look like key=value (e.g. learning_rate=0.001)")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise ConfigError(f"command-line override {text!r}: {name!r} is not a valid key name")
    return name, parse_value(raw)


def parse_value(raw: str) -> Any:
    """A value given on the command line: a Python literal if it parses as one, else the plain string."""
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def _syntax_error(path: Path, error: SyntaxError) -> ConfigError:
    where = f"config file {path}, line {error.lineno}"
    if "Missing parentheses in call to" in (error.msg or ""):
        return ConfigError(f"{where}: Python 2 syntax ({error.msg}); seqtrain runs Python 3 configs, write print(...)")
    text = (error.text or "").strip()
    return ConfigError(f"{where}: {error.msg}" + (f": {text}" if text else ""))


_MISSING_MODULE_HINTS = {
    "returnn": "; the config imports RETURNN: `pip install returnn` (seqtrain itself does not need it)",
    "HyperParamTuning": "; RETURNN's hyper-parameter tuning (HyperParamTuning, a TensorFlow-only RETURNN tool) is "
    "not in seqtrain: run one config per setting (key=value overrides on the command line)",
}


def _execute(path: Path, source: str, overrides: Mapping[str, Any]) -> tuple[dict[str, Any], ReturnnConfigView]:
    module = types.ModuleType(_MODULE_NAME)
    module.__file__ = str(path)
    view = ReturnnConfigView(overrides, module.__dict__)
    module.__dict__["config"] = view  # RETURNN's `config.value(...)` in the file
    # Registered so that classes/functions defined in the config pickle inside this process and its
    # forked DataLoader workers.
    sys.modules[_MODULE_NAME] = module
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        raise _syntax_error(path, e) from None
    try:
        exec(code, module.__dict__)
    except SeqtrainError:
        raise
    except ModuleNotFoundError as e:
        hint = _MISSING_MODULE_HINTS.get((e.name or "").split(".")[0], "")
        raise ConfigError(f"config file {path} failed to execute: {e}{hint}") from e
    except Exception as e:
        raise ConfigError(f"config file {path} failed to execute: {type(e).__name__}: {e}") from e
    return module.__dict__, view


def _is_helper(value: Any) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value) or isinstance(value, types.BuiltinFunctionType)


def _imports_returnn(namespace: Mapping[str, Any]) -> bool:
    for value in namespace.values():
        module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(module, str) and module.split(".")[0] == "returnn":
            return True
    return False


def is_returnn_style(path: Path, source: str, namespace: Mapping[str, Any]) -> bool:
    """Whether a config is written for RETURNN (then plain variables of its own are allowed, see above)."""
    return (
        path.suffix != ".py"
        or source.lstrip().startswith("#!")
        or _imports_returnn(namespace)
        or any(is_returnn_name(name) for name in namespace)
    )


@dataclass
class _Split:
    values: dict[str, Any] = field(default_factory=dict)
    helpers: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    user_variables: list[str] = field(default_factory=list)


def _checked_split(namespace: Mapping[str, Any], path: Path, *, returnn_style: bool) -> _Split:
    """Splits an executed config namespace into key values and helpers; collects all problems into one error."""
    task = namespace.get("task")
    if isinstance(task, str) and task in OTHER_TASKS:
        raise ConfigError(f"config {path}: task={task!r} is RETURNN's; seqtrain has no such task: {OTHER_TASKS[task]}")
    split = _split(namespace, returnn_style=returnn_style)
    if split.problems:
        raise ConfigError(f"config {path}:\n  " + "\n  ".join(split.problems))
    return split


def _split(namespace: Mapping[str, Any], *, returnn_style: bool) -> _Split:
    split = _Split()
    for name, value in namespace.items():
        if name.startswith("_") or isinstance(value, (types.ModuleType, ReturnnConfigView)):
            continue
        if is_declared(name):
            try:
                check_value(get_key(name), value)
            except ConfigError as e:
                split.problems.append(str(e))
            split.values[name] = value
        elif _is_helper(value):
            if inspect.isfunction(value) and close_matches(name, cutoff=0.85):
                split.problems.append(f"function {name!r} is not a known hook{suggestion_text(name)}")
            split.helpers[name] = value
        elif returnn_style:
            _returnn_name(name, value, split)
        else:
            split.problems.append(f"unknown config key {name!r}{suggestion_text(name)}")
    return split


def _returnn_name(name: str, value: Any, split: _Split) -> None:
    if name in IGNORED:
        split.ignored.append(name)
    elif name in DEFAULT_ONLY:
        default, lacking = DEFAULT_ONLY[name]
        if value == default:
            split.ignored.append(name)
        else:
            split.problems.append(f"RETURNN key {name!r} = {value!r} is not supported (only {default!r}): {lacking}")
    elif name in UNSUPPORTED:
        split.problems.append(f"RETURNN key {name!r} is not supported by seqtrain: {UNSUPPORTED[name]}")
    elif name in LEGACY_OPTIMIZER_FLAGS:
        if value not in (True, False, 0, 1):
            split.problems.append(f"RETURNN key {name!r} must be True or False, got {value!r}")
        elif value:
            split.values.setdefault("_legacy_optimizers", []).append(LEGACY_OPTIMIZER_FLAGS[name])
    elif close_matches(name, cutoff=TYPO_CUTOFF):
        split.problems.append(f"unknown config key {name!r}{suggestion_text(name)}")
    else:
        split.user_variables.append(name)


def _apply_legacy_optimizer(values: dict[str, Any], path: Path) -> None:
    """RETURNN's `adam = True` -> `optimizer = {"class": "adam"}` (conflicts are errors, not guesses)."""
    flags = values.pop("_legacy_optimizers", [])
    if not flags:
        return
    if len(flags) > 1 or "optimizer" in values:
        given = [f"{f} = True" for f in flags] + (["optimizer"] if "optimizer" in values else [])
        raise ConfigError(f"config {path}: {' and '.join(given)} each choose the optimizer; keep one")
    values["optimizer"] = {"class": flags[0]}


def _is_rank_zero() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _report(split: _Split, path: Path) -> None:
    if not _is_rank_zero():
        return
    if split.ignored:
        reasons = "; ".join(f"{n} ({IGNORED.get(n) or 'RETURNN default'})" for n in sorted(split.ignored))
        log.warning("config %s: RETURNN keys without effect in seqtrain, ignored: %s", path, reasons)
    if split.user_variables:
        log.warning("config %s: the config's own variables (no keys): %s", path, ", ".join(split.user_variables))


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Loads and checks a config file, then applies `key=value` overrides (checked the same way)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    source = path.read_text()
    parsed = dict(parse_override(o) for o in overrides)
    fmt = config_format(path, source)
    names_read: set[str] = set()
    if fmt == "py":
        namespace, view = _execute(path, source, parsed)
        names_read = view.names_read
    elif fmt == "json":
        namespace = parse_json_config(path, source)
    else:
        namespace = parse_text_config(path, source)
    returnn_style = fmt != "py" or is_returnn_style(path, source, namespace)
    split = _checked_split(namespace, path, returnn_style=returnn_style)
    values = split.values
    _apply_legacy_optimizer(values, path)
    for name, value in parsed.items():
        if not is_declared(name):
            if name in names_read:
                continue  # read by the file through RETURNN's `config` object, which saw the override
            raise ConfigError(f"command-line override: unknown config key {name!r}{suggestion_text(name)}")
        check_value(get_key(name), value)
        values[name] = value
    _report(split, path)
    return Config(
        values,
        path=path.resolve(),
        source_text=source,
        overrides={k: v for k, v in parsed.items() if is_declared(k)},
        helpers=split.helpers,
        variable_overrides={k: v for k, v in parsed.items() if not is_declared(k)},
    )
