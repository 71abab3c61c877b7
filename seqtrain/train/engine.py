"""The training run, top to bottom.

  setup      files, logging, device, datasets, model builder, learning-rate control
  resume     the newest usable checkpoint says where to continue (epoch, batch, global step)
  per epoch  config for the epoch -> model for the epoch -> learning rate -> batch list -> train
             (mid-epoch checkpoints) -> epoch checkpoint -> evaluate -> scores file -> summary -> cleanup

Everything below this file takes plain arguments; only this file knows epochs, steps and files at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtrain.config import Config
from seqtrain.data.epoch import EpochPlan
from seqtrain.data.loader import iterate_batches
from seqtrain.data.setup import plan_for
from seqtrain.errors import SeqtrainError
from seqtrain.log import format_scores, setup_logging
from seqtrain.rng import rng_state
from seqtrain.runtime import keep_freed_memory
from seqtrain.train import checkpoint as ckpt
from seqtrain.train.config_snapshot import config_diff, log_changes, save_resolved, save_source, scheduled_values
from seqtrain.train.determinism import deterministic_algorithms
from seqtrain.train.distributed import DistributedRun, distributed_run
from seqtrain.train.epoch_data import EpochDatasets
from seqtrain.train.loop import EpochStats, TrainEpochInput, evaluate, train_epoch
from seqtrain.train.lr_setup import epoch_learning_rate, make_learning_rate_control, step_learning_rate
from seqtrain.train.model_builder import make_model_builder
from seqtrain.train.model_state import ModelState
from seqtrain.train.pipeline_actions import make_pipeline_actions, with_pipeline_epochs
from seqtrain.train.run_files import RunFiles
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.step import ClipOptions
from seqtrain.train.tensorboard import ScalarLog

log = logging.getLogger("seqtrain")


class TrainingInterrupted(SeqtrainError):
    """SIGTERM/SIGINT: a checkpoint was saved at a step boundary; rerunning the command resumes."""


@dataclass
class Progress:
    """Where training stands: the last epoch touched, whether it finished, and batches/steps done."""

    epoch: int = 0
    complete: bool = True
    batch_in_epoch: int = 0
    global_step: int = 0

    def next_position(self) -> tuple[int, int]:
        return (self.epoch + 1, 0) if self.complete else (self.epoch, self.batch_in_epoch)


@dataclass
class TrainResult:
    epochs_trained: list[int] = field(default_factory=list)
    scores: dict[int, dict[str, float]] = field(default_factory=dict)
    global_step: int = 0
    model: torch.nn.Module | None = None


class Trainer:
    def __init__(self, config: Config, dist: DistributedRun | None = None) -> None:
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
        # ---- data, model, learning rate
        self.builder = make_model_builder(config)
        self.epochs = EpochDatasets(config, self.builder)  # each epoch's config and data (#config, pipeline stage)
        self.data = self.epochs.initial()
        self.state = ModelState(self.builder, self.device, self.random_seed)
        lr_path = self._run_files.learning_rates(config.get("learning_rate_file")) if self._run_files else None
        self.lr_control = make_learning_rate_control(config, path=lr_path)
        if not self.dist.is_main:
            self.lr_control.path = None  # all ranks read the scores file (hand edits count), rank 0 writes it
        tb_dir = self.files.tensorboard_dir if self.files and config.get("tensorboard") else None
        self.scalar_log = ScalarLog(tb_dir)
        self.progress = Progress()
        self.actions = make_pipeline_actions(config, self.dist)  # a pipeline's align/recog/... between epochs
        self._stop_signal: int | None = None
        self._last_checkpoint_time = time.monotonic()
        self._mid_checkpoint: Path | None = None

    # ------------------------------------------------------------------ run

    def run(self) -> TrainResult:
        num_epochs = self.config.get("num_epochs")
        resumed = self._resume()  # only a mid-epoch state is returned; an epoch-end one is restored already
        first_epoch, start_batch = self.progress.next_position()
        result = TrainResult(global_step=self.progress.global_step)
        if self.progress.epoch > 0 and self.progress.complete:
            self._evaluate_if_missing(self.progress.epoch)
        self.actions.run_due(first_epoch - 1)  # pipeline actions after the epochs trained so far, if not done
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
        old_handlers = self._install_signal_handlers()
        try:
            for epoch in range(first_epoch, num_epochs + 1):
                epoch_config, self.data = self.epochs.prepare(epoch)
                values = scheduled_values(epoch_config, epoch, self.progress.global_step)
                log_changes(previous_values, values, epoch)
                previous_values = values
                scores = self._run_epoch(epoch, epoch_config, start_batch, resumed_state=resumed)
                resumed, start_batch = None, 0
                result.epochs_trained.append(epoch)
                result.scores[epoch] = scores
                self.actions.run_due(epoch)
        finally:
            self._restore_signal_handlers(old_handlers)
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
        self._log_epoch_start(epoch, plan, start_batch, lr)
        stats = self._train(epoch, config, plan, start_batch, lr, accumulator)
        stats = self.dist.reduce_epoch_stats(stats, accumulator)  # scores and frames of all ranks
        self.dist.sync_replicas(self.state, reason=f"end of epoch {epoch}")
        self.progress = Progress(epoch, True, len(plan.batches), self.progress.global_step)
        self._save_epoch_checkpoint(epoch, plan, stats)
        eval_stats = self._evaluate_all(epoch)
        scores = {f"train_loss_{k}": v for k, v in stats.scores.items()}
        for name, s in eval_stats.items():
            scores.update({f"{name}_loss_{k}": v for k, v in s.scores.items()})
        self.lr_control.set_epoch_scores(epoch, scores)
        self.lr_control.save()
        self._log_epoch_summary(epoch, lr, stats, eval_stats)
        self._cleanup(epoch)
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
        self.progress = Progress(
            epoch=int(state["epoch"]),
            complete=bool(state["epoch_complete"]),
            batch_in_epoch=int(state["batch_in_epoch"]),
            global_step=int(state["global_step"]),
        )
        self.lr_control.load_state_dict(state["lr_control"], prefer_file=True)
        self.dist.log_resume(state)
        if state.get("config_fingerprint") != self.config.fingerprint():
            old = state.get("config_resolved")
            changes = config_diff(old, self.config.resolved_text()) if isinstance(old, str) else []
            log.warning(
                "WARNING: the config changed since %s was written; the current config wins: %s",
                ref.path.name,
                "; ".join(changes) or "the file changed, no resolved value did",
            )
        where = "end of epoch" if ref.complete else f"epoch {ref.epoch}, batch {self.progress.batch_in_epoch} of"
        log.info("resuming from %s (%s %d, global step %d)", ref.path, where, ref.epoch, self.progress.global_step)
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
            num_workers=config.get("num_workers"),
            random_seed=self.random_seed,
            epoch=epoch,
            start=start_batch,
            pin_memory=self.device.type == "cuda",
            rank=self.dist.rank,
        )
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
            parallel=self.dist.step_sync(plan, self.state.model),
        )
        self._last_checkpoint_time = time.monotonic()
        stats, self.progress.global_step = train_epoch(
            model=self.state.model,
            builder=self.builder,
            optimizer=self.state.optimizer,
            batches=batches,
            device=self.device,
            inp=inp,
        )
        return stats

    def _after_step(self, epoch: int, plan: EpochPlan, batch_idx: int, global_step: int, acc: ScoreAccumulator) -> None:
        """Mid-epoch checkpoints by time or steps, and a clean stop on SIGTERM/SIGINT (called after each update).
        All ranks agree on both (a signal reaches them at different steps); rank 0 writes."""
        previous_step = self.progress.global_step
        self.progress = Progress(epoch, False, batch_idx, global_step)
        minutes = self.config.get("checkpoint_interval_minutes")
        steps = self.config.get("checkpoint_interval_steps")
        scheduled = batch_idx < len(plan.batches) and (  # at the end the epoch checkpoint follows anyway
            (minutes is not None and time.monotonic() - self._last_checkpoint_time >= 60 * minutes)
            or (steps is not None and steps > 0 and global_step // steps > previous_step // steps)
        )
        due = self._run_files is not None and (self._stop_signal is not None or scheduled)
        stop_signal, due = self.dist.agree_on_stop(self._stop_signal, due)
        if due:
            self.dist.sync_replicas(self.state, reason=f"checkpoint after step {global_step}")
            scores = self.dist.reduce_scores(acc)
            if self.files is not None:
                self._save_mid_checkpoint(epoch, plan, scores)
        if stop_signal is not None:
            if self._run_files is None:
                raise TrainingInterrupted(f"stopped by signal {stop_signal}; no `model` path, nothing saved")
            saved = f"checkpoint {self._mid_checkpoint}" if self.files is not None else "rank 0 saved a checkpoint"
            raise TrainingInterrupted(
                f"stopped by signal {stop_signal} in epoch {epoch} after batch {batch_idx}; "
                f"{saved}; run the same command again to resume"
            )

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint_state(self, plan: EpochPlan, acc: ScoreAccumulator) -> dict[str, Any]:
        rng = rng_state()
        rng["numpy"] = torch.from_numpy(np.asarray(rng["numpy"], dtype=np.int64))
        return {
            "epoch": self.progress.epoch,
            "epoch_complete": self.progress.complete,
            "batch_in_epoch": self.progress.batch_in_epoch,
            "global_step": self.progress.global_step,
            **self.state.state_dict(),
            "lr_control": self.lr_control.state_dict(),
            "train_scores": acc.state_dict(),
            "data": {"fingerprint": plan.fingerprint(), "num_batches": len(plan.batches)},
            "distributed": self.dist.checkpoint_state(plan, self.progress.batch_in_epoch),
            "rng": rng,
            "config_fingerprint": self.config.fingerprint(),
            "config_resolved": self.config.resolved_text(),
        }

    def _save_mid_checkpoint(self, epoch: int, plan: EpochPlan, acc: ScoreAccumulator) -> None:
        assert self.files is not None
        path = self.files.mid_checkpoint(epoch, self.progress.global_step)
        ckpt.save_checkpoint(
            path,
            self._checkpoint_state(plan, acc),
            summary={
                "epoch": epoch,
                "complete": False,
                "batch_in_epoch": self.progress.batch_in_epoch,
                "global_step": self.progress.global_step,
                "train_scores_so_far": acc.scores(),
            },
        )
        if self._mid_checkpoint is not None and self._mid_checkpoint != path:
            ckpt.remove_checkpoint(self._mid_checkpoint)
        self._mid_checkpoint = path
        self._last_checkpoint_time = time.monotonic()
        log.info("saved mid-epoch checkpoint %s (batch %d/%d)", path, self.progress.batch_in_epoch, len(plan.batches))

    def _save_epoch_checkpoint(self, epoch: int, plan: EpochPlan, stats: EpochStats) -> None:
        if self.files is None:
            return
        acc = ScoreAccumulator()
        path = self.files.epoch_checkpoint(epoch)
        ckpt.save_checkpoint(
            path,
            self._checkpoint_state(plan, acc),
            summary={
                "epoch": epoch,
                "complete": True,
                "global_step": self.progress.global_step,
                "train_scores": stats.scores,
            },
        )
        for ref in self.files.checkpoints():  # mid-epoch checkpoints up to here are superseded
            if not ref.complete and ref.epoch <= epoch:
                ckpt.remove_checkpoint(ref.path)
        self._mid_checkpoint = None
        log.info("saved %s", path)

    def _cleanup(self, epoch: int) -> None:
        policy = self.config.get("cleanup_old_models")
        if self.files is None or not policy:
            return
        opts = {"keep_last_n": 2, "keep_best_n": 4, "keep": [], **(policy if isinstance(policy, dict) else {})}
        score_key = opts.get("score_key") or self._default_score_key(epoch)
        scores = {e: d.error[score_key] for e, d in self.lr_control.epoch_data.items() if score_key in d.error}
        epochs = [r.epoch for r in self.files.checkpoints() if r.complete]
        for old in ckpt.checkpoints_to_delete(
            epochs,
            keep_last_n=opts["keep_last_n"],
            keep_best_n=opts["keep_best_n"],
            keep=list(opts["keep"]),
            scores=scores,
        ):
            ckpt.remove_checkpoint(self.files.epoch_checkpoint(old))
            log.info("cleanup_old_models: deleted %s", self.files.epoch_checkpoint(old).name)

    def _default_score_key(self, epoch: int) -> str | None:
        """RETURNN's choice of the score that defines "best": the first dev score, else the first train score."""
        keys = sorted(self.lr_control.epoch_scores(epoch))
        dev = [k for k in keys if k.startswith("dev_")]
        return (dev or keys or [None])[0]

    # ------------------------------------------------------------------ evaluation

    def _evaluate_all(self, epoch: int) -> dict[str, EpochStats]:
        results = {}
        assert self.state.model is not None
        for name, setup in self.data.evals.items():
            plan = plan_for(self.config, setup, epoch, step=self.progress.global_step)
            batches = iterate_batches(
                setup.dataset,
                self.dist.eval_batches(plan.batches),  # each rank evaluates its share
                dtypes=self.data.dtypes,
                num_workers=self.config.get("num_workers"),
                random_seed=self.random_seed,
                epoch=epoch,
                rank=self.dist.rank,
            )
            acc = ScoreAccumulator()
            results[name] = evaluate(
                model=self.state.model,
                builder=self.builder,
                batches=batches,
                device=self.device,
                epoch=epoch,
                random_seed=self.random_seed,
                rank=self.dist.rank,
                accumulator=acc,
            )
            results[name].scores = self.dist.reduce_scores(acc).scores()  # all ranks: the same dev score
        return results

    def _evaluate_if_missing(self, epoch: int) -> None:
        """A crash between the epoch checkpoint and the scores file leaves the eval scores missing."""
        have = self.lr_control.epoch_scores(epoch)
        missing = [n for n in self.data.evals if not any(k.startswith(f"{n}_loss_") for k in have)]
        if not missing or self.state.model is None:
            return
        log.info("epoch %d: evaluation of %s missing in the scores file, evaluating now", epoch, missing)
        for name, stats in self._evaluate_all(epoch).items():
            self.lr_control.set_epoch_scores(epoch, {f"{name}_loss_{k}": v for k, v in stats.scores.items()})
        self.lr_control.save()

    # ------------------------------------------------------------------ logs

    def _log_epoch_start(self, epoch: int, plan: EpochPlan, start_batch: int, lr: float) -> None:
        skipped = plan.left_out_text()
        resumed = f", resuming at batch {start_batch}" if start_batch else ""
        log.info(
            "epoch %d: %d batches, %d seqs%s, lr %.4g%s", epoch, len(plan.batches), plan.num_seqs, skipped, lr, resumed
        )

    def _log_epoch_summary(self, epoch: int, lr: float, stats: EpochStats, evals: dict[str, EpochStats]) -> None:
        parts = [f"train {format_scores(stats.scores)}"]
        parts += [f"{name} {format_scores(s.scores)}" for name, s in evals.items()]
        wait = 100.0 * stats.data_wait_seconds / stats.seconds if stats.seconds else 0.0
        speed = stats.frames / stats.seconds if stats.seconds else 0.0
        log.info(
            "epoch %d/%d: %s | lr %.4g | %.1f s, %d steps, %.0f frames/s, data wait %.1f%%",
            epoch,
            self.config.get("num_epochs"),
            " | ".join(parts),
            lr,
            stats.seconds,
            stats.steps,
            speed,
            wait,
        )
        self.scalar_log.scalars("train", stats.scores, epoch)
        for name, s in evals.items():
            self.scalar_log.scalars(name, s.scores, epoch)
        self.scalar_log.scalars("epoch", {"learning_rate": lr, "seconds": stats.seconds}, epoch)
        self.scalar_log.flush()

    # ------------------------------------------------------------------ signals

    def _install_signal_handlers(self) -> dict[int, Any]:
        trainer_pid = os.getpid()

        def request_stop(signum: int, _frame: Any) -> None:
            if os.getpid() != trainer_pid:  # a DataLoader worker that inherited this handler: not its business
                return
            if self._stop_signal is not None:  # second signal: stop right away
                raise KeyboardInterrupt
            self._stop_signal = signum
            log.warning("signal %d: saving a checkpoint after the current step, then stopping", signum)

        old = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not the main thread: no handlers
                old[sig] = signal.signal(sig, request_stop)
        return old

    @staticmethod
    def _restore_signal_handlers(old: dict[int, Any]) -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def train(config: Config) -> TrainResult:
    """Trains in this process, or as one rank of a run that torchrun started (see seqtrain.train.distributed)."""
    if config.get("keep_freed_memory"):
        keep_freed_memory()
    ranks = distributed_run(config.get("torch_distributed"), config.get("device"), coordinated=(TrainingInterrupted,))
    with deterministic_algorithms(config.get("deterministic_train")), ranks as dist:
        return Trainer(config, dist).run()
