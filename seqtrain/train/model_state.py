"""The model and its optimizer across epochs: build, restore, and rebuild when the topology changes."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

import torch

from seqtrain.config import Config
from seqtrain.errors import CheckpointError
from seqtrain.rng import derive_seed, seed_all
from seqtrain.train.model_builder import ModelBuilder
from seqtrain.train.optim import make_optimizer
from seqtrain.train.param_transfer import transfer_state

log = logging.getLogger("seqtrain")


class ModelState:
    """Holds model + optimizer; `for_epoch` makes sure they fit the epoch's architecture."""

    def __init__(self, builder: ModelBuilder, device: torch.device, random_seed: int) -> None:
        self.builder = builder
        self.device = device
        self.random_seed = random_seed
        self.model: torch.nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.architecture: Hashable | None = None

    def _new_model(self, epoch: int, step: int) -> torch.nn.Module:
        seed_all(derive_seed(self.random_seed, "init", epoch))
        return self.builder.build(epoch=epoch, step=step).to(self.device)

    def _new_optimizer(self, model: torch.nn.Module, config: Config, epoch: int) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        return make_optimizer(config.get("optimizer"), params, learning_rate=config.at("learning_rate", epoch=epoch))

    def for_epoch(self, epoch: int, step: int, config: Config) -> None:
        """Builds the model on first use; rebuilds and copies parameters when the architecture changed."""
        architecture = self.builder.architecture(epoch)
        if self.model is not None and architecture == self.architecture:
            return
        model = self._new_model(epoch, step)
        optimizer = self._new_optimizer(model, config, epoch)
        if self.model is not None:
            log.info("epoch %d: network topology changed, rebuilding the model", epoch)
            transfer_state(self.model, model, self.optimizer, optimizer)
        self.model, self.optimizer, self.architecture = model, optimizer, architecture

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
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(
                f"checkpoint {source}: optimizer state does not fit the configured optimizer ({e})"
            ) from e

    def state_dict(self) -> dict[str, Any]:
        assert self.model is not None and self.optimizer is not None
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
