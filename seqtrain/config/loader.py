"""Reads a Python config file and `key=value` overrides into a checked `Config`.

The file is executed as a module; its top-level names are config keys. Ignored: names starting with
`_`, imported modules, and functions/classes that are helpers (referenced by other keys). Anything
else must be a declared key, so a typo such as `learning_rte = 0.1` fails loudly with a suggestion
instead of silently training with the default.
"""

from __future__ import annotations

import ast
import inspect
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqtrain.config import keys as _keys  # noqa: F401  (declares all keys)
from seqtrain.config.config import Config
from seqtrain.config.registry import close_matches, get_key, is_declared, suggestion_text
from seqtrain.config.schedule import check_value
from seqtrain.errors import ConfigError, SeqtrainError

_MODULE_NAME = "seqtrain_user_config"


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value`; the value is a Python literal if it parses as one, else the plain string."""
    if "=" not in text:
        raise ConfigError(f"command-line override {text!r} must look like key=value (e.g. learning_rate=0.001)")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise ConfigError(f"command-line override {text!r}: {name!r} is not a valid key name")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name, value


def _execute(path: Path, source: str) -> dict[str, Any]:
    module = types.ModuleType(_MODULE_NAME)
    module.__file__ = str(path)
    # Registered so that classes/functions defined in the config pickle inside this process and its
    # forked DataLoader workers.
    sys.modules[_MODULE_NAME] = module
    try:
        code = compile(source, str(path), "exec")
        exec(code, module.__dict__)
    except SeqtrainError:
        raise
    except Exception as e:
        raise ConfigError(f"config file {path} failed to execute: {type(e).__name__}: {e}") from e
    return module.__dict__


def _is_helper(value: Any) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value) or isinstance(value, types.BuiltinFunctionType)


def split_namespace(namespace: dict[str, Any], path: Path | str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits an executed config namespace into (key values, helpers); collects all problems at once."""
    values: dict[str, Any] = {}
    helpers: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in namespace.items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if is_declared(name):
            try:
                check_value(get_key(name), value)
            except ConfigError as e:
                problems.append(str(e))
            values[name] = value
        elif _is_helper(value):
            if inspect.isfunction(value) and close_matches(name, cutoff=0.85):
                problems.append(f"function {name!r} is not a known hook{suggestion_text(name)}")
            helpers[name] = value
        else:
            problems.append(f"unknown config key {name!r}{suggestion_text(name)}")
    if problems:
        raise ConfigError(f"config {path}:\n  " + "\n  ".join(problems))
    return values, helpers


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Loads and checks a config file, then applies `key=value` overrides (checked the same way)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    source = path.read_text()
    values, helpers = split_namespace(_execute(path, source), path)
    parsed = dict(parse_override(o) for o in overrides)
    for name, value in parsed.items():
        if not is_declared(name):
            raise ConfigError(f"command-line override: unknown config key {name!r}{suggestion_text(name)}")
        check_value(get_key(name), value)
    values.update(parsed)
    return Config(values, path=path.resolve(), source_text=source, overrides=parsed, helpers=helpers)
