"""Learning rate per epoch, and the per-epoch scores it may depend on.

The epoch-level learning rate is decided once at the start of an epoch and stored with that epoch's
scores in the learning-rate file; an epoch that already has a stored rate keeps it, which is how a
hand edit of the file takes effect and why resume reproduces the same rates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seqtrain.train.lr_file import EpochData, read_scores, write_scores


class LearningRateControl:
    """Constant learning rate (the base for the scheduling issue's Newbob and friends)."""

    def __init__(self, *, base_learning_rate: Callable[[int], float], path: Path | None = None) -> None:
        self.base_learning_rate = base_learning_rate
        self.path = path
        self.epoch_data: dict[int, EpochData] = read_scores(path) if path is not None else {}

    def calc_learning_rate_for_epoch(self, epoch: int) -> float:
        """The rule for an epoch that has no stored rate yet; subclasses implement schedules here."""
        return self.base_learning_rate(epoch)

    def learning_rate_for_epoch(self, epoch: int) -> float:
        data = self.epoch_data.get(epoch)
        if data is None or data.learning_rate is None:
            lr = self.calc_learning_rate_for_epoch(epoch)
            self.epoch_data[epoch] = EpochData(lr, data.error if data else {})
        return float(self.epoch_data[epoch].learning_rate)  # type: ignore[arg-type]

    def set_epoch_scores(self, epoch: int, scores: dict[str, float]) -> None:
        if epoch not in self.epoch_data:
            self.learning_rate_for_epoch(epoch)
        self.epoch_data[epoch].error.update(scores)

    def epoch_scores(self, epoch: int) -> dict[str, float]:
        data = self.epoch_data.get(epoch)
        return dict(data.error) if data else {}

    def save(self) -> None:
        if self.path is not None:
            write_scores(self.path, self.epoch_data)

    def state_dict(self) -> dict:
        return {
            "epoch_data": {
                e: {"learning_rate": d.learning_rate, "error": dict(d.error)} for e, d in self.epoch_data.items()
            }
        }

    def load_state_dict(self, state: dict, *, prefer_file: bool = True) -> None:
        """Restores from a checkpoint; epochs the file already knows keep the file's values (hand edits win)."""
        from_ckpt = {int(e): EpochData(d["learning_rate"], dict(d["error"])) for e, d in state["epoch_data"].items()}
        if prefer_file:
            from_ckpt.update(self.epoch_data)
        self.epoch_data = dict(sorted(from_ckpt.items()))
