"""TensorBoard scalars; a no-op when disabled, so the loop never checks.

Values are buffered and written on `flush()` (epoch ends), which keeps the slow TensorBoard import
and file writes out of the time to the first step and out of the step loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ScalarLog:
    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._writer: Any = None
        self._pending: list[tuple[str, float, int]] = []

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self._directory is None:
            return
        self._pending.extend((f"{prefix}/{name}", float(value), step) for name, value in values.items())

    def flush(self) -> None:
        if self._directory is None or not self._pending:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self._directory))
        for tag, value, step in self._pending:
            self._writer.add_scalar(tag, value, step)
        self._pending.clear()
        self._writer.flush()

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()
