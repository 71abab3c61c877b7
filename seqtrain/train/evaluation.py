"""Evaluating the dev/eval datasets after an epoch: every rank its share, scores summed over ranks."""

from __future__ import annotations

import torch

from seqtrain.config import Config
from seqtrain.data.loader import iterate_batches
from seqtrain.data.setup import DataSetup, plan_for
from seqtrain.model.builder import ModelBuilder, call_with_accepted
from seqtrain.model.precision import Precision
from seqtrain.train.distributed.run import DistributedRun
from seqtrain.train.loop import EpochStats, evaluate
from seqtrain.train.scores import ScoreAccumulator


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
    random_seed = config.get("random_seed")
    for name, setup in data.evals.items():
        run_epoch_hook(config, "epoch_start", epoch=epoch, step=global_step, model=model, dataset_name=name)
        plan = plan_for(config, setup, epoch, step=global_step)
        batches = iterate_batches(
            setup.dataset,
            dist.eval_batches(plan.batches),  # each rank evaluates its share
            dtypes=data.dtypes,
            specs=data.specs,
            num_workers=config.get("num_workers"),
            timeout=config.get("data_loader_timeout"),
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


def scores_by_dataset(train: EpochStats | None, evals: dict[str, EpochStats]) -> dict[str, float]:
    """RETURNN's score names: `train_loss_<name>`, `dev_loss_<name>`, ..."""
    scores = {f"train_loss_{k}": v for k, v in train.scores.items()} if train is not None else {}
    for name, stats in evals.items():
        scores.update({f"{name}_loss_{k}": v for k, v in stats.scores.items()})
    return scores


def run_epoch_hook(config: Config, hook: str, **kwargs: object) -> None:
    """RETURNN's `epoch_start` / `epoch_end` config functions, called per dataset with its name."""
    fn = config.get(hook)
    if fn is not None:
        call_with_accepted(fn, **kwargs)
