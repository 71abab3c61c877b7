"""RETURNN's string forms of a dataset (`init_dataset` / `init_dataset_via_str`), turned into a dataset dict.

    train = "Task12AXDataset:num_seqs=1000"                 # RETURNN: class, a colon, keyword arguments
    train = "Task12AXDataset(num_seqs=1000)"                # the same as a call (seqtrain also reads this)
    train = "GeneratingDataset::Task12AXDataset(num_seqs=1000)"  # RETURNN's oldest form: module::class(arguments)
    train = "{'class': 'Task12AXDataset', 'num_seqs': 1000}"  # a dict literal
    train = "data/train.1.hdf,data/train.2.hdf"             # HDF files

RETURNN evaluates these strings as Python; here every value must be a literal (`ast.literal_eval`: numbers,
strings, tuples, lists, dicts, None, True/False), so a config string never runs code.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from seqtrain.errors import ConfigError

_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)
_COLON = re.compile(r"^\s*([A-Za-z_]\w*)\s*:(.*)$", re.DOTALL)
# RETURNN's first line-format configs (demo-pretrain.config): the module of RETURNN that held the class (ignored,
# the class name is enough), "::", the class, optionally its arguments as a call
_MODULE_CLASS = re.compile(r"^\s*[A-Za-z_]\w*::([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*$", re.DOTALL)
_FORMS = (
    "'Class:key=value,...' (RETURNN's), 'Class(key=value, ...)', 'Module::Class(key=value, ...)', "
    "a dict literal '{...}' or HDF files 'a.hdf,b.hdf'"
)


def parse_dataset_string(text: str, *, where: str) -> dict[str, Any]:
    """The dataset dict a string stands for; a malformed string is a ConfigError naming `where` (the dataset)."""
    stripped = text.strip()
    if not stripped:
        raise ConfigError(f"{where}: the dataset string is empty; write one of {_FORMS}")
    if stripped.startswith("{"):
        return _dict_literal(stripped, where)
    if stripped.startswith("config:"):
        variable = stripped[len("config:") :].strip()
        raise ConfigError(
            f"{where}: RETURNN's 'config:...' dataset strings are not read; give the variable {variable!r} itself "
            "instead of the string"
        )
    if stripped.startswith("sprint:"):
        return {"class": "ExternSprintDataset"}  # the factory names what to use instead
    match = _MODULE_CLASS.match(stripped) if "::" in stripped else _CALL.match(stripped) or _COLON.match(stripped)
    if match is not None:
        class_name, arguments = match.groups()
        return {"class": class_name, **_keyword_arguments(arguments or "", text, where)}
    if "::" in stripped or "(" in stripped or "=" in stripped:
        raise ConfigError(f"{where}: cannot read the dataset string {text!r}; write one of {_FORMS}")
    files = [f.strip() for f in stripped.split(",") if f.strip()]
    return {"class": "HDFDataset", "files": files}


def _dict_literal(text: str, where: str) -> dict[str, Any]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as e:
        raise ConfigError(f"{where}: the dataset string {text!r} is not a dict of literals ({e})") from e
    if not isinstance(value, dict) or "class" not in value:
        raise ConfigError(f"{where}: the dataset string {text!r} must be a dict with a 'class'")
    return value


def _keyword_arguments(arguments: str, text: str, where: str) -> dict[str, Any]:
    """`key=value, ...` -> dict, each value a literal."""
    if not arguments.strip():
        return {}
    try:
        call = ast.parse(f"f({arguments})", mode="eval").body
    except SyntaxError as e:
        raise ConfigError(f"{where}: cannot read the arguments of the dataset string {text!r}: {e.msg}") from e
    assert isinstance(call, ast.Call)
    if call.args or any(k.arg is None for k in call.keywords):
        raise ConfigError(f"{where}: the dataset string {text!r} may only have key=value arguments")
    values: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg in values:
            raise ConfigError(f"{where}: the dataset string {text!r} sets {keyword.arg!r} twice")
        try:
            values[str(keyword.arg)] = ast.literal_eval(keyword.value)
        except ValueError as e:
            source = ast.unparse(keyword.value)
            raise ConfigError(
                f"{where}: option {keyword.arg}={source} of the dataset string {text!r} is not a literal "
                "(numbers, strings, lists, tuples, dicts, None, True, False); give the dataset as a dict to compute it"
            ) from e
    return values
