"""The net-dict model style: `network = {...}` or `get_network(epoch, **kwargs)` in the config.

`NetDictModelBuilder` is what the engine talks to (see `seqtrain.model.builder.ModelBuilder`): it
builds the `Network` of an epoch, tells the engine when the structure changes (then the engine rebuilds
and copies parameters by name), hands over the net dict's `#config`, and runs the steps: every step it
resolves the schedulable layer options for (epoch, step), computes the layers the losses need, and marks
each layer loss (named like the layer; error measures as `<layer>_error`), `L2` as a loss named "L2"
(training only). `forward_step` marks the output layer (and every `is_output_layer`) under its name, and
a classifier output layer's log-probabilities as "log_probs", the default `recog_output`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from seqtrain.config import Config
from seqtrain.config.settings import DataSettings, ModelSettings, NetworkSettings
from seqtrain.data.loader import Batch
from seqtrain.data.setup import build_data
from seqtrain.errors import ConfigError
from seqtrain.model.builder import call_with_accepted
from seqtrain.model.context import ForwardContext, StepContext
from seqtrain.model.global_reg import GlobalRegularization
from seqtrain.model.pretrain import make_pretrain
from seqtrain.nn.layer import Layer
from seqtrain.nn.layers import layer_classes
from seqtrain.nn.losses import check_loss_options, compute_loss, is_classification
from seqtrain.nn.net_dict import SCHEDULABLE_GENERIC, LayerSpec, NetSpec, parse_net_dict, resolve
from seqtrain.nn.net_module import Network, StepOptions
from seqtrain.nn.rec_unit import RecUnit
from seqtrain.nn.regularization import broadcast_axes, l2_penalty
from seqtrain.nn.seq import Seq, SeqInfo


@dataclass
class _EpochNet:
    """The parsed net dict of one epoch and what follows from it."""

    spec: NetSpec
    config: Config
    losses_checked: bool = False
    step_dependent: bool = False  # some layer option is a function of the step: resolve every step
    options_cache: dict[float, dict[str, StepOptions]] = field(default_factory=dict)  # by global noise


def data_infos_from_config(config: Config) -> dict[str, SeqInfo]:
    """Shapes of the data keys: from `extern_data` if it gives every dim, else from the datasets."""
    declared = DataSettings.from_config(config).extern_data
    if declared and all("dim" in opts for opts in declared.values()):
        infos = {}
        for key, opts in declared.items():
            time_axis = bool(opts.get("time_axis", True))
            if opts.get("sparse", False):
                infos[key] = SeqInfo(dim=int(opts["dim"]), sparse=True, time_axis=time_axis)
            else:
                shape = tuple(d for d in (opts.get("shape") or (opts["dim"],)) if d is not None)  # RETURNN: (None, 80)
                infos[key] = SeqInfo.dense(*shape, time_axis=time_axis)
        return infos

    specs = build_data(config, need_train=False).specs
    return {
        key: SeqInfo(dim=int(s.dim or 0), sparse=True, time_axis=s.time_axis)
        if s.sparse
        else SeqInfo.dense(*(s.feature_shape or (int(s.dim or 0),)), time_axis=s.time_axis)
        for key, s in specs.items()
    }


def _unwrap(model: torch.nn.Module) -> Network:
    inner = getattr(model, "module", model)  # DistributedDataParallel
    if not isinstance(inner, Network):
        raise ConfigError(f"the net-dict builder got a {type(inner).__name__}, not the Network it built")
    return inner


def _user_layer_classes(value: Any) -> dict[str, type[Layer]]:
    classes = dict(value or {})
    for name, cls in classes.items():
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise ConfigError(
                f"network_layer_classes[{name!r}]: must be a seqtrain.nn.layer.Layer subclass, got {cls!r}"
            )
    return classes


class NetDictModelBuilder:
    def __init__(self, config: Config) -> None:
        self.config = config
        model, network = ModelSettings.from_config(config), NetworkSettings.from_config(config)
        self._network = model.network
        self._get_network: Callable[..., Any] | None = model.get_network
        self._classes = {**layer_classes(), **_user_layer_classes(network.network_layer_classes)}
        self._data_infos: dict[str, SeqInfo] | None = None
        self._epochs: dict[int, _EpochNet] = {}
        self._pretrain = make_pretrain(config)  # RETURNN's `pretrain`: a growing net per epoch from `network`

    # ------------------------------------------------------------------ net dict per epoch

    def data_infos(self) -> dict[str, SeqInfo]:
        if self._data_infos is None:
            self._data_infos = data_infos_from_config(self.config)
        return self._data_infos

    def net_dict(self, epoch: int) -> dict[str, Any]:
        if self._pretrain is not None:
            return self._pretrain.net_dict(epoch)
        if self._get_network is None:
            return self._network
        net = call_with_accepted(self._get_network, epoch=epoch)
        if not isinstance(net, dict):
            raise ConfigError(f"get_network(epoch={epoch}) must return a net dict, got {type(net).__name__}")
        return net

    def _epoch(self, epoch: int) -> _EpochNet:
        if epoch not in self._epochs:
            where = "network" if self._get_network is None else f"get_network(epoch={epoch})"
            try:
                spec = parse_net_dict(
                    self.net_dict(epoch),
                    classes=self._classes,
                    data_keys=self.data_infos(),
                    default_target=NetworkSettings.from_config(self.config).target,
                )
            except ConfigError as e:
                raise ConfigError(f"{where}: {e}") from None
            config = self.config.with_values(spec.config)
            self._epochs[epoch] = _EpochNet(spec, config, step_dependent=spec.has_step_schedules())
        return self._epochs[epoch]

    def net_spec(self, epoch: int) -> NetSpec:
        """The checked net of `epoch` (for parameter transfer: layer structure and per-layer options)."""
        return self._epoch(epoch).spec

    # ------------------------------------------------------------------ ModelBuilder protocol

    def build(self, *, epoch: int, step: int) -> torch.nn.Module:
        net = Network(self._epoch(epoch).spec, self.data_infos())
        self._check_losses(self._epoch(epoch), net)
        return net

    def architecture(self, epoch: int) -> str:
        return self._epoch(epoch).spec.signature()

    def epoch_config(self, epoch: int) -> dict[str, Any]:
        return dict(self._epoch(epoch).spec.config)

    def train_step(self, *, model: torch.nn.Module, batch: Batch, ctx: StepContext) -> None:
        net, epoch_net = _unwrap(model), self._epoch(ctx.epoch)
        self._check_losses(epoch_net, net)
        reg = GlobalRegularization.at(epoch_net.config, epoch=ctx.epoch, step=ctx.step)
        layers = [s for s in epoch_net.spec.loss_layers() if not (ctx.train and _only_eval(s))]
        if not epoch_net.spec.loss_layers():
            raise ConfigError("the net dict defines no loss: set 'loss' (and 'target') on a layer, e.g. the output")
        needed = [s.name for s in layers] + [s.target for s in layers if s.target and not s.target.startswith("data:")]
        darc1 = [s.name for s in epoch_net.spec.layers.values() if s.option("darc1")] if ctx.train else []
        options = self._step_options(epoch_net, ctx.epoch, ctx.step, reg.param_variational_noise)
        outputs = model(_inputs(batch), needed + darc1, options)
        for spec in layers:
            self._mark_loss(spec, outputs, ctx)
        if ctx.train:
            self._mark_l2(net, epoch_net.spec, ctx, reg.l2)
            _mark_darc1(epoch_net.spec, outputs, darc1, ctx)

    def forward_step(self, *, model: torch.nn.Module, batch: Batch, ctx: ForwardContext) -> None:
        epoch_net = self._epoch(ctx.epoch)
        names = epoch_net.spec.output_layers()
        outputs = model(_inputs(batch), names, self._step_options(epoch_net, ctx.epoch, 0, 0.0))
        for name in names:
            ctx.mark_as_output(name, outputs[name].tensor, lengths=outputs[name].lengths)
        output = epoch_net.spec.layers.get("output")
        if output is not None and _is_classifier(output) and "log_probs" not in outputs:
            seq = outputs["output"]
            ctx.mark_as_output("log_probs", torch.log_softmax(seq.tensor.float(), dim=-1), lengths=seq.lengths)

    # ------------------------------------------------------------------ details

    def _check_losses(self, epoch_net: _EpochNet, net: Network) -> None:
        if epoch_net.losses_checked:
            return
        for spec in epoch_net.spec.loss_layers():
            target = net.infos[spec.target] if spec.target else None
            check_loss_options(
                spec.option("loss"), dict(spec.option("loss_opts") or {}), target, net.infos[spec.name], spec.where
            )
        epoch_net.losses_checked = True

    def _step_options(self, epoch_net: _EpochNet, epoch: int, step: int, global_noise: float) -> dict[str, StepOptions]:
        if not epoch_net.step_dependent and global_noise in epoch_net.options_cache:
            return epoch_net.options_cache[global_noise]
        options = {}
        for name, spec in epoch_net.spec.layers.items():
            generic = {k: resolve(spec.option(k, d), d, epoch=epoch, step=step) for k, d in SCHEDULABLE_GENERIC.items()}
            noise = generic["param_variational_noise"]
            options[name] = StepOptions(
                dropout=float(generic["dropout"] or 0.0),
                dropout_broadcast=broadcast_axes(spec.option("dropout_noise_shape")),
                param_noise=float(global_noise if noise is None else noise),
                keep_pre_activation=bool(spec.option("darc1")),
                layer={
                    k: resolve(spec.option(k, d), d, epoch=epoch, step=step) for k, d in spec.cls.schedulable.items()
                },
            )
        if not epoch_net.step_dependent:
            if len(epoch_net.options_cache) >= 4:  # a global noise scheduled per step: do not grow without end
                epoch_net.options_cache.clear()
            epoch_net.options_cache[global_noise] = options
        return options

    def _mark_loss(self, spec: LayerSpec, outputs: Mapping[str, Seq], ctx: StepContext) -> None:
        loss = spec.option("loss")
        opts = {k: _resolve_loss_opt(v, loss, ctx) for k, v in dict(spec.option("loss_opts") or {}).items()}
        opts = {k: v for k, v in opts.items() if v is not None}  # before a schedule's first epoch: the default
        scale = float(resolve(spec.option("loss_scale", 1.0), 1.0, epoch=ctx.epoch, step=ctx.step))
        target = outputs[spec.target] if spec.target else None
        for term in compute_loss(loss, outputs[spec.name], target, opts, spec.where):
            ctx.mark_as_loss(
                spec.name + term.suffix,
                term.values,
                scale=1.0 if term.as_error else scale,
                as_error=term.as_error,
                only_eval=_only_eval(spec),
                custom_inv_norm_factor=term.inv_norm_factor,
                use_normalized_loss=bool(opts.get("use_normalized_loss", False)),
            )

    def _mark_l2(self, net: Network, spec: NetSpec, ctx: StepContext, global_l2: float) -> None:
        terms = []
        for name, layer_spec in spec.layers.items():
            coef = float(resolve(layer_spec.option("L2", 0.0), 0.0, epoch=ctx.epoch, step=ctx.step) or 0.0)
            if coef > 0:
                terms.append(coef * l2_penalty(net.layer(name)))
            layer = net.layer(name)
            if isinstance(layer, RecUnit):  # L2 of the layers inside a rec unit (RETURNN's L2 there)
                terms += [c * l2_penalty(layer.step.layer(n)) for n, c in layer.l2.items()]
        if global_l2 > 0:
            terms.append(global_l2 * l2_penalty(net))
        if terms:
            ctx.mark_as_loss("L2", torch.stack(terms).sum(), custom_inv_norm_factor=1.0)


def _only_eval(spec: LayerSpec) -> bool:
    """seqtrain's `loss_only_eval` or RETURNN's `only_on_eval`: computed in evaluation only, never in training."""
    return bool(spec.option("loss_only_eval", False) or spec.option("only_on_eval", False))


def _mark_darc1(spec: NetSpec, outputs: Mapping[str, Seq], names: list[str], ctx: StepContext) -> None:
    """RETURNN's `darc1` layer option (DARC1, arXiv:1710.05468): coef * max over output dims of the summed |x| over
    the batch's valid frames, x the layer's output before its activation (a softmax layer's logits; layers without
    an activation: their output); added to the objective like L2."""
    terms = []
    for name in names:
        seq = outputs[name]
        values = (seq.pre_activation if seq.pre_activation is not None else seq.tensor).float().abs()
        if seq.lengths is not None:
            values = values * seq.frame_mask().to(values.dtype)
        per_dim = values.reshape(-1, values.shape[-1]).sum(dim=0)
        terms.append(float(spec.layers[name].option("darc1")) * per_dim.max())
    if terms:
        ctx.mark_as_loss("darc1", torch.stack(terms).sum(), custom_inv_norm_factor=1.0)


def _inputs(batch: Batch) -> dict[str, Seq]:
    return {key: Seq(batch.data[key], batch.lengths.get(key)) for key in batch.data}


def _is_classifier(spec: LayerSpec) -> bool:
    return spec.cls.layer_class == "softmax" or is_classification(spec.option("loss"))


def _resolve_loss_opt(value: Any, loss: Any, ctx: StepContext) -> Any:
    """loss_opts entries may be scheduled ({epoch: v}, or f(*, epoch, step) for built-in losses)."""
    if callable(value) and callable(loss):
        return value  # a custom loss may take functions as options
    return resolve(value, None, epoch=ctx.epoch, step=ctx.step)
