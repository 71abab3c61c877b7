"""Calling the functions a config defines with the keyword arguments they declare."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def call_with_accepted(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Calls a user function with the keyword arguments it declares (all of them if it takes **kwargs).

    Lets configs written for RETURNN (`get_model(*, epoch, step, **_kwargs)`) and minimal ones
    (`get_model(*, epoch)`) both work.
    """
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(**kwargs)
    return fn(**{k: v for k, v in kwargs.items() if k in params})
