"""The model and its optimizer across epochs: build, restore, and rebuild when the topology changes."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

import torch

from seqtrain.config import Config
from seqtrain.config.settings import NetworkSettings, OptimizerSettings, RunSettings
from seqtrain.errors import CheckpointError
from seqtrain.model.builder import ModelBuilder
from seqtrain.model.param_transfer import TransferOptions, model_layout, transfer_state
from seqtrain.model.preload import apply_preload
from seqtrain.rng import derive_seed, seed_all
from seqtrain.train.compile import compile_model
from seqtrain.train.optim.optimizers import load_optimizer_state, make_optimizer
from seqtrain.train.trainable import ParamSelection, apply_selection

log = logging.getLogger("seqtrain")


class ModelState:
    """Holds model + optimizer; `for_epoch` makes sure they fit the epoch's architecture."""

    def __init__(
        self,
        builder: ModelBuilder,
        device: torch.device,
        random_seed: int,
        *,
        compile_options: dict[str, Any] | None = None,
    ) -> None:
        self.builder = builder
        self.device = device
        self.random_seed = random_seed
        self.compile_options = compile_options  # torch_compile: every new model's forward is compiled
        self.model: torch.nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.architecture: Hashable | None = None
        self.layout: dict[str, Any] = {}  # per-axis blocks of each parameter, for growing in width
        self.trainable: set[str] = set()  # what the network itself trains (before trainable/frozen_params)

    def _new_model(self, epoch: int, step: int) -> torch.nn.Module:
        seed_all(derive_seed(self.random_seed, "init", epoch))
        return self.builder.build(epoch=epoch, step=step).to(self.device)

    def _new_optimizer(self, model: torch.nn.Module, config: Config, epoch: int) -> torch.optim.Optimizer:
        opt = OptimizerSettings.from_config(config)
        return make_optimizer(
            opt.optimizer, model, learning_rate=opt.learning_rate.at(epoch), default_epsilon=opt.optimizer_epsilon
        )

    def for_epoch(self, epoch: int, step: int, config: Config, *, fresh_start: bool = False) -> None:
        """Builds the model on first use; rebuilds and copies parameters when the architecture changed.

        `fresh_start`: the first model of a run that resumes from nothing gets `preload_from_files`
        entries with init_for_train=True (a resumed run has its own checkpoint instead).
        """
        architecture = self.builder.architecture(epoch)
        if self.model is None or architecture != self.architecture:
            self._build(epoch, step, config, architecture, fresh_start=fresh_start)
        assert self.model is not None
        apply_selection(self.model, self.trainable, ParamSelection.from_config(config, epoch=epoch), epoch=epoch)

    def _build(self, epoch: int, step: int, config: Config, architecture: Hashable, *, fresh_start: bool) -> None:
        model = self._new_model(epoch, step)
        if fresh_start and self.model is None:
            apply_preload(model, NetworkSettings.from_config(config).preload_from_files, training=True)
            if start_from := RunSettings.from_config(config).import_model_train_epoch1:
                # RETURNN's key: all parameters of epoch 1 from that checkpoint (as a preload entry, so errors
                # and RETURNN/plain state-dict files are handled the same way)
                entry = {"filename": start_from if start_from.endswith(".pt") else start_from + ".pt"}
                apply_preload(model, {"import_model_train_epoch1": {**entry, "init_for_train": True}}, training=True)
        optimizer = self._new_optimizer(model, config, epoch)
        layout, layer_modes = model_layout(self.builder, epoch, model)
        if self.model is not None:
            log.info("epoch %d: network topology changed, rebuilding the model", epoch)
            options = TransferOptions.from_config(config, layer_modes=layer_modes)
            transfer_state(
                self.model, model, self.optimizer, optimizer, options=options, old_layout=self.layout, new_layout=layout
            )
        if self.compile_options is not None:
            compile_model(model, self.compile_options)
        self.model, self.optimizer, self.architecture, self.layout = model, optimizer, architecture, layout
        self.trainable = {name for name, p in model.named_parameters() if p.requires_grad}

    def restore(self, state: dict[str, Any], *, source: str) -> None:
        """Loads model and optimizer state from a checkpoint (after `for_epoch` built them)."""
        assert self.model is not None and self.optimizer is not None
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as e:
            raise CheckpointError(
                f"checkpoint {source} does not fit the model the config builds: {e}. "
                "Did the model definition change? Use a new `model` path or preload_from_files."
            ) from e
        try:
            load_optimizer_state(self.optimizer, state["optimizer"])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(
                f"checkpoint {source}: optimizer state does not fit the configured optimizer ({e})"
            ) from e

    def state_dict(self) -> dict[str, Any]:
        assert self.model is not None and self.optimizer is not None
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
