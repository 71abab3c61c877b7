"""Inside an epoch, after an update: is a checkpoint due (by time or steps), did a stop signal arrive?

An update is the only point where a checkpoint holds no half-summed gradients, so resuming from any of them is
exact. All ranks agree on both answers (a signal reaches them at different steps); rank 0 writes the file.
"""

from __future__ import annotations

import time

from seqtrain.data.epoch import EpochPlan
from seqtrain.errors import SeqtrainError
from seqtrain.train.distributed.run import DistributedRun
from seqtrain.train.model_state import ModelState
from seqtrain.train.run_checkpoints import Progress, RunCheckpoints
from seqtrain.train.scores import ScoreAccumulator
from seqtrain.train.stop_signal import StopRequests


class TrainingInterrupted(SeqtrainError):
    """SIGTERM/SIGINT: a checkpoint was saved at a step boundary; rerunning the command resumes."""


class MidEpochSaves:
    """`checkpoint_interval_minutes` / `checkpoint_interval_steps`, and SIGTERM/SIGINT, for one run."""

    def __init__(
        self,
        checkpoints: RunCheckpoints,
        *,
        dist: DistributedRun,
        state: ModelState,
        stop: StopRequests,
        has_model_path: bool,
        minutes: float | None,
        steps: int | None,
    ) -> None:
        self.checkpoints, self.dist, self.state, self.stop = checkpoints, dist, state, stop
        self.has_model_path = has_model_path
        self.minutes, self.steps = minutes, steps
        self.last_step = 0

    def start_epoch(self, global_step: int) -> None:
        self.checkpoints.last_save_time = time.monotonic()
        self.last_step = global_step

    def due(self, progress: Progress, plan: EpochPlan) -> tuple[int | None, bool]:
        """(the stop signal all ranks saw, or None; whether a checkpoint is due now)."""
        previous, self.last_step = self.last_step, progress.global_step
        by_time = self.minutes is not None and time.monotonic() - self.checkpoints.last_save_time >= 60 * self.minutes
        by_steps = bool(self.steps) and progress.global_step // self.steps > previous // self.steps  # type: ignore[operator]
        scheduled = progress.batch_in_epoch < len(plan.batches) and (by_time or by_steps)  # else the epoch's follows
        due = self.has_model_path and (self.stop.received is not None or scheduled)
        return self.dist.agree_on_stop(self.stop.received, due)

    def save(self, progress: Progress, plan: EpochPlan, acc: ScoreAccumulator) -> None:
        self.dist.sync_replicas(self.state, reason=f"checkpoint after step {progress.global_step}")
        self.checkpoints.save_mid(progress, plan, self.dist.reduce_scores(acc))

    def interrupted(self, stop_signal: int, progress: Progress) -> TrainingInterrupted:
        if not self.has_model_path:
            return TrainingInterrupted(f"stopped by signal {stop_signal}; no `model` path, nothing saved")
        saved = self.checkpoints.last_mid_checkpoint if self.dist.is_main else "rank 0 saved a checkpoint"
        return TrainingInterrupted(
            f"stopped by signal {stop_signal} in epoch {progress.epoch} after batch {progress.batch_in_epoch}; "
            f"checkpoint {saved}; run the same command again to resume"
        )
