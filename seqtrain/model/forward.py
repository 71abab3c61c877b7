"""Runs `forward_step` over a dataset and yields the marked outputs per batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from seqtrain.config import Config
from seqtrain.config.settings import Settings
from seqtrain.data.batching import BatchSpec
from seqtrain.data.loader import Batch, iterate_batches
from seqtrain.data.setup import DataSetup, plan_for
from seqtrain.model.context import ForwardContext
from seqtrain.model.precision import Precision
from seqtrain.model.trained_model import TrainedModel


@torch.no_grad()
def forward_outputs(
    trained: TrainedModel,
    data: DataSetup,
    dataset_name: str,
    config: Config,
    *,
    batch_list: Sequence[BatchSpec] | None = None,
) -> Iterator[tuple[Batch, dict[str, tuple[torch.Tensor, torch.Tensor | None]]]]:
    """Outputs of lower precision (autocast) come as float32: decoders sum log probabilities.

    `batch_list` replaces the epoch's plan, e.g. to visit every sequence (alignment) regardless of filters."""
    setup, settings = data.by_name(dataset_name), Settings.from_config(config)
    if batch_list is None:
        batch_list = plan_for(config, setup, trained.epoch, chunking=False).batches  # whole sequences
    batches = iterate_batches(
        setup.dataset,
        batch_list,
        dtypes=data.dtypes,
        specs=data.specs,
        num_workers=settings.data.num_workers,
        timeout=settings.data.data_loader_timeout,
        random_seed=settings.run.random_seed,
        epoch=trained.epoch,
    )
    precision = Precision.from_config(config)  # torch_amp (and torch_amp_eval) as in training
    for batch in batches:
        ctx = ForwardContext(epoch=trained.epoch)
        with precision.autocast(trained.device, train=False):
            trained.builder.forward_step(model=trained.model, batch=batch.to(trained.device), ctx=ctx)
        yield batch, ctx.outputs
