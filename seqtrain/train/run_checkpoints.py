"""The complete training state of a run, written as epoch and mid-epoch checkpoints, and their cleanup.

Only rank 0 writes (`files` is None on other ranks); what goes into a checkpoint is listed in one
place, `training_state`, so nothing stateful can be forgotten.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtrain.checkpoint import store as ckpt
from seqtrain.checkpoint.run_files import RunFiles
from seqtrain.config import Config
from seqtrain.config.settings import RunSettings
from seqtrain.data.epoch import EpochPlan
from seqtrain.errors import ConfigError
from seqtrain.model.precision import LossScaler
from seqtrain.rng import rng_state
from seqtrain.train.distributed.run import DistributedRun
from seqtrain.train.epoch_stats import EpochStats
from seqtrain.train.model_state import ModelState
from seqtrain.train.optim.lr_control import LearningRateControl
from seqtrain.train.scores import ScoreAccumulator

log = logging.getLogger("seqtrain")

_CLEANUP_DEFAULTS: dict[str, Any] = {"keep_last_n": 2, "keep_best_n": 4, "keep": [], "score_key": None}


def cleanup_policy(value: bool | dict[str, Any]) -> dict[str, Any] | None:
    """`cleanup_old_models` checked before training starts: None = keep everything."""
    if not value:
        return None
    given = value if isinstance(value, dict) else {}
    unknown = set(given) - set(_CLEANUP_DEFAULTS)
    if unknown:
        raise ConfigError(
            f"cleanup_old_models: unknown options {sorted(unknown)}; allowed: {sorted(_CLEANUP_DEFAULTS)}"
        )
    return {**_CLEANUP_DEFAULTS, **given}


@dataclass
class Progress:
    """Where training stands: the last epoch touched, whether it finished, and batches/steps done."""

    epoch: int = 0
    complete: bool = True
    batch_in_epoch: int = 0
    global_step: int = 0

    def next_position(self) -> tuple[int, int]:
        return (self.epoch + 1, 0) if self.complete else (self.epoch, self.batch_in_epoch)

    @classmethod
    def from_checkpoint(cls, state: dict[str, Any]) -> Progress:
        return cls(
            epoch=int(state["epoch"]),
            complete=bool(state["epoch_complete"]),
            batch_in_epoch=int(state["batch_in_epoch"]),
            global_step=int(state["global_step"]),
        )


class RunCheckpoints:
    def __init__(
        self,
        files: RunFiles | None,
        *,
        config: Config,
        state: ModelState,
        lr_control: LearningRateControl,
        dist: DistributedRun,
        scaler: LossScaler | None = None,
    ) -> None:
        self.files = files
        self.config = config
        self.state = state
        self.lr_control = lr_control
        self.dist = dist
        self.scaler = scaler
        self.last_mid_checkpoint: Path | None = None
        self.last_save_time = time.monotonic()
        run = RunSettings.from_config(config)
        self._cleanup_policy = cleanup_policy(run.cleanup_old_models)
        self._save_interval, self._num_epochs = run.save_interval, run.num_epochs

    def training_state(self, progress: Progress, plan: EpochPlan, acc: ScoreAccumulator) -> dict[str, Any]:
        rng = rng_state()
        rng["numpy"] = torch.from_numpy(np.asarray(rng["numpy"], dtype=np.int64))
        return {
            "epoch": progress.epoch,
            "epoch_complete": progress.complete,
            "batch_in_epoch": progress.batch_in_epoch,
            "global_step": progress.global_step,
            **self.state.state_dict(),
            "lr_control": self.lr_control.state_dict(),
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "train_scores": acc.state_dict(),
            "data": {"fingerprint": plan.fingerprint(), "num_batches": len(plan.batches)},
            "distributed": self.dist.checkpoint_state(plan, progress.batch_in_epoch),
            "rng": rng,
            "config_fingerprint": self.config.fingerprint(),
            "config_resolved": self.config.resolved_text(),
        }

    def save_mid(self, progress: Progress, plan: EpochPlan, acc: ScoreAccumulator) -> None:
        """A checkpoint inside the epoch; the previous mid-epoch one is removed once this one is complete."""
        if self.files is None:
            return
        path = self.files.mid_checkpoint(progress.epoch, progress.global_step)
        summary = {
            "epoch": progress.epoch,
            "complete": False,
            "batch_in_epoch": progress.batch_in_epoch,
            "global_step": progress.global_step,
            "train_scores_so_far": acc.scores(),
        }
        ckpt.save_checkpoint(path, self.training_state(progress, plan, acc), summary=summary)
        if self.last_mid_checkpoint is not None and self.last_mid_checkpoint != path:
            ckpt.remove_checkpoint(self.last_mid_checkpoint)
        self.last_mid_checkpoint = path
        self.last_save_time = time.monotonic()
        log.info("saved mid-epoch checkpoint %s (batch %d/%d)", path, progress.batch_in_epoch, len(plan.batches))

    def save_epoch(self, progress: Progress, plan: EpochPlan, stats: EpochStats) -> None:
        """The epoch's checkpoint; it supersedes every mid-epoch checkpoint up to here.

        With `save_interval` N (RETURNN's key) only every N-th epoch and the last one are written; a crash
        in between resumes from the newest checkpoint written, as in RETURNN."""
        if self.files is None:
            return
        if progress.epoch % self._save_interval != 0 and progress.epoch < self._num_epochs:
            log.info("epoch %d: no checkpoint (save_interval=%d)", progress.epoch, self._save_interval)
            return
        path = self.files.epoch_checkpoint(progress.epoch)
        summary = {
            "epoch": progress.epoch,
            "complete": True,
            "global_step": progress.global_step,
            "train_scores": stats.scores,
        }
        ckpt.save_checkpoint(path, self.training_state(progress, plan, ScoreAccumulator()), summary=summary)
        for ref in self.files.checkpoints():
            if not ref.complete and ref.epoch <= progress.epoch:
                ckpt.remove_checkpoint(ref.path)
        self.last_mid_checkpoint = None
        self.last_save_time = time.monotonic()
        log.info("saved %s", path)

    def cleanup(self, epoch: int) -> None:
        """`cleanup_old_models`: keep the last N, the best N by a dev score, and listed epochs."""
        opts = self._cleanup_policy
        if self.files is None or opts is None:
            return
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
