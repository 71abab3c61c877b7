"""Where a run continues: the newest usable checkpoint, and what changed since it was written."""

from __future__ import annotations

import logging
from typing import Any

from seqtrain.checkpoint import store as ckpt
from seqtrain.checkpoint.run_files import RunFiles
from seqtrain.config import Config
from seqtrain.data.epoch import EpochPlan
from seqtrain.train.config_snapshot import config_diff
from seqtrain.train.run_checkpoints import Progress

log = logging.getLogger("seqtrain")


def latest_state(files: RunFiles | None, config: Config) -> tuple[Progress, dict[str, Any] | None]:
    """The progress of the newest usable checkpoint and its state (None, fresh progress: nothing to resume).

    Warns when the config changed since the checkpoint was written (the current config wins) and logs where
    training continues."""
    found = ckpt.latest_usable_checkpoint(files) if files is not None else None
    if found is None:
        return Progress(), None
    ref, state = found
    state["_path"] = ref.path
    progress = Progress.from_checkpoint(state)
    if state.get("config_fingerprint") != config.fingerprint():
        old = state.get("config_resolved")
        changes = config_diff(old, config.resolved_text()) if isinstance(old, str) else []
        log.warning(
            "WARNING: the config changed since %s was written; the current config wins: %s",
            ref.path.name,
            "; ".join(changes) or "the file changed, no resolved value did",
        )
    done = progress.batch_in_epoch
    where = f"end of epoch {ref.epoch}" if ref.complete else f"epoch {ref.epoch} after {done} batches"
    log.info("resuming from %s (%s, global step %d)", ref.path, where, progress.global_step)
    return progress, state


def check_same_batches(state: dict[str, Any], plan: EpochPlan, epoch: int, batch: int) -> None:
    """A resumed epoch continues at batch k of the list it had; say so when the list is not the same."""
    saved = state.get("data", {}).get("fingerprint")
    if saved is not None and saved != plan.fingerprint():
        log.warning(
            "WARNING: the batch list of epoch %d differs from the one the checkpoint was written with "
            "(batching options or data changed); continuing at batch %d of the new list",
            epoch,
            batch,
        )
