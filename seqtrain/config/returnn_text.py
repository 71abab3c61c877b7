"""RETURNN's old line-based config format (`key value` per line, `#` comments), and its JSON format.

RETURNN reads a config file as Python when it starts with `#!` (or ends in `.py`), as JSON when it starts
with `{`, and as lines of `key value` otherwise; so does seqtrain, except that a file that compiles as
Python is read as Python whatever its name. Values of the line format are typed here once:
Python literals (`1`, `0.5`, `None`, `'x'`), `true`/`false`, comma lists of those (`10,10,10`); anything
else stays a string (`200:200`, `GeneratingDataset::Task12AXDataset(num_seqs=100)`, file paths).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from seqtrain.errors import ConfigError


def config_format(path: Path, source: str) -> str:
    """'py', 'json' or 'text', decided as RETURNN does, with a Python fallback for files that compile."""
    text = source.strip()
    if text.startswith("#!") or path.suffix == ".py":
        return "py"
    if text.startswith("{"):
        return "json"
    try:
        compile(source, str(path), "exec")
    except SyntaxError:
        return "text"
    return "py"


def parse_json_config(path: Path, source: str) -> dict[str, Any]:
    try:
        values = json.loads(source)
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path}: a JSON config must be an object of key: value")
    return values


def parse_text_config(path: Path, source: str) -> dict[str, Any]:
    """`key value` lines into typed values; a line without a value is an error naming it."""
    values: dict[str, Any] = {}
    for number, line in enumerate(source.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not parts[0].isidentifier():
            raise ConfigError(
                f"config file {path}, line {number}: {line!r} is neither Python nor RETURNN's `key value` line "
                "format (a Python config should start with '#!' or be named *.py)"
            )
        values[parts[0]] = text_value(parts[1].strip())
    return values


def text_value(raw: str) -> Any:
    """One value of the line format, typed (see the module docstring)."""
    if any(c in raw for c in "(:/"):
        return raw
    if "," in raw:
        return [_scalar(item.strip()) for item in raw.split(",")]
    return _scalar(raw)


def _scalar(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
