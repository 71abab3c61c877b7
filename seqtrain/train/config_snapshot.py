"""What config a run used: the source file, the resolved values per epoch, and what changed when."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from seqtrain.config import Config, all_keys
from seqtrain.config.config import describe_value

log = logging.getLogger("seqtrain")


def scheduled_values(config: Config, epoch: int, step: int) -> dict[str, Any]:
    """Values of the keys that can differ between epochs (schedulable or overridden by `#config`)."""
    values = {}
    for key in all_keys():
        raw = config.get(key.name)
        if key.hook or (callable(raw) and not key.schedulable):
            continue
        values[key.name] = config.at(key.name, epoch=epoch, step=step)
    return values


def log_changes(previous: dict[str, Any] | None, current: dict[str, Any], epoch: int) -> list[str]:
    """Logs "epoch 5: gradient_clip 10 -> 0" for every value that changed at this epoch start."""
    if previous is None:
        return []
    lines = []
    for name, value in current.items():
        if name in previous and previous[name] != value:
            lines.append(f"epoch {epoch}: {name} {describe_value(previous[name])} → {describe_value(value)}")
    for line in lines:
        log.info("%s", line)
    return lines


def save_source(config: Config, directory: Path) -> None:
    """Keeps the config file next to the checkpoints; an edited config keeps the old copy with a timestamp."""
    if config.path is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "source.py"
    if target.exists() and target.read_text() != config.source_text:
        shutil.move(target, directory / f"source.{time.strftime('%Y%m%d-%H%M%S')}.py")
    if not target.exists():
        target.write_text(config.source_text)
    overrides = {**config.overrides, **config.variable_overrides}  # keys, and a RETURNN config's own variables
    if overrides:
        (directory / "overrides.txt").write_text("".join(f"{k}={v!r}\n" for k, v in overrides.items()))


def save_resolved(config: Config, directory: Path, epoch: int, step: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"resolved.epoch.{epoch:03d}.txt"
    path.write_text(config.resolved_text(epoch=epoch, step=step))
    return path


def config_diff(old_resolved: str, new_resolved: str) -> list[str]:
    """ "key old → new" for every key whose resolved value differs between two `resolved_text` dumps."""

    def parse(text: str) -> dict[str, str]:
        values = {}
        for line in text.splitlines():
            if line.startswith("#") or " = " not in line:
                continue
            name, rest = line.split(" = ", 1)
            values[name] = rest.rsplit("  # ", 1)[0]
        return values

    old, new = parse(old_resolved), parse(new_resolved)
    return [
        f"{k} {old.get(k, '<unset>')} → {new.get(k, '<unset>')}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
