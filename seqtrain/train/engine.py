"""The training run, top to bottom.

setup      files, logging, device, precision, model builder, datasets, learning-rate control, checkpoints
resume     the newest usable checkpoint says where to continue (epoch, batch, global step)
per epoch  config of the epoch -> model -> learning rate -> batch list -> train_epoch (loop.py: steps,
           mid-epoch checkpoints, stop signals) -> epoch checkpoint -> evaluate -> scores file -> summary
between    what the layer above hands in (a pipeline's align/recog actions, seqtrain.pipeline)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seqtrain.checkpoint.run_files import RunFiles
from seqtrain.config import Config
from seqtrain.config.settings import Settings
from seqtrain.data.loader import iterate_batches
from seqtrain.data.setup import plan_for
from seqtrain.log import setup_logging
from seqtrain.model.make_builder import make_model_builder
from seqtrain.model.pipeline_stages import with_pipeline_epochs
from seqtrain.model.precision import LossScaler, Precision
from seqtrain.runtime import keep_freed_memory
from seqtrain.train.compile import compile_options, compiled_graphs
from seqtrain.train.config_snapshot import log_changes, save_resolved, save_source, scheduled_values
from seqtrain.train.determinism import deterministic_algorithms
from seqtrain.train.distributed.run import DistributedRun, distributed_run
from seqtrain.train.epoch_data import EpochDatasets
from seqtrain.train.epoch_log import log_epoch_start, log_epoch_summary
from seqtrain.train.epoch_stats import EpochStats
from seqtrain.train.evaluation import evaluate_datasets, run_epoch_hook, scores_by_dataset
from seqtrain.train.loop import EpochRun, train_epoch
from seqtrain.train.mid_epoch import MidEpochSaves, TrainingInterrupted
from seqtrain.train.model_state import ModelState
from seqtrain.train.optim.lr_setup import epoch_learning_rate, make_learning_rate_control, pretrain_epochs
from seqtrain.train.resume import check_same_batches, latest_state
from seqtrain.train.run_checkpoints import Progress, RunCheckpoints
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.step import TrainStep
from seqtrain.train.step_schedule import StepSchedule
from seqtrain.train.stop_signal import StopRequests
from seqtrain.train.tensorboard import ScalarLog

log = logging.getLogger("seqtrain")

# What runs between epochs once the epochs before are trained (a pipeline's actions), made from the run's
# processes by the layer above (`seqtrain.pipeline`); it gets the number of epochs trained so far.
BetweenEpochs = Callable[[DistributedRun], Callable[[int], object]]


@dataclass
class TrainResult:
    epochs_trained: list[int] = field(default_factory=list)
    scores: dict[int, dict[str, float]] = field(default_factory=dict)
    global_step: int = 0
    model: torch.nn.Module | None = None


class Trainer:
    def __init__(self, config: Config, dist: DistributedRun, between_epochs: BetweenEpochs | None = None) -> None:
        # ---- processes, files, logging, device (in a multi-process run only rank 0 writes files)
        self.config, self.dist = (config := with_pipeline_epochs(config)), dist  # a pipeline's stages: num_epochs
        self.settings = Settings.from_config(config)  # typed, checked; each epoch's #config: _run_epoch
        run = self.settings.run
        self.run_files = RunFiles(Path(run.model)) if run.model else None  # every rank reads (resume)
        self.files = self.run_files if dist.is_main else None  # what this process writes
        setup_logging(run.log_verbosity, self.files.log if self.files else None)
        dist.start_logging(run.log_verbosity)
        if not run.model:
            log.warning("WARNING: no `model` path set: no checkpoints are written and a crash loses the run")
        self.device, self.random_seed = dist.device, run.random_seed
        self.precision = Precision.from_config(config)  # torch_amp, grad_scaler
        self.scaler = LossScaler(self.precision.grad_scaler, self.device)
        compiling = compile_options(self.settings.precision.torch_compile)
        log.info("device %s, %s%s", self.device, self.precision.describe(self.device),
                 ", torch.compile" if compiling else "")  # fmt: skip
        # ---- model, data, learning rate, checkpoints
        self.builder = make_model_builder(config)
        self.epochs = EpochDatasets(config, self.builder)  # each epoch's config and data (#config, pipeline stage)
        self.data = self.epochs.initial()
        self.state = ModelState(self.builder, self.device, self.random_seed, compile_options=compiling)
        self.pretrain_epochs = pretrain_epochs(config)  # RETURNN fixes the rates of pretraining epochs
        lr_path = self.run_files.learning_rates(run.learning_rate_file) if self.run_files else None
        self.lr_control = make_learning_rate_control(self.settings.optimizer, path=lr_path, writes=dist.is_main)
        self.checkpoints = RunCheckpoints(
            self.files, config=config, state=self.state, lr_control=self.lr_control, dist=dist, scaler=self.scaler
        )
        self.scalar_log = ScalarLog(self.files.tensorboard_dir if self.files and run.tensorboard else None)
        self.stop = StopRequests()
        self.saves = MidEpochSaves(
            self.checkpoints, dist=dist, state=self.state, stop=self.stop, has_model_path=self.run_files is not None,
            minutes=run.checkpoint_interval_minutes, steps=run.checkpoint_interval_steps,
        )  # fmt: skip
        self.between_epochs = between_epochs(dist) if between_epochs is not None else (lambda trained: None)
        self.progress = Progress()

    def run(self) -> TrainResult:
        num_epochs = self.settings.run.num_epochs
        resumed = self._resume()  # only a mid-epoch state is returned; an epoch-end one is restored already
        first_epoch, start_batch = self.progress.next_position()
        result = TrainResult(global_step=self.progress.global_step)
        if self.progress.epoch > 0 and self.progress.complete:
            self._evaluate_if_missing(self.progress.epoch)
        self.between_epochs(first_epoch - 1)  # e.g. pipeline actions after the epochs trained so far, if not done
        if first_epoch > num_epochs:
            log.info("training finished already: epoch %d of num_epochs=%d is done; increase num_epochs",
                     self.progress.epoch, num_epochs)  # fmt: skip
            return result
        if self.files is not None:
            save_source(self.config, self.files.config_dir)
        previous_values = None
        try:
            with self.stop:
                for epoch in range(first_epoch, num_epochs + 1):
                    epoch_config, self.data = self.epochs.prepare(epoch)
                    values = scheduled_values(epoch_config, epoch, self.progress.global_step)
                    log_changes(previous_values, values, epoch)
                    previous_values = values
                    result.scores[epoch] = self._run_epoch(epoch, epoch_config, start_batch, resumed)
                    resumed, start_batch = None, 0
                    result.epochs_trained.append(epoch)
                    self.between_epochs(epoch)
        finally:
            self.scalar_log.close()
        result.global_step, result.model = self.progress.global_step, self.state.model
        return result

    def _run_epoch(
        self, epoch: int, config: Config, start_batch: int, resumed: dict[str, Any] | None
    ) -> dict[str, float]:
        # ---- the model, the learning rate and the batches of this epoch
        step = self.progress.global_step
        if self.files is not None:
            save_resolved(config, self.files.config_dir, epoch, step)
        fresh_start = resumed is None and self.state.model is None  # nothing resumed: preload_from_files
        self.state.for_epoch(epoch, step, config, fresh_start=fresh_start)
        if resumed is not None:
            self.state.restore(resumed, source=str(resumed.get("_path")))
        first_step = step - start_batch
        epoch_settings = Settings.from_config(config)  # with the epoch's #config / pipeline stage
        lr = epoch_learning_rate(self.lr_control, self.settings.optimizer, epoch_settings.optimizer, epoch=epoch,
                                 first_step=first_step, pretrain_epochs=self.pretrain_epochs)  # fmt: skip
        self.lr_control.save()
        assert self.data.train is not None and self.state.model is not None and self.state.optimizer is not None
        global_plan = plan_for(config, self.data.train, epoch, step=step)
        plan = self.dist.shard_train(global_plan, resumed=resumed, steps_done=start_batch)  # this rank's steps
        self.dist.check_agree(f"epoch {epoch}", global_step=step, start_batch=start_batch, learning_rate=lr,
                              batches=plan.fingerprint())  # fmt: skip
        accumulator = ScoreAccumulator()
        if resumed is not None:
            if self.dist.is_main:  # a checkpoint holds the sums of all ranks
                accumulator.load_state_dict(resumed["train_scores"])
            check_same_batches(resumed, plan, epoch, start_batch)
        log_epoch_start(epoch, plan, start_batch, lr)
        run_epoch_hook(config, "epoch_start", epoch=epoch, step=step, model=self.state.model, dataset_name="train")

        # ---- train (loop.py)
        batches = iterate_batches(
            self.data.train.dataset, plan.batches, dtypes=self.data.dtypes, specs=self.data.specs,
            num_workers=epoch_settings.data.num_workers, timeout=epoch_settings.data.data_loader_timeout,
            random_seed=self.random_seed, epoch=epoch, start=start_batch, pin_memory=self.device.type == "cuda",
            rank=self.dist.rank,
        )  # fmt: skip
        train_step = TrainStep(self.state.model, self.builder, self.precision, self.device)
        run = EpochRun(
            epoch=epoch, plan=plan, start_batch=start_batch, global_step=step,
            schedule=StepSchedule(epoch_settings.optimizer, epoch=epoch, epoch_learning_rate=lr, first_step=first_step,
                                  num_batches=len(plan.batches)),
            step=train_step, optimizer=self.state.optimizer, accumulator=accumulator, random_seed=self.random_seed,
            rank=self.dist.rank, parallel=self.dist.step_sync(plan, train_step), scaler=self.scaler,
            stop_on_nonfinite=self.settings.run.stop_on_nonfinite_train_score,
        )  # fmt: skip
        graphs_before = compiled_graphs() if self.state.compile_options is not None else None
        stats = train_epoch(run, batches, self.saves, self.scalar_log)
        if graphs_before is not None:
            stats.compiled_graphs = compiled_graphs() - graphs_before
        stats = self.dist.reduce_epoch_stats(stats, accumulator)  # scores and frames of all ranks
        self.progress = Progress(epoch, True, len(plan.batches), run.global_step)
        run_epoch_hook(config, "epoch_end", epoch=epoch, step=run.global_step, model=self.state.model,
                       dataset_name="train")  # fmt: skip

        # ---- epoch checkpoint, evaluation, scores, summary
        self.dist.sync_replicas(self.state, reason=f"end of epoch {epoch}")
        self.checkpoints.save_epoch(self.progress, plan, stats)
        eval_stats = self._evaluate(epoch)
        scores = scores_by_dataset(stats, eval_stats)
        self.lr_control.set_epoch_scores(epoch, scores)
        self.lr_control.save()
        log_epoch_summary(epoch, self.settings.run.num_epochs, lr, stats, eval_stats, self.scalar_log)
        self.checkpoints.cleanup(epoch)
        return scores

    def _resume(self) -> dict[str, Any] | None:
        """Sets `progress` from the newest usable checkpoint; returns its state if it is mid-epoch."""
        self.progress, state = latest_state(self.run_files, self.config)
        if state is None:
            return None
        self.lr_control.load_state_dict(state["lr_control"], prefer_file=True)
        self.scaler.load_state_dict(state.get("grad_scaler"))
        self.dist.log_resume(state)
        if not self.progress.complete:
            return state
        # The model of the finished epoch is needed for evaluation and for the next epoch.
        epoch_config, self.data = self.epochs.prepare(self.progress.epoch)
        self.state.for_epoch(self.progress.epoch, self.progress.global_step, epoch_config)
        self.state.restore(state, source=str(state["_path"]))
        return None

    def _evaluate(self, epoch: int) -> dict[str, EpochStats]:
        assert self.state.model is not None
        return evaluate_datasets(data=self.data, config=self.config, model=self.state.model, builder=self.builder,
                                 device=self.device, epoch=epoch, global_step=self.progress.global_step,
                                 dist=self.dist, precision=self.precision)  # fmt: skip

    def _evaluate_if_missing(self, epoch: int) -> None:
        """A crash between the epoch checkpoint and the scores file leaves the eval scores missing."""
        have = self.lr_control.epoch_scores(epoch)
        missing = [n for n in self.data.evals if not any(k.startswith(f"{n}_loss_") for k in have)]
        if not missing or self.state.model is None:
            return
        log.info("epoch %d: evaluation of %s missing in the scores file, evaluating now", epoch, missing)
        self.lr_control.set_epoch_scores(epoch, scores_by_dataset(None, self._evaluate(epoch)), replace=False)
        self.lr_control.save()


def train(config: Config, between_epochs: BetweenEpochs | None = None) -> TrainResult:
    """Trains in this process, or as one rank of a run that torchrun started (see seqtrain.train.distributed.run)."""
    settings = Settings.from_config(config)
    if settings.run.keep_freed_memory:
        keep_freed_memory()
    ranks = distributed_run(settings.distributed.torch_distributed, settings.run.device,
                            coordinated=(TrainingInterrupted,))  # fmt: skip
    with deterministic_algorithms(settings.distributed.deterministic_train), ranks as dist:
        return Trainer(config, dist, between_epochs).run()
