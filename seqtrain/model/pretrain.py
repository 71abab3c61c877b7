"""RETURNN's `pretrain = {...}`: a growing network per epoch, built from `network`, then the full one.

    network = {...: N BLSTM layers ..., "output": {"class": "softmax", "loss": "ctc", ...}}
    pretrain = {"repetitions": 1, "construction_algo": "from_output"}    # 1 layer, 2 layers, ..., N

Epoch e trains the e-th net of the sequence (`seqtrain.model.pretrain_nets`), each repeated
`repetitions` times (an int, a list per net, or {"default": n, "final": n, index: n}; a net may also
say `"#repetition": n`); after the last one, the full network. Whenever the structure changes the engine
rebuilds the model and copies parameters (`seqtrain.model.param_transfer`) with the options here:

- `copy_param_mode`: how parameters are carried over in pretraining ("subset" grows tensors in width);
- `copy_output_layer`: False / "reset" re-initializes the output layers at every rebuild (RETURNN);
  "ifpossible" / "subset" / True copy them (True: like everything else);
- `greedy`: train only the layers a net adds (and the output layers); the others are frozen
  (RETURNN's Theano-era option, here via `trainable: False` in that net).

`WrapEpochValue(f)` anywhere in `network` is `f(epoch=...)` of the pretrain epoch, e.g. to grow a
layer's `n_out` over the pretrain epochs. Each net keeps the `#config` of `network` (per-epoch keys).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any

from seqtrain.config import Config
from seqtrain.config.settings import ModelSettings, PretrainSettings
from seqtrain.errors import ConfigError
from seqtrain.model import pretrain_nets as nets_mod
from seqtrain.model.pretrain_nets import NetDict, is_output, layer_names

log = logging.getLogger("seqtrain")

_OPTIONS = {
    "repetitions",
    "construction_algo",
    "copy_param_mode",
    "copy_output_layer",
    "greedy",
    "output_layers",
    "input_layers",
}
_ALGOS = ("from_output", "from_input", "no_network_modifications")


class WrapEpochValue:
    """A net-dict value that depends on the pretrain epoch: `WrapEpochValue(lambda epoch: 256 * epoch)`."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def get_value(self, epoch: int) -> Any:
        return self.func(epoch=epoch)


def resolve_wrapped(value: Any, epoch: int) -> Any:
    """`value` with every WrapEpochValue inside (dicts, lists, tuples) replaced by its value at `epoch`."""
    if isinstance(value, WrapEpochValue):
        return value.get_value(epoch)
    if isinstance(value, dict):
        return {k: resolve_wrapped(v, epoch) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and any(isinstance(v, (WrapEpochValue, dict, list, tuple)) for v in value):
        return type(value)(resolve_wrapped(v, epoch) for v in value)
    return value


def _repetition_list(repetitions: Any, count: int) -> list[int]:
    if not repetitions:
        return [1] * count
    if isinstance(repetitions, dict):
        reps = dict(repetitions)
        result = [int(reps.pop("default", 1))] * count
        for key, value in reps.items():
            index = count - 1 if key == "final" else key
            if not isinstance(index, int) or not -count <= index < count:
                raise ConfigError(
                    f"pretrain repetitions: key {key!r} is not 'default', 'final' or a net index < {count}"
                )
            result[index] = int(value)
        return result
    reps_list = [repetitions] if isinstance(repetitions, int) else list(repetitions)
    if not reps_list or len(reps_list) > count or not all(isinstance(r, int) and r >= 0 for r in reps_list):
        raise ConfigError(
            f"pretrain repetitions {repetitions!r}: an int, a dict or a list of at most {count} ints >= 0 "
            f"(the construction gives {count} nets)"
        )
    return reps_list + [reps_list[-1]] * (count - len(reps_list))


class Pretrain:
    """The pretrain nets of every epoch, computed once from `network` and the options."""

    def __init__(self, network: NetDict, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ConfigError(f"pretrain: unknown options {unknown}; known: {sorted(_OPTIONS)}")
        self.algo = options.get("construction_algo", "from_output")
        self.output_layers = tuple(options.get("output_layers", ("output",)))
        self.input_layers = tuple(options.get("input_layers", ("data",)))
        self.copy_param_mode = options.get("copy_param_mode")
        copy_output = options.get("copy_output_layer", self.copy_param_mode)
        self.copy_output_layer = "reset" if copy_output is False else copy_output
        self.greedy = bool(options.get("greedy", False))
        steps = self._construct(network)
        reps = _repetition_list(options.get("repetitions"), len(steps))
        for i, net in enumerate(steps):
            if "#repetition" in net:
                reps[i] = int(net["#repetition"])
        self._nets: list[NetDict] = []
        for i, (net, rep) in enumerate(zip(steps, reps)):
            frozen = self._greedy_frozen(steps, i)
            for _ in range(rep):
                epoch = len(self._nets) + 1
                self._nets.append(self._finish(resolve_wrapped(copy.deepcopy(net), epoch), frozen))
        if not self._nets:
            raise ConfigError(f"pretrain: repetitions {reps} leave no epoch")

    def _construct(self, network: NetDict) -> list[NetDict]:
        if callable(self.algo):
            return nets_mod.from_function(network, self.algo)
        if self.algo not in _ALGOS:
            raise ConfigError(f"pretrain construction_algo {self.algo!r}: use one of {list(_ALGOS)} or a function")
        if self.algo == "from_output":
            steps = nets_mod.from_output(network, self.output_layers, self.input_layers)
        elif self.algo == "from_input":
            steps = nets_mod.from_input(network, self.output_layers)
        else:
            steps = [network]
        steps = nets_mod.remove_non_trainable_added_only(steps, self.output_layers)
        return [nets_mod.drop_dangling(net, self.output_layers) for net in steps]

    def _greedy_frozen(self, steps: list[NetDict], index: int) -> set[str]:
        if not self.greedy or index == 0 or index == len(steps) - 1:
            return set()
        before = set(layer_names(steps[index - 1]))
        net = steps[index]
        return {n for n in layer_names(net) if n in before and not is_output(net, n, self.output_layers)}

    def _finish(self, net: NetDict, frozen: set[str]) -> NetDict:
        """The options that act on the transfer into this net, written into the net dict itself."""
        for name in frozen:
            net[name] = {**net[name], "trainable": False}
        if self.copy_output_layer not in (None, True):
            for name in layer_names(net):
                if is_output(net, name, self.output_layers) and "custom_param_importer" not in net[name]:
                    net[name] = {**net[name], "custom_param_importer": self.copy_output_layer}
        if self.copy_param_mode is not None:
            net["#config"] = {"copy_param_mode": self.copy_param_mode, **net.get("#config", {})}
        return net

    @property
    def num_epochs(self) -> int:
        return len(self._nets)

    def net_dict(self, epoch: int) -> NetDict:
        """The net of `epoch` (from 1); after the pretrain epochs, the full network."""
        return copy.deepcopy(self._nets[min(max(epoch, 1), len(self._nets)) - 1])

    def __str__(self) -> str:
        sizes = [len(layer_names(n)) for n in self._nets]
        return (
            f"pretrain: construction_algo {getattr(self.algo, '__qualname__', self.algo)!r}, "
            f"{self.num_epochs} pretrain epochs with {sizes} layers"
        )


def make_pretrain(config: Config, *, announce: bool = True) -> Pretrain | None:
    """The run's Pretrain from the `pretrain` key (None when off), checked against how the model is defined."""
    settings, network = PretrainSettings.from_config(config), ModelSettings.from_config(config).network
    value = settings.pretrain
    if value is None or value is False:
        return None
    if isinstance(value, str) and value != "default":
        raise ConfigError(f"pretrain = {value!r}: use 'default', True or a dict of options")
    if network is None:
        raise ConfigError(
            "pretrain builds its nets from `network`; with get_network, return the net of each epoch there "
            "(e.g. one more layer per epoch), with get_model there is no net dict to grow"
        )
    options = dict(value) if isinstance(value, dict) else {}
    top_level = {  # RETURNN's pretrain_* keys; the `pretrain` dict's own options win
        "repetitions": settings.pretrain_repetitions,
        "construction_algo": settings.pretrain_construction_algo,
        "copy_output_layer": settings.pretrain_copy_output_layer,
        "greedy": settings.pretrain_greedy,
    }
    for option, option_value in top_level.items():
        if option_value is not None:
            options.setdefault(option, option_value)
    pretrain = Pretrain(network, options)
    if announce:
        log.info("%s", pretrain)
    return pretrain
