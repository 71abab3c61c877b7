"""Where a run continues: the newest usable checkpoint, and what changed since it was written."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from seqtrain.checkpoint import store as ckpt
from seqtrain.checkpoint.run_files import CheckpointRef, RunFiles
from seqtrain.config import Config
from seqtrain.config.settings import RunSettings
from seqtrain.data.epoch import EpochPlan
from seqtrain.errors import CheckpointError
from seqtrain.train.config_snapshot import config_diff
from seqtrain.train.run_checkpoints import Progress

log = logging.getLogger("seqtrain")


def latest_state(files: RunFiles | None, config: Config) -> tuple[Progress, dict[str, Any] | None]:
    """The progress of the checkpoint training continues from and its state (None, fresh progress: start anew).

    RETURNN's rules (returnn/engine/base.py `get_epoch_model`), except that nothing is overwritten silently:
    - `start_epoch = "auto"` (default): the run's newest usable checkpoint; without one, the checkpoint named
      by `load` (its whole training state; `load_epoch` renames its epoch), else a fresh start (then
      `import_model_train_epoch1` initializes the parameters, model_state.py).
    - `start_epoch = N > 1`: the run's own checkpoint of epoch N-1 (an error if missing).
    - `start_epoch = 1`: a fresh start; an error if the run has checkpoints (RETURNN would overwrite them).
    Warns when the config changed since the checkpoint was written (the current config wins) and logs where
    training continues."""
    run = RunSettings.from_config(config)
    found = _start_checkpoint(files, run)
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


def _start_checkpoint(files: RunFiles | None, run: RunSettings) -> tuple[CheckpointRef, dict[str, Any]] | None:
    own = files.checkpoints() if files is not None else []
    if run.start_epoch != "auto":
        start = int(run.start_epoch)
        if start == 1:
            if own:
                raise CheckpointError(
                    f"start_epoch=1 but the run has checkpoints ({own[-1].path.name}, ...); RETURNN would overwrite "
                    "them. Move them away or use a new `model` path, or start_epoch='auto' to resume"
                )
            return None
        if files is None:
            raise CheckpointError(f"start_epoch={start} needs the checkpoints of a `model` path; `model` is not set")
        path = files.epoch_checkpoint(start - 1)
        if not path.is_file():
            raise CheckpointError(f"start_epoch={start} needs the checkpoint of epoch {start - 1}: {path} is missing")
        newer = [r.path.name for r in own if r.sort_key > (start - 1, 1, -1)]
        if newer:
            log.warning("WARNING: start_epoch=%d: later checkpoints will be overwritten: %s", start, ", ".join(newer))
        return CheckpointRef(start - 1, True, -1, path), ckpt.load_checkpoint(path)
    found = ckpt.latest_usable_checkpoint(files) if files is not None else None
    if found is not None:
        if run.load:
            log.info("load=%s ignored: the run has its own checkpoint %s", run.load, found[0].path.name)
        return found
    if not run.load:
        return None
    path = Path(run.load if run.load.endswith(".pt") else run.load + ".pt")
    if not path.is_file():
        raise CheckpointError(f"load={run.load!r}: {path} does not exist")
    state = ckpt.load_checkpoint(path)
    if not state.get("epoch_complete", True):
        raise CheckpointError(f"load={run.load!r}: {path} is a mid-epoch checkpoint; load an epoch checkpoint")
    if run.load_epoch is not None:
        state["epoch"] = run.load_epoch
    log.info("starting from load=%s (counts as epoch %d)", path, state["epoch"])
    return CheckpointRef(int(state["epoch"]), True, -1, path), state


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
