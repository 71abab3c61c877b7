"""Runtime checks of config values against the type expressions used in the key registry.

Only the forms the registry uses are supported: plain classes, `X | Y`, `None`, `list[X]`,
`tuple[X, ...]`, `dict[K, V]`, `Literal[...]`, `Callable` and `Any`.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any


def matches_type(value: Any, type_: Any) -> bool:
    """True if `value` is acceptable for `type_`; ints are accepted where floats are expected."""
    if type_ is Any:
        return True
    if type_ is None or type_ is type(None):
        return value is None
    origin = typing.get_origin(type_)
    args = typing.get_args(type_)
    if origin in (typing.Union, types.UnionType):
        return any(matches_type(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if type_ is collections.abc.Callable or origin is collections.abc.Callable:
        return callable(value)
    if origin is list:
        return isinstance(value, list) and all(matches_type(v, args[0]) for v in value) if args else True
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(matches_type(v, args[0]) for v in value)
        return len(args) == len(value) and all(matches_type(v, a) for v, a in zip(value, args))
    if origin is dict:
        if not isinstance(value, dict):
            return False
        if not args:
            return True
        return all(matches_type(k, args[0]) and matches_type(v, args[1]) for k, v in value.items())
    if type_ is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ is type:
        return isinstance(value, type)
    if isinstance(type_, type):
        return isinstance(value, type_)
    raise TypeError(f"unsupported type expression in registry: {type_!r}")


def type_name(type_: Any) -> str:
    """A short, readable name for error messages and `seqtrain config --list`."""
    if type_ is Any:
        return "any"
    if type_ is None or type_ is type(None):
        return "None"
    origin = typing.get_origin(type_)
    args = typing.get_args(type_)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if type_ is collections.abc.Callable or origin is collections.abc.Callable:
        return "callable"
    if origin in (list, tuple, dict):
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]" if inner else origin.__name__
    if isinstance(type_, type):
        return type_.__name__
    return str(type_)
