"""Saving and loading the complete training state, such that no crash can lose or corrupt a run.

A checkpoint is written to a temp file, fsync'ed and renamed; then its meta file (size + sha256 +
summary) is written the same way. The meta file is the completeness marker: loading verifies it, and
a truncated or corrupt newest checkpoint falls back to the previous one with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

from seqtrain.checkpoint.run_files import CheckpointRef, RunFiles
from seqtrain.errors import CheckpointError, RunFileError

log = logging.getLogger("seqtrain")

FORMAT = "seqtrain-checkpoint"
VERSION = 1


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def save_checkpoint(path: Path, state: dict[str, Any], *, summary: dict[str, Any] | None = None) -> None:
    """Writes `state` (tensors, dicts, numbers, strings) and then its meta file.

    A failed write (disk full, read-only, no permission) leaves no half-written file behind, and a checkpoint
    whose meta file could not be written is not taken for complete, so the previous one stays the resume point.
    """
    try:
        _save(path, state, summary)
    except OSError as e:
        meta = RunFiles.meta_of(path)
        for leftover in (path.with_name(path.name + ".tmp"), meta.with_name(meta.name + ".tmp")):
            leftover.unlink(missing_ok=True)
        raise RunFileError.from_os_error(e, "the checkpoint") from e


def _save(path: Path, state: dict[str, Any], summary: dict[str, Any] | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    _write_atomic(path, lambda f: torch.save(payload, f))
    meta = {
        "checkpoint": path.name,
        "size": path.stat().st_size,
        "sha256": _sha256(path),
        "written": time.strftime("%Y-%m-%d %H:%M:%S"),
        **(summary or {}),
    }
    _write_atomic(RunFiles.meta_of(path), lambda f: f.write(json.dumps(meta, indent=1, sort_keys=True).encode()))


def verify_checkpoint(path: Path) -> str | None:
    """None if the checkpoint is complete and intact, else the reason it is not."""
    meta_path = RunFiles.meta_of(path)
    if not meta_path.exists():
        return f"its meta file {meta_path.name} is missing (the write did not finish)"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        return f"its meta file {meta_path.name} is unreadable ({e})"
    size = path.stat().st_size
    if size != meta.get("size"):
        return f"it has {size} bytes, but {meta.get('size')} were written (truncated?)"
    if _sha256(path) != meta.get("sha256"):
        return "its sha256 does not match the one written with it (corrupt)"
    return None


def load_checkpoint(path: Path, *, map_location: str | torch.device = "cpu", verify: bool = True) -> dict[str, Any]:
    if verify and (problem := verify_checkpoint(path)):
        raise CheckpointError(f"checkpoint {path} is not usable: {problem}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} cannot be loaded: {e}") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seqtrain checkpoint (to load plain weights, use preload_from_files)")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {state['version']}; upgrade seqtrain")
    return state


def latest_usable_checkpoint(files: RunFiles) -> tuple[CheckpointRef, dict[str, Any]] | None:
    """The newest checkpoint that verifies and loads; broken newer ones are reported and skipped."""
    for ref in reversed(files.checkpoints()):
        try:
            return ref, load_checkpoint(ref.path)
        except CheckpointError as e:
            log.warning("WARNING: %s; falling back to the previous checkpoint", e)
    return None


def remove_checkpoint(path: Path) -> None:
    for p in (RunFiles.meta_of(path), path):
        p.unlink(missing_ok=True)


def checkpoints_to_delete(
    epochs: list[int],
    *,
    keep_last_n: int,
    keep_best_n: int,
    keep: list[int],
    scores: dict[int, float],
) -> list[int]:
    """The cleanup policy: keep the last N, the best N by score (lower is better), listed epochs,
    and always the newest and the best one; everything else may go."""
    if not epochs:
        return []
    kept = set(sorted(epochs)[-max(keep_last_n, 1) :]) | set(keep)
    scored = sorted((e for e in epochs if e in scores), key=lambda e: (scores[e], e))
    kept |= set(scored[: max(keep_best_n, 1 if scored else 0)])
    return sorted(e for e in epochs if e not in kept)
