"""Reading a net dict: layer classes, sources, options checked against each class, dependency order.

Options fall in three groups. Structural ones (class, from, trainable and the class's constructor
options) define the parameters; they make up the network's signature, and a new signature between
epochs rebuilds the model. Schedulable ones (dropout, L2, param_variational_noise, loss_scale and the
class's own, e.g. survival_prob) may be a number, `{epoch: value}` or `f(*, epoch, step)` and are
resolved every step without a rebuild. Loss settings (loss, target, loss_opts, loss_only_eval) and
init options may also differ between epochs without a rebuild.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from seqtrain.config.schedule import is_epoch_dict
from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer
from seqtrain.nn.layers import LAYERS
from seqtrain.nn.losses import auto_n_out
from seqtrain.nn.rec_unit_check import STEP_CLASSES, check_rec_unit, unit_class_problems
from seqtrain.nn.returnn_layers import IGNORED_LAYER_OPTIONS, unsupported_message, unsupported_option_message

SCHEDULABLE_GENERIC: dict[str, Any] = {"dropout": 0.0, "L2": 0.0, "param_variational_noise": None, "loss_scale": 1.0}
OTHER_GENERIC = {
    "class",
    "from",
    "trainable",
    "forward_weights_init",
    "recurrent_weights_init",
    "bias_init",
    "dropout_noise_shape",
    "loss",
    "target",
    "loss_opts",
    "loss_only_eval",
    "only_on_eval",
    "darc1",
    "is_output_layer",
    "custom_param_importer",
    "n_out",  # of a class without n_out (combine, copy, eval, ...): RETURNN's check of the output dim (net_module)
    *IGNORED_LAYER_OPTIONS,  # RETURNN's options without effect here (TensorFlow placement, scopes, debugging)
}
_RESERVED_NAMES = {"data"}


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a net dict, checked: its class, its sources ("data:<key>" or layer names), its options."""

    name: str
    cls: type[Layer]
    sources: tuple[str, ...]
    kwargs: dict[str, Any]  # constructor (structural) options
    options: dict[str, Any]  # everything else as written (schedules unresolved)
    # layers read besides `from`, not concatenated with it: the `base:<name>` layers of a rec unit
    side_sources: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"layer {self.name!r} (class {self.cls.layer_class or self.cls.__name__!r})"

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    @property
    def target(self) -> str | None:
        target = self.options.get("target")
        if target is None:
            return None
        return target[len("layer:") :] if target.startswith("layer:") else f"data:{target}"


@dataclass
class NetSpec:
    """A checked net dict: layers in dependency order (sources first) and its `#config` overrides."""

    layers: dict[str, LayerSpec]
    config: dict[str, Any] = field(default_factory=dict)

    def signature(self) -> str:
        """Changes exactly when the parameters change (structure), not with schedules, losses or init."""
        parts = [
            (
                s.name,
                _describe(s.cls),
                s.sources + s.side_sources,
                _describe(s.kwargs),
                bool(s.option("trainable", True)),
            )
            for s in self.layers.values()
        ]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]

    def loss_layers(self) -> list[LayerSpec]:
        return [s for s in self.layers.values() if s.option("loss") is not None]

    def output_layers(self) -> list[str]:
        """ "output" (RETURNN's convention) and every layer with is_output_layer=True."""
        names = [n for n, s in self.layers.items() if n == "output" or s.option("is_output_layer")]
        if not names:
            raise ConfigError("the net dict has no 'output' layer (and no layer with is_output_layer=True)")
        return names

    def has_step_schedules(self) -> bool:
        return any(callable(v) for s in self.layers.values() for k, v in s.options.items() if _schedulable(s, k))


def _describe(value: Any) -> str:
    """A stable text for signatures: functions and classes by qualified name, containers recursively."""
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))) + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    if callable(value):
        return f"<{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__name__)}>"
    return repr(value)


def _schedulable(spec: LayerSpec, name: str) -> bool:
    return name in SCHEDULABLE_GENERIC or name in spec.cls.schedulable


def resolve(value: Any, default: Any, *, epoch: int, step: int) -> Any:
    """A schedulable option's value at (epoch, step): `{epoch: v}` piecewise constant from that epoch on
    (the default before the first entry), a callable gets `epoch` and `step`, anything else is itself."""
    if is_epoch_dict(value):
        starts = [e for e in value if e <= epoch]
        return value[max(starts)] if starts else default
    if callable(value):
        return value(epoch=epoch, step=step)
    return value


def _constructor_options(cls: type[Layer]) -> tuple[set[str], set[str]]:
    """(accepted, required) keyword options of a layer class's constructor."""
    params = list(inspect.signature(cls.__init__).parameters.values())[2:]  # self, sources
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    accepted = {p.name for p in params if p.kind in kinds}
    required = {p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty}
    return accepted, required


def _resolve_class(value: Any, classes: Mapping[str, type[Layer]], where: str) -> type[Layer]:
    if isinstance(value, type) and issubclass(value, Layer):
        return value
    if isinstance(value, str) and value in classes:
        return classes[value]
    if isinstance(value, str):
        if message := unsupported_message(value):
            raise ConfigError(f"{where}: {message}; seqtrain's layer classes: {', '.join(sorted(classes))}")
        raise LAYERS.unknown(value, where=where, extra=list(classes))
    raise ConfigError(
        f"{where}: 'class' must be a layer class name or a seqtrain.nn.layer.Layer subclass, got {value!r}"
    )


def _sources(name: str, value: Any, layer_names: Collection[str], data_keys: Collection[str]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value)
    out = []
    for src in items:
        if not isinstance(src, str):
            raise ConfigError(f"layer {name!r}: 'from' entries must be layer names or 'data:<key>', got {src!r}")
        if src == "data" or src.startswith("data:"):
            key = "data" if src == "data" else src[len("data:") :]
            if key not in data_keys:
                raise ConfigError(
                    f"layer {name!r}: 'from' {src!r}: no data key {key!r}; data keys: {sorted(data_keys)}"
                )
            out.append(f"data:{key}")
        elif src in layer_names:
            out.append(src)
        else:
            close = difflib.get_close_matches(src, list(layer_names), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"layer {name!r}: 'from' refers to unknown layer {src!r}{hint}")
    return tuple(out)


def _returnn_defaults(
    d: dict[str, Any], data_keys: Collection[str], default_target: str, *, takes_n_out: bool
) -> dict[str, Any]:
    """RETURNN's net-dict defaults: a `loss` without `target` uses the default target ("classes", the
    config's `target`); a layer with a target and no `n_out` gets the target's dim (its class count; one more for
    CTC's blank)."""
    if "loss" in d and d.get("target") is None and default_target in data_keys:
        d = {**d, "target": default_target}
    target = d.get("target")
    known = isinstance(target, str) and isinstance(data_keys, Mapping) and target in data_keys
    if takes_n_out and "n_out" not in d and known:
        dim = getattr(data_keys[target], "dim", None)
        if dim:
            d = {**d, "n_out": auto_n_out(d.get("loss"), int(dim))}
    return d


def _parse_layer(
    name: str,
    d: Any,
    classes: Mapping[str, type[Layer]],
    layer_names: Collection[str],
    data_keys: Collection[str],
    default_target: str = "classes",
) -> LayerSpec:
    if not isinstance(d, dict):
        raise ConfigError(f"layer {name!r}: expected a dict like {{'class': 'linear', ...}}, got {type(d).__name__}")
    if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED_NAMES:
        raise ConfigError(f"layer name {name!r}: must be a Python identifier (letters, digits, _) and not 'data'")
    if "class" not in d:
        raise ConfigError(f"layer {name!r}: missing 'class'")
    cls = _resolve_class(d["class"], classes, f"layer {name!r}")
    side: tuple[str, ...] = ()
    if cls.layer_class == "rec" and isinstance(d.get("unit"), dict):
        side = check_rec_unit(name, d, classes, layer_names)
    accepted, required = _constructor_options(cls)
    d = _returnn_defaults(d, data_keys, default_target, takes_n_out="n_out" in accepted)
    spec_where = f"layer {name!r} (class {cls.layer_class or cls.__name__!r})"
    known = OTHER_GENERIC | set(SCHEDULABLE_GENERIC) | set(cls.schedulable) | accepted
    for key in d:
        if key not in known and (message := unsupported_option_message(key)):
            raise ConfigError(f"{spec_where}: {message}")
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=2, cutoff=0.6)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else f"; options: {sorted(known)}"
            raise ConfigError(f"{spec_where}: unknown option {key!r}{hint}")
    missing = sorted(required - set(d))
    if missing:
        raise ConfigError(f"{spec_where}: missing option(s) {missing}")
    target = d.get("target")
    if target is not None:
        if not isinstance(target, str):
            raise ConfigError(f"{spec_where}: 'target' must be a data key or 'layer:<name>', got {target!r}")
        if target.startswith("layer:") and target[len("layer:") :] not in layer_names:
            raise ConfigError(f"{spec_where}: target {target!r}: no such layer")
        if not target.startswith("layer:") and target not in data_keys:
            raise ConfigError(f"{spec_where}: target {target!r} is not a data key; data keys: {sorted(data_keys)}")
    kwargs = {k: v for k, v in d.items() if k in accepted}
    options = {k: v for k, v in d.items() if k not in accepted and k not in ("class", "from")}
    given = _concat_pairs(spec_where, d.get("from", "data")) if cls.layer_class == "concat" else d.get("from", "data")
    sources = _sources(name, given, layer_names, data_keys)
    if not sources:
        raise ConfigError(f"{spec_where}: needs at least one source in 'from'")
    return LayerSpec(name=name, cls=cls, sources=sources, kwargs=kwargs, options=options, side_sources=side)


def _concat_pairs(where: str, value: Any) -> Any:
    """RETURNN's concat names each source with its axis, `[("a", "F"), ("b", "F")]`: feature axes only here."""
    if isinstance(value, str):
        return value
    names = []
    for item in value:
        if isinstance(item, (tuple, list)):
            if len(item) != 2 or item[1] not in ("F", "f", "feature"):
                raise ConfigError(f"{where}: 'from' entry {item!r}: only concatenation on the feature axis 'F' is "
                                  "supported")  # fmt: skip
            item = item[0]
        names.append(item)
    return names


def _unsupported_layers(net: Mapping[str, Any], names: list[str], classes: Mapping[str, type[Layer]]) -> None:
    """Names every RETURNN layer class the net dict uses that seqtrain lacks (top-level and in rec units) in one
    error when there are several, so porting a RETURNN config shows its whole scope at once."""
    problems, in_units = [], False
    for name in names:
        d = net[name]
        cls = d.get("class") if isinstance(d, dict) else None
        if isinstance(cls, str) and cls not in classes and (message := unsupported_message(cls)):
            problems.append(f"layer {name!r}: {message}")
        if cls == "rec" and isinstance(d.get("unit"), dict):
            found = unit_class_problems(d["unit"], classes)
            problems += [f"rec layer {name!r}: unit layer {p.replace(' (', ' is not supported inside a rec unit (', 1)}"
                         for p in found]  # fmt: skip
            in_units = in_units or bool(found)
    if len(problems) < 2:
        return  # one: the layer's own error says it
    tail = f"\nsupported unit layer classes: {', '.join(STEP_CLASSES)}" if in_units else ""
    raise ConfigError(
        f"the net dict has {len(problems)} layers whose class seqtrain does not implement:\n  "
        + "\n  ".join(problems)
        + tail
        + f"\nseqtrain's layer classes: {', '.join(sorted(c for c in classes if isinstance(c, str)))}"
    )


def _check_layer_references(specs: Mapping[str, LayerSpec]) -> None:
    """Options that name another layer (RETURNN's `chunking_layer`) must name one of the right class."""
    for spec in specs.values():
        ref = spec.kwargs.get("chunking_layer")
        if ref is None:
            continue
        if ref not in specs or specs[ref].cls.layer_class != "time_chunking":
            raise ConfigError(f"{spec.where}: chunking_layer {ref!r} is not a time_chunking layer of this net dict")


def _dependency_order(specs: dict[str, LayerSpec]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = in progress, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise ConfigError(f"the net dict has a cycle: {cycle}")
        state[name] = 1
        for src in specs[name].sources + specs[name].side_sources:
            if not src.startswith("data:"):
                visit(src, [*path, name])
        state[name] = 2
        order.append(name)

    for name in specs:
        visit(name, [])
    return order


def parse_net_dict(
    net: Any, *, classes: Mapping[str, type[Layer]], data_keys: Collection[str], default_target: str = "classes"
) -> NetSpec:
    """Checks a whole net dict (every layer, option and reference) before anything is built.

    `data_keys` may map each key to its SeqInfo (then a target's dim is a layer's default n_out)."""
    if not isinstance(net, dict):
        raise ConfigError(f"the network must be a dict of layer dicts, got {type(net).__name__}")
    config = net.get("#config", {})
    if not isinstance(config, dict):
        raise ConfigError(f"net dict '#config' must be a dict of config keys, got {config!r}")
    if "#copy_param_mode" in net:  # RETURNN's per-net entry; a '#config' value wins
        config = {"copy_param_mode": net["#copy_param_mode"], **config}
    names = [n for n in net if not (isinstance(n, str) and n.startswith("#"))]
    if not names:
        raise ConfigError("the net dict has no layers")
    _unsupported_layers(net, names, classes)
    specs = {n: _parse_layer(n, net[n], classes, names, data_keys, default_target) for n in names}
    _check_layer_references(specs)
    return NetSpec(layers={n: specs[n] for n in _dependency_order(specs)}, config=dict(config))
