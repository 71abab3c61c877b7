"""RETURNN's pretrain construction algorithms on seqtrain net dicts: the sequence of growing networks.

Ported from `returnn/pretrain.py` (`Pretrain._construct_epochs_*`) so that a RETURNN `pretrain`
config builds the same sequence of networks here:

- "from_output": repeatedly remove the layers right below the output layers (connecting the outputs to
  what those layers read), until the outputs read an input layer; the simplest net comes first.
  `input_layers` name layers that count as inputs (a front end that should never be removed).
- "from_input": the first net has the layers within 1 step of the input (+ non-trainable layers next to
  the input, + the output layers, wired to what exists), then 2 steps, ..., until nothing is missing.
- "no_network_modifications": only the full net (pretraining only repeats it / sets other options).
- a function `f(*, idx, net_dict) -> net dict | None`, called with idx = 0, 1, ... until it returns None.

Differences to RETURNN, both for nets RETURNN would fail on: an output layer shared by two removed
sources is handled, and a non-output layer whose source was removed (e.g. an auxiliary loss on a
deeper layer) is left out of that net instead of dangling.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

from seqtrain.errors import ConfigError
from seqtrain.model.builder import call_with_accepted

log = logging.getLogger("seqtrain")

NetDict = dict[str, Any]


def layer_names(net: NetDict) -> list[str]:
    return [n for n in net if not (isinstance(n, str) and n.startswith("#"))]


def sources_of(layer: dict[str, Any]) -> list[str]:
    value = layer.get("from", "data")
    return [value] if isinstance(value, str) else list(value)


def is_data(source: str) -> bool:
    return source == "data" or source.startswith("data:")


def is_output(net: NetDict, name: str, output_layers: Sequence[str]) -> bool:
    """RETURNN's notion: named as output, a softmax, or a layer with a target (here also: with a loss)."""
    layer = net[name]
    return name in output_layers or layer.get("class") == "softmax" or "target" in layer or "loss" in layer


def _trainable(layer: dict[str, Any]) -> bool:
    return bool(layer.get("trainable", True))


def _meta_entries(net: NetDict) -> NetDict:
    return {k: copy.deepcopy(v) for k, v in net.items() if isinstance(k, str) and k.startswith("#")}


# ---------------------------------------------------------------------------------------- from_output


def _simplify_from_output(net: NetDict, output_layers: Sequence[str], inputs: set[str]) -> NetDict | None:
    """One step simpler than `net` (RETURNN's _construct_new_epoch_from_output), or None when minimal."""
    new = copy.deepcopy(net)
    while True:
        missing = [o for o in output_layers if o not in new]
        if missing:
            raise ConfigError(f"pretrain: output_layers {missing} are not layers of the network")
        new_sources: set[str] = set()
        deleted: set[str] = set()
        current = {s for o in output_layers for s in sources_of(new[o])}
        for source in sorted(current):
            if is_data(source) or source in inputs:
                new_sources.add(source)
            else:
                new_sources.update(sources_of(new[source]))
                del new[source]
                deleted.add(source)
        if new_sources == current:
            return None
        for o in output_layers:
            new[o]["from"] = sorted(new_sources)
        if any(is_data(s) or s in inputs for s in new_sources):
            continue  # the outputs would read an input layer directly: try one more step (as RETURNN)
        if all(not _trainable(net[d]) for d in deleted if d in net):
            continue
        return new


def from_output(net: NetDict, output_layers: Sequence[str], input_layers: Sequence[str]) -> list[NetDict]:
    nets = [net]
    while (simpler := _simplify_from_output(nets[0], output_layers, set(input_layers))) is not None:
        nets.insert(0, simpler)
    return nets


# ---------------------------------------------------------------------------------------- from_input


def _descendants(net: NetDict, sources: Sequence[str]) -> list[str]:
    """Layers of `net` reading any of `sources` ("data" stands for every data key)."""
    wanted = set(sources)
    found = []
    for name in sorted(layer_names(net)):
        layer_sources = sources_of(net[name])
        if any(s in wanted or ("data" in wanted and is_data(s)) for s in layer_sources):
            found.append(name)
    return found


def _existing_inputs(orig: NetDict, new: NetDict, name: str) -> list[str]:
    """The sources of `name` in `orig`, where missing layers are replaced by their own existing sources."""
    collected: list[str] = []
    visited = {name}

    def walk(layer: str) -> None:
        for src in sources_of(orig[layer]):
            if src in new or is_data(src):
                if src not in collected:
                    collected.append(src)
            elif src not in visited:
                visited.add(src)
                walk(src)

    walk(name)
    return collected


def _next_from_input(orig: NetDict, num_steps: int, output_layers: Sequence[str]) -> NetDict | None:
    """The net with the layers within `num_steps` of the input, or None when that is the full net."""
    new: NetDict = {}
    sources = ["data"]
    needed: set[str] = set()

    def add(name: str) -> None:
        needed.discard(name)
        new[name] = copy.deepcopy(orig[name])
        needed.update(s for s in sources_of(new[name]) if s not in new and not is_data(s))

    while True:  # non-trainable layers next to the input first (windows, normalization)
        added = [n for n in _descendants(orig, sources) if n not in new and not _trainable(orig[n])]
        for name in added:
            sources.append(name)
            add(name)
        if not added:
            break
    for _ in range(num_steps):
        sources = [n for n in _descendants(orig, sources) if n not in new]
        for name in sources:
            add(name)
        if not sources:
            return None
    for name in sorted(layer_names(orig)):
        if name not in new and is_output(orig, name, output_layers):
            add(name)
    needed -= set(new)
    if not needed:
        return None
    for name in sorted(layer_names(new)):
        existing = _existing_inputs(orig, new, name)
        if sources_of(new[name]) != existing:
            without_data = [s for s in existing if not is_data(s)]
            new[name]["from"] = without_data or existing
    return {**new, **_meta_entries(orig)}


def from_input(net: NetDict, output_layers: Sequence[str]) -> list[NetDict]:
    nets = []
    num_steps = 1
    while (step := _next_from_input(net, num_steps, output_layers)) is not None:
        nets.append(step)
        num_steps += 1
    return [*nets, net]


# ---------------------------------------------------------------------------------------- others


def from_function(net: NetDict, func: Callable[..., Any]) -> list[NetDict]:
    nets = []
    for idx in range(10_000):
        step = call_with_accepted(func, idx=idx, net_dict=copy.deepcopy(net))
        if not step:
            return [*nets, net]
        if not isinstance(step, dict):
            raise ConfigError(
                f"pretrain construction_algo returned {type(step).__name__} for idx={idx}, not a net dict"
            )
        nets.append(step)
    raise ConfigError("pretrain construction_algo never returned None (10000 nets); it must end the sequence")


def remove_non_trainable_added_only(nets: list[NetDict], output_layers: Sequence[str]) -> list[NetDict]:
    """Drops a net that only adds non-trainable layers to the one before (RETURNN); the full net always stays."""
    kept = []
    previous: NetDict = {}
    for net in nets[:-1]:
        added = [n for n in layer_names(net) if n not in previous and not is_output(net, n, output_layers)]
        if any(_trainable(net[n]) for n in added):
            kept.append(net)
        previous = net
    return [*kept, nets[-1]]


def drop_dangling(net: NetDict, output_layers: Sequence[str]) -> NetDict:
    """Leaves out layers whose sources are gone (e.g. an auxiliary loss on a layer this net does not have yet)."""
    net = dict(net)
    while True:
        names = set(layer_names(net))
        dangling = [n for n in layer_names(net) if any(s not in names and not is_data(s) for s in sources_of(net[n]))]
        if not dangling:
            return net
        for name in dangling:
            if name in output_layers:
                raise ConfigError(f"pretrain: output layer {name!r} reads layers this pretrain net does not have")
            del net[name]
