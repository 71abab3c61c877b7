"""Evaluating the dev/eval datasets after an epoch: every rank its share, scores summed over ranks."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch

from seqtrain.config import Config
from seqtrain.config.settings import ModelSettings, Settings
from seqtrain.data.loader import Batch, iterate_batches
from seqtrain.data.setup import DataSetup, plan_for
from seqtrain.model.builder import ModelBuilder, call_with_accepted
from seqtrain.model.context import StepContext
from seqtrain.model.precision import Precision
from seqtrain.rng import derive_seed, seed_all
from seqtrain.train.distributed.run import DistributedRun
from seqtrain.train.epoch_stats import EpochStats
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.step import out_of_memory_names


def evaluate_datasets(
    *,
    data: DataSetup,
    config: Config,
    model: torch.nn.Module,
    builder: ModelBuilder,
    device: torch.device,
    epoch: int,
    global_step: int,
    dist: DistributedRun,
    precision: Precision | None = None,
) -> dict[str, EpochStats]:
    """Scores per eval dataset name (dev first); identical on every rank, so LR control agrees."""
    results = {}
    settings = Settings.from_config(config)
    random_seed = settings.run.random_seed
    for name, setup in data.evals.items():
        run_epoch_hook(config, "epoch_start", epoch=epoch, step=global_step, model=model, dataset_name=name)
        plan = plan_for(config, setup, epoch, step=global_step)
        batches = iterate_batches(
            setup.dataset,
            dist.eval_batches(plan.batches),  # each rank evaluates its share
            dtypes=data.dtypes,
            specs=data.specs,
            num_workers=settings.data.num_workers,
            timeout=settings.data.data_loader_timeout,
            random_seed=random_seed,
            epoch=epoch,
            rank=dist.rank,
        )
        acc = ScoreAccumulator()
        stats = evaluate(
            model=model,
            builder=builder,
            batches=batches,
            device=device,
            epoch=epoch,
            random_seed=random_seed,
            rank=dist.rank,
            accumulator=acc,
            precision=precision,
        )
        stats.scores = dist.reduce_scores(acc).scores()
        results[name] = stats
        run_epoch_hook(config, "epoch_end", epoch=epoch, step=global_step, model=model, dataset_name=name)
    return results


@torch.no_grad()
def evaluate(
    *,
    model: torch.nn.Module,
    builder: ModelBuilder,
    batches: Iterator[Batch],
    device: torch.device,
    epoch: int,
    random_seed: int,
    rank: int = 0,
    accumulator: ScoreAccumulator | None = None,
    precision: Precision | None = None,
) -> EpochStats:
    """Computes every marked loss (eval-only ones included) without gradients; sums into `accumulator`
    when given (a multi-process run reduces it across ranks)."""
    model.eval()
    acc = accumulator if accumulator is not None else ScoreAccumulator()
    stats = EpochStats(scores={})
    start = time.perf_counter()
    for batch_idx, batch in enumerate(batches):
        seed_all(derive_seed(random_seed, "eval-step", epoch, batch_idx, rank))
        batch = batch.to(device)
        ctx = StepContext(train=False, epoch=epoch, step=batch_idx)
        autocast = precision.autocast(device, train=False) if precision is not None else contextlib.nullcontext()
        with out_of_memory_names(batch, f"evaluation, epoch {epoch}"), autocast:
            builder.train_step(model=model, batch=batch, ctx=ctx)
        acc.add(ctx.losses)
        stats.steps += 1
        stats.frames += batch.num_frames(next(iter(batch.lengths)))
    stats.seconds = time.perf_counter() - start
    stats.scores = acc.scores()
    return stats


def scores_by_dataset(train: EpochStats | None, evals: dict[str, EpochStats]) -> dict[str, float]:
    """RETURNN's score names: `train_loss_<name>`, `dev_loss_<name>`, ..."""
    scores = {f"train_loss_{k}": v for k, v in train.scores.items()} if train is not None else {}
    for name, stats in evals.items():
        scores.update({f"{name}_loss_{k}": v for k, v in stats.scores.items()})
    return scores


def run_epoch_hook(config: Config, hook: str, **kwargs: object) -> None:
    """RETURNN's `epoch_start` / `epoch_end` config functions, called per dataset with its name."""
    fn = getattr(ModelSettings.from_config(config), hook)
    if fn is not None:
        call_with_accepted(fn, **kwargs)
