"""RETURNN's string `eval` of an eval layer ("source(0) * source(1) + tf.tanh(source(2))"), without `eval()`.

The string is parsed once with `ast` and interpreted on the source tensors: numbers, + - * / ** and unary -,
`source(i)`, and the element-wise functions below, called plainly or as RETURNN configs write them
(`tf.tanh`, `tf.nn.relu`, `tf.math.exp`, `torch.sigmoid`). Anything else (names, attributes of other
objects, keyword arguments) is an error naming what is not allowed, so a config string can run no code.
The same interpreter reads RETURNN's activation expressions ("2 * sigmoid", "tf.nn.relu(x) + 1"; nn/layer.py),
where bare names stand for values computed from the input (`names`).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

import torch

from seqtrain.errors import ConfigError

FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "exp": torch.exp,
    "log": torch.log,
    "safe_log": lambda x: torch.log(x.clamp(min=1e-20)),
    "abs": torch.abs,
    "sqrt": torch.sqrt,
    "square": torch.square,
    "minimum": torch.minimum,
    "maximum": torch.maximum,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}  # fmt: skip
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_NAMESPACES = ("tf", "torch", "nn", "math", "tf.nn", "tf.math")


def _function_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        parts = []
        inner: ast.expr = node
        while isinstance(inner, ast.Attribute):
            parts.append(inner.attr)
            inner = inner.value
        if isinstance(inner, ast.Name):
            prefix = ".".join([inner.id, *reversed(parts[1:])])
            if prefix in _NAMESPACES:
                return parts[0]
    return None


Inputs = tuple[torch.Tensor, ...]


def compile_expression(
    text: str,
    *,
    names: Mapping[str, Callable[[Inputs], torch.Tensor]] | None = None,
    functions: Mapping[str, Callable[..., torch.Tensor]] | None = None,
    what: str = "eval",
) -> Callable[..., torch.Tensor]:
    """A function of the source tensors computing `text` (checked now, so a bad string fails at build time).

    `names`: bare names allowed in the text, each a function of the source tensors; `functions`: allowed besides
    FUNCTIONS; `what` starts the error messages."""
    names = dict(names or {})
    functions = {**FUNCTIONS, **(functions or {})}
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ConfigError(f"{what} {text!r}: not a valid expression ({e.msg})") from None

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            check(node.body)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            check(node.operand)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)):
                raise ConfigError(f"{what} {text!r}: only numbers are allowed as constants, got {node.value!r}")
        elif isinstance(node, ast.Name) and node.id in names:
            pass
        elif isinstance(node, ast.Call) and not node.keywords:
            name = _function_name(node.func)
            if name == "source":
                ok = len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                if not ok or not isinstance(node.args[0].value, int):  # type: ignore[attr-defined]
                    raise ConfigError(f"{what} {text!r}: source(i) takes one int")
            elif name not in functions:
                raise ConfigError(
                    f"{what} {text!r}: {ast.unparse(node.func)} is not allowed; functions: {sorted(functions)}"
                )
            else:
                for arg in node.args:
                    check(arg)
        else:
            allowed = f", names {sorted(names)}" if names else ""
            raise ConfigError(f"{what} {text!r}: {ast.unparse(node)!r} is not allowed (numbers, + - * / **, "
                              f"source(i), element-wise functions{allowed})")  # fmt: skip

    check(tree)

    def run(node: ast.AST, sources: tuple[torch.Tensor, ...]) -> torch.Tensor:
        if isinstance(node, ast.Expression):
            return run(node.body, sources)
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](run(node.left, sources), run(node.right, sources))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](run(node.operand, sources))
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return names[node.id](sources)
        assert isinstance(node, ast.Call)
        name = _function_name(node.func)
        if name == "source":
            index = node.args[0].value  # type: ignore[attr-defined]
            if not 0 <= index < len(sources):
                raise ConfigError(f"{what} {text!r}: source({index}), but the layer has {len(sources)} sources")
            return sources[index]
        return functions[name](*[run(arg, sources) for arg in node.args])  # type: ignore[index]

    return lambda *sources: run(tree, sources)
