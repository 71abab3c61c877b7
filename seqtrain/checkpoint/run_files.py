"""Where a run keeps its files, all named from the `model` prefix (e.g. exp/x/model).

model.001.pt, model.001.meta.json     end of epoch 1 (meta = checksum + summary, written last)
model.003.step1234.pt (+ .meta.json)  mid-epoch checkpoint inside epoch 3, after global step 1234
model.learning_rates                  LR + scores per epoch (RETURNN format), unless learning_rate_file
model.log, model.tensorboard/         logs
model.config/                         config source and resolved config per epoch
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_EPOCH_RE = re.compile(r"\.(\d{3,})\.pt$")
_MID_RE = re.compile(r"\.(\d{3,})\.step(\d+)\.pt$")


@dataclass(frozen=True, order=True)
class CheckpointRef:
    """A checkpoint file; ordered by training progress (a mid-epoch one of epoch N+1 is after epoch N)."""

    epoch: int
    complete: bool  # False: mid-epoch checkpoint inside `epoch`
    global_step: int
    path: Path

    @property
    def sort_key(self) -> tuple[int, int, int]:
        return (self.epoch, 1 if self.complete else 0, self.global_step)


@dataclass(frozen=True)
class RunFiles:
    prefix: Path

    def epoch_checkpoint(self, epoch: int) -> Path:
        return Path(f"{self.prefix}.{epoch:03d}.pt")

    def mid_checkpoint(self, epoch: int, global_step: int) -> Path:
        return Path(f"{self.prefix}.{epoch:03d}.step{global_step}.pt")

    @staticmethod
    def meta_of(checkpoint: Path) -> Path:
        return checkpoint.with_name(checkpoint.name[: -len(".pt")] + ".meta.json")

    def learning_rates(self, configured: str | None) -> Path:
        return Path(configured) if configured else Path(f"{self.prefix}.learning_rates")

    @property
    def log(self) -> Path:
        return Path(f"{self.prefix}.log")

    @property
    def tensorboard_dir(self) -> Path:
        return Path(f"{self.prefix}.tensorboard")

    @property
    def config_dir(self) -> Path:
        return Path(f"{self.prefix}.config")

    def checkpoints(self) -> list[CheckpointRef]:
        """All checkpoint files of this run (complete or not), oldest first."""
        directory = self.prefix.parent if str(self.prefix.parent) else Path(".")
        if not directory.is_dir():
            return []
        base = self.prefix.name
        refs = []
        for path in directory.iterdir():
            name = path.name
            if not name.startswith(base + ".") or not name.endswith(".pt"):
                continue
            rest = name[len(base) :]
            if m := _MID_RE.fullmatch(rest):
                refs.append(CheckpointRef(int(m.group(1)), False, int(m.group(2)), path))
            elif m := _EPOCH_RE.fullmatch(rest):
                refs.append(CheckpointRef(int(m.group(1)), True, -1, path))
        return sorted(refs, key=lambda r: r.sort_key)
