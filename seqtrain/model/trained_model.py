"""Loading the model of a finished epoch, for recog, forward, align and eval commands."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from seqtrain.checkpoint.average import average_model_states
from seqtrain.checkpoint.run_files import CheckpointRef, RunFiles
from seqtrain.checkpoint.store import load_checkpoint
from seqtrain.config import Config
from seqtrain.config.settings import Settings
from seqtrain.device import pick_device
from seqtrain.errors import CheckpointError, ConfigError
from seqtrain.model.builder import ModelBuilder
from seqtrain.model.make_builder import make_model_builder
from seqtrain.model.preload import apply_preload
from seqtrain.rng import derive_seed, seed_all

log = logging.getLogger("seqtrain")


@dataclass
class TrainedModel:
    model: torch.nn.Module
    builder: ModelBuilder
    epoch: int
    device: torch.device
    path: Path


def load_trained_model(config: Config, epoch: int | None = None) -> TrainedModel:
    """The model of `epoch` (default: the last finished epoch), in eval mode on the configured device; with
    `model_average_epochs` N > 1, its parameters are the mean of epochs epoch-N+1 .. epoch."""
    settings = Settings.from_config(config)
    prefix = settings.run.model
    if not prefix:
        raise ConfigError("the config sets no `model` path, so there are no checkpoints to load")
    files = RunFiles(Path(prefix))
    finished = [r for r in files.checkpoints() if r.complete]
    if epoch is None:
        if not finished:
            raise CheckpointError(f"no finished epoch checkpoint {prefix}.NNN.pt found; train first")
        epoch = finished[-1].epoch
    path = files.epoch_checkpoint(epoch)
    if not path.exists():
        have = ", ".join(str(r.epoch) for r in finished) or "none"
        raise CheckpointError(f"checkpoint {path} does not exist (finished epochs: {have})")
    state = load_checkpoint(path)
    average = settings.recog.model_average_epochs
    if average > 1:
        state = {**state, "model": _averaged_parameters(files, epoch, average, state["model"], finished)}
    device = pick_device(settings.run.device)
    builder = make_model_builder(config)
    seed_all(derive_seed(settings.run.random_seed, "init", epoch))
    model = builder.build(epoch=epoch, step=int(state["global_step"])).to(device)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {path} does not fit the model the config builds: {e}") from e
    apply_preload(model, settings.network.preload_from_files, training=False)  # entries without init_for_train
    model.eval()
    averaged = f", the mean of epochs {epoch - average + 1}-{epoch}" if average > 1 else ""
    log.info("loaded %s (epoch %d%s)", path, epoch, averaged)
    return TrainedModel(model, builder, epoch, device, path)


def _averaged_parameters(
    files: RunFiles, epoch: int, count: int, newest: dict[str, torch.Tensor], finished: list[CheckpointRef]
) -> dict[str, torch.Tensor]:
    """The mean of the model parameters of epochs epoch-count+1 .. epoch (`newest` is epoch's, already loaded)."""
    first = epoch - count + 1
    have = ", ".join(str(r.epoch) for r in finished) or "none"
    if first < 1:
        raise ConfigError(
            f"model_average_epochs = {count} averages epochs {first}-{epoch}, but epochs start at 1 (finished "
            f"epochs: {have}); decode a later epoch or average fewer"
        )
    paths = [files.epoch_checkpoint(e) for e in range(first, epoch + 1)]
    for path in paths:
        if not path.exists():
            raise CheckpointError(
                f"model_average_epochs = {count} averages epochs {first}-{epoch}, but {path} does not exist "
                f"(finished epochs: {have}; cleanup_old_models = False keeps every epoch)"
            )
    states = [load_checkpoint(path)["model"] for path in paths[:-1]] + [newest]
    return average_model_states(states, paths)
