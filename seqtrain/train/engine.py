"""The training run, top to bottom.

  setup      files, logging, device, datasets, model builder, learning-rate control
  resume     the newest usable checkpoint says where to continue (epoch, batch, global step)
  per epoch  config for the epoch -> model for the epoch -> learning rate -> batch list -> train
             (mid-epoch checkpoints) -> epoch checkpoint -> evaluate -> scores file -> summary -> cleanup

Everything below this file takes plain arguments; only this file knows epochs, steps and files at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seqtrain.checkpoint import store as ckpt
from seqtrain.checkpoint.run_files import RunFiles
from seqtrain.config import Config
from seqtrain.data.epoch import EpochPlan
from seqtrain.data.loader import iterate_batches
from seqtrain.data.setup import plan_for
from seqtrain.errors import SeqtrainError
from seqtrain.log import setup_logging
from seqtrain.model.make_builder import make_model_builder
from seqtrain.model.pipeline_stages import with_pipeline_epochs
from seqtrain.model.precision import LossScaler, Precision
from seqtrain.runtime import keep_freed_memory
from seqtrain.train.compile import compile_options, compiled_graphs
from seqtrain.train.config_snapshot import config_diff, log_changes, save_resolved, save_source, scheduled_values
from seqtrain.train.determinism import deterministic_algorithms
from seqtrain.train.distributed.run import DistributedRun, distributed_run
from seqtrain.train.epoch_data import EpochDatasets
from seqtrain.train.epoch_log import log_epoch_start, log_epoch_summary
from seqtrain.train.evaluation import evaluate_datasets, run_epoch_hook, scores_by_dataset
from seqtrain.train.loop import EpochStats, TrainEpochInput, train_epoch
from seqtrain.train.model_state import ModelState
from seqtrain.train.optim.lr_setup import epoch_learning_rate, make_learning_rate_control, step_learning_rate
from seqtrain.train.run_checkpoints import Progress, RunCheckpoints
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.step import ClipOptions, TrainStep
from seqtrain.train.stop_signal import StopRequests
from seqtrain.train.tensorboard import ScalarLog

log = logging.getLogger("seqtrain")


class TrainingInterrupted(SeqtrainError):
    """SIGTERM/SIGINT: a checkpoint was saved at a step boundary; rerunning the command resumes."""


@dataclass
class TrainResult:
    epochs_trained: list[int] = field(default_factory=list)
    scores: dict[int, dict[str, float]] = field(default_factory=dict)
    global_step: int = 0
    model: torch.nn.Module | None = None


# What runs between epochs once the epochs before are trained (a pipeline's align/recog actions), given the
# run's processes; it gets the number of epochs trained so far. Made by the layer above (`seqtrain.pipeline`).
BetweenEpochs = Callable[[DistributedRun], Callable[[int], object]]


class Trainer:
    def __init__(
        self, config: Config, dist: DistributedRun | None = None, between_epochs: BetweenEpochs | None = None
    ) -> None:
        # ---- processes, files, logging, device (in a multi-process run only rank 0 writes files)
        self.config = config = with_pipeline_epochs(config)  # a pipeline's stages define num_epochs
        self.dist = dist or DistributedRun.single_process(config.get("torch_distributed"), config.get("device"))
        prefix = config.get("model")
        self._run_files = RunFiles(Path(prefix)) if prefix else None  # every rank reads (resume)
        self.files = self._run_files if self.dist.is_main else None  # what this process writes
        setup_logging(config.get("log_verbosity"), self.files.log if self.files else None)
        self.dist.start_logging(config.get("log_verbosity"))
        if not prefix:
            log.warning("WARNING: no `model` path set: no checkpoints are written and a crash loses the run")
        self.device = self.dist.device
        self.random_seed = config.get("random_seed")
        self.precision = Precision.from_config(config)  # torch_amp, grad_scaler
        self.scaler = LossScaler(self.precision.grad_scaler, self.device)
        compiling = compile_options(config.get("torch_compile"))
        compiled = ", torch.compile" if compiling is not None else ""
        log.info("device %s, %s%s", self.device, self.precision.describe(self.device), compiled)
        # ---- model, data, learning rate, checkpoints
        self.builder = make_model_builder(config)
        self.epochs = EpochDatasets(config, self.builder)  # each epoch's config and data (#config, pipeline stage)
        self.data = self.epochs.initial()
        self.state = ModelState(self.builder, self.device, self.random_seed, compile_options=compiling)
        lr_path = self._run_files.learning_rates(config.get("learning_rate_file")) if self._run_files else None
        self.lr_control = make_learning_rate_control(config, path=lr_path)
        if not self.dist.is_main:
            self.lr_control.path = None  # all ranks read the scores file (hand edits count), rank 0 writes it
        self.checkpoints = RunCheckpoints(
            self.files, config=config, state=self.state, lr_control=self.lr_control, dist=self.dist, scaler=self.scaler
        )
        tb_dir = self.files.tensorboard_dir if self.files and config.get("tensorboard") else None
        self.scalar_log = ScalarLog(tb_dir)
        self.progress = Progress()
        self.between_epochs = between_epochs(self.dist) if between_epochs is not None else (lambda trained: None)
        self.stop = StopRequests()

    # ------------------------------------------------------------------ run

    def run(self) -> TrainResult:
        num_epochs = self.config.get("num_epochs")
        resumed = self._resume()  # only a mid-epoch state is returned; an epoch-end one is restored already
        first_epoch, start_batch = self.progress.next_position()
        result = TrainResult(global_step=self.progress.global_step)
        if self.progress.epoch > 0 and self.progress.complete:
            self._evaluate_if_missing(self.progress.epoch)
        self.between_epochs(first_epoch - 1)  # pipeline actions after the epochs trained so far, if not done
        if first_epoch > num_epochs:
            log.info(
                "training finished already: epoch %d of num_epochs=%d is done; increase num_epochs to continue",
                self.progress.epoch,
                num_epochs,
            )
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
                    result.scores[epoch] = self._run_epoch(epoch, epoch_config, start_batch, resumed_state=resumed)
                    resumed, start_batch = None, 0
                    result.epochs_trained.append(epoch)
                    self.between_epochs(epoch)
        finally:
            self.scalar_log.close()
        result.global_step = self.progress.global_step
        result.model = self.state.model
        return result

    def _run_epoch(
        self, epoch: int, config: Config, start_batch: int, *, resumed_state: dict[str, Any] | None
    ) -> dict[str, float]:
        step = self.progress.global_step
        if self.files is not None:
            save_resolved(config, self.files.config_dir, epoch, step)
        fresh_start = resumed_state is None and self.state.model is None  # nothing resumed: preload_from_files
        self.state.for_epoch(epoch, step, config, fresh_start=fresh_start)
        if resumed_state is not None:
            self.state.restore(resumed_state, source=str(resumed_state.get("_path")))
        lr = epoch_learning_rate(
            self.lr_control, config=self.config, epoch_config=config, epoch=epoch, first_step=step - start_batch
        )
        self.lr_control.save()
        assert self.data.train is not None
        global_plan = plan_for(config, self.data.train, epoch, step=step)
        plan = self.dist.shard_train(global_plan, resumed=resumed_state, steps_done=start_batch)  # this rank's steps
        self.dist.check_agree(
            f"epoch {epoch}", global_step=step, start_batch=start_batch, learning_rate=lr, batches=plan.fingerprint()
        )
        accumulator = ScoreAccumulator()
        if resumed_state is not None:
            if self.dist.is_main:  # a checkpoint holds the sums of all ranks
                accumulator.load_state_dict(resumed_state["train_scores"])
            self._check_same_batches(resumed_state, plan, epoch)
        log_epoch_start(epoch, plan, start_batch, lr)
        run_epoch_hook(config, "epoch_start", epoch=epoch, step=step, model=self.state.model, dataset_name="train")
        stats = self._train(epoch, config, plan, start_batch, lr, accumulator)
        stats = self.dist.reduce_epoch_stats(stats, accumulator)  # scores and frames of all ranks
        run_epoch_hook(
            config, "epoch_end", epoch=epoch, step=self.progress.global_step, model=self.state.model,
            dataset_name="train",
        )  # fmt: skip
        self.dist.sync_replicas(self.state, reason=f"end of epoch {epoch}")
        self.progress = Progress(epoch, True, len(plan.batches), self.progress.global_step)
        self.checkpoints.save_epoch(self.progress, plan, stats)
        eval_stats = self._evaluate(epoch)
        scores = scores_by_dataset(stats, eval_stats)
        self.lr_control.set_epoch_scores(epoch, scores)
        self.lr_control.save()
        log_epoch_summary(epoch, self.config.get("num_epochs"), lr, stats, eval_stats, self.scalar_log)
        self.checkpoints.cleanup(epoch)
        return scores

    # ------------------------------------------------------------------ resume

    def _resume(self) -> dict[str, Any] | None:
        """Sets `progress` from the newest usable checkpoint; returns its state if it is mid-epoch."""
        if self._run_files is None:
            return None
        found = ckpt.latest_usable_checkpoint(self._run_files)
        if found is None:
            return None
        ref, state = found
        state["_path"] = ref.path
        self.progress = Progress.from_checkpoint(state)
        self.lr_control.load_state_dict(state["lr_control"], prefer_file=True)
        self.scaler.load_state_dict(state.get("grad_scaler"))
        self.dist.log_resume(state)
        if state.get("config_fingerprint") != self.config.fingerprint():
            old = state.get("config_resolved")
            changes = config_diff(old, self.config.resolved_text()) if isinstance(old, str) else []
            log.warning(
                "WARNING: the config changed since %s was written; the current config wins: %s",
                ref.path.name,
                "; ".join(changes) or "the file changed, no resolved value did",
            )
        done = self.progress.batch_in_epoch
        where = f"end of epoch {ref.epoch}" if ref.complete else f"epoch {ref.epoch} after {done} batches"
        log.info("resuming from %s (%s, global step %d)", ref.path, where, self.progress.global_step)
        if self.progress.complete:
            # The model of the finished epoch is needed for evaluation and for the next epoch.
            epoch_config, self.data = self.epochs.prepare(self.progress.epoch)
            self.state.for_epoch(self.progress.epoch, self.progress.global_step, epoch_config)
            self.state.restore(state, source=str(ref.path))
            return None
        return state

    def _check_same_batches(self, state: dict[str, Any], plan: EpochPlan, epoch: int) -> None:
        saved = state.get("data", {}).get("fingerprint")
        if saved is not None and saved != plan.fingerprint():
            log.warning(
                "WARNING: the batch list of epoch %d differs from the one the checkpoint was written with "
                "(batching options or data changed); continuing at batch %d of the new list",
                epoch,
                self.progress.batch_in_epoch,
            )

    # ------------------------------------------------------------------ train

    def _train(
        self, epoch: int, config: Config, plan: EpochPlan, start_batch: int, lr: float, acc: ScoreAccumulator
    ) -> EpochStats:
        assert self.data.train is not None and self.state.model is not None and self.state.optimizer is not None
        batches = iterate_batches(
            self.data.train.dataset,
            plan.batches,
            dtypes=self.data.dtypes,
            specs=self.data.specs,
            num_workers=config.get("num_workers"),
            timeout=config.get("data_loader_timeout"),
            random_seed=self.random_seed,
            epoch=epoch,
            start=start_batch,
            pin_memory=self.device.type == "cuda",
            rank=self.dist.rank,
        )
        step = TrainStep(self.state.model, self.builder, self.precision, self.device)
        inp = TrainEpochInput(
            epoch=epoch,
            start_batch=start_batch,
            num_batches=len(plan.batches),
            global_step=self.progress.global_step,
            random_seed=self.random_seed,
            rank=self.dist.rank,
            learning_rate_at=step_learning_rate(
                config,
                epoch=epoch,
                epoch_learning_rate=lr,
                first_step=self.progress.global_step - start_batch,
                num_batches=len(plan.batches),
            ),
            clip_at=lambda step: ClipOptions(
                config.at("gradient_clip", epoch=epoch, step=step),
                config.at("gradient_clip_global_norm", epoch=epoch, step=step),
            ),
            gradient_noise_at=lambda step: config.at("gradient_noise", epoch=epoch, step=step),
            accum_grad_at=lambda step: config.at("accum_grad_multiple_step", epoch=epoch, step=step),
            after_step=lambda batch_idx, global_step, acc_: self._after_step(epoch, plan, batch_idx, global_step, acc_),
            stop_on_nonfinite=config.get("stop_on_nonfinite_train_score"),
            accumulator=acc,
            scalar_log=self.scalar_log,
            parallel=self.dist.step_sync(plan, step),
            scaler=self.scaler,
        )
        self.checkpoints.last_save_time = time.monotonic()
        graphs_before = compiled_graphs() if self.state.compile_options is not None else None
        stats, self.progress.global_step = train_epoch(
            step=step, optimizer=self.state.optimizer, batches=batches, inp=inp
        )
        if graphs_before is not None:
            stats.compiled_graphs = compiled_graphs() - graphs_before
        return stats

    def _after_step(self, epoch: int, plan: EpochPlan, batch_idx: int, global_step: int, acc: ScoreAccumulator) -> None:
        """Mid-epoch checkpoints by time or steps, and a clean stop on SIGTERM/SIGINT (called after each update).
        All ranks agree on both (a signal reaches them at different steps); rank 0 writes."""
        previous_step = self.progress.global_step
        self.progress = Progress(epoch, False, batch_idx, global_step)
        minutes = self.config.get("checkpoint_interval_minutes")
        steps = self.config.get("checkpoint_interval_steps")
        scheduled = batch_idx < len(plan.batches) and (  # at the end the epoch checkpoint follows anyway
            (minutes is not None and time.monotonic() - self.checkpoints.last_save_time >= 60 * minutes)
            or (steps is not None and steps > 0 and global_step // steps > previous_step // steps)
        )
        due = self._run_files is not None and (self.stop.received is not None or scheduled)
        stop_signal, due = self.dist.agree_on_stop(self.stop.received, due)
        if due:
            self.dist.sync_replicas(self.state, reason=f"checkpoint after step {global_step}")
            self.checkpoints.save_mid(self.progress, plan, self.dist.reduce_scores(acc))
        if stop_signal is not None:
            if self._run_files is None:
                raise TrainingInterrupted(f"stopped by signal {stop_signal}; no `model` path, nothing saved")
            saved = self.checkpoints.last_mid_checkpoint if self.files is not None else "rank 0 saved a checkpoint"
            raise TrainingInterrupted(
                f"stopped by signal {stop_signal} in epoch {epoch} after batch {batch_idx}; "
                f"checkpoint {saved}; run the same command again to resume"
            )

    # ------------------------------------------------------------------ evaluation

    def _evaluate(self, epoch: int) -> dict[str, EpochStats]:
        assert self.state.model is not None
        return evaluate_datasets(
            data=self.data,
            config=self.config,
            model=self.state.model,
            builder=self.builder,
            device=self.device,
            epoch=epoch,
            global_step=self.progress.global_step,
            dist=self.dist,
            precision=self.precision,
        )

    def _evaluate_if_missing(self, epoch: int) -> None:
        """A crash between the epoch checkpoint and the scores file leaves the eval scores missing."""
        have = self.lr_control.epoch_scores(epoch)
        missing = [n for n in self.data.evals if not any(k.startswith(f"{n}_loss_") for k in have)]
        if not missing or self.state.model is None:
            return
        log.info("epoch %d: evaluation of %s missing in the scores file, evaluating now", epoch, missing)
        self.lr_control.set_epoch_scores(epoch, scores_by_dataset(None, self._evaluate(epoch)))
        self.lr_control.save()


def train(config: Config, between_epochs: BetweenEpochs | None = None) -> TrainResult:
    """Trains in this process, or as one rank of a run that torchrun started (see seqtrain.train.distributed.run)."""
    if config.get("keep_freed_memory"):
        keep_freed_memory()
    ranks = distributed_run(config.get("torch_distributed"), config.get("device"), coordinated=(TrainingInterrupted,))
    with deterministic_algorithms(config.get("deterministic_train")), ranks as dist:
        return Trainer(config, dist, between_epochs).run()
