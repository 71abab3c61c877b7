"""Learning rate per epoch: RETURNN's `learning_rate_control` (constant and the Newbob variants).

The learning rate of an epoch is decided once, at its start, and stored with that epoch's scores in
the learning-rate file. An epoch that already has a stored rate keeps it: that is how a hand edit of
the file takes effect and why resume reproduces the same rates. Otherwise, in this order:
a rate the engine passes in (a net dict's `#config`), `learning_rates` / a `{epoch: lr}` schedule
of `learning_rate` (warmup, resets), then the control's rule on the scores of past epochs (see
`lr_rules.py`). Given the same scores, the rules give RETURNN's rates bit for bit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from seqtrain.errors import ConfigError
from seqtrain.train.optim.lr_file import EpochData, read_scores, write_scores
from seqtrain.train.optim.lr_options import ControlOptions
from seqtrain.train.optim.lr_rules import decide_learning_rate

log = logging.getLogger("seqtrain")


class LearningRateControl:
    """The per-epoch rates and scores (the learning-rate file's content) and the rule that extends them."""

    def __init__(
        self,
        options: ControlOptions | None = None,
        *,
        base_learning_rate: Callable[[int], float],
        path: Path | None = None,
    ) -> None:
        self.options = options or ControlOptions()
        self.base_learning_rate = base_learning_rate  # `learning_rate` as resolved for an epoch
        self.path = path
        self.epoch_data: dict[int, EpochData] = read_scores(path) if path is not None else {}
        self._source = path
        self._from_file = {e for e, d in self.epoch_data.items() if d.learning_rate is not None}
        self.reasons: dict[int, str] = {}  # why each epoch decided here got its rate (logs, `seqtrain lr-schedule`)

    # ------------------------------------------------------------------ the rate of an epoch

    def learning_rate_for_epoch(self, epoch: int, *, predefined: tuple[float, str] | None = None) -> float:
        """The stored rate of `epoch`, else a new one, stored: `predefined` (rate, reason) or `decide_learning_rate`."""
        data = self.epoch_data.get(epoch)
        if data is not None and data.learning_rate is not None:
            if epoch in self._from_file and epoch not in self.reasons:
                self.reasons[epoch] = f"as stored in {self._source}"
                log.info("epoch %d: learning rate %.6g (%s)", epoch, data.learning_rate, self.reasons[epoch])
            return data.learning_rate
        self._check_error_measure(epoch)
        lr, reason = decide_learning_rate(self, epoch, predefined=predefined)
        self.epoch_data[epoch] = EpochData(float(lr), data.error if data else {}, data.meta if data else {})
        self.reasons[epoch] = reason
        log.info("epoch %d: learning rate %.6g (%s)", epoch, lr, reason)
        return float(lr)

    def mark_as_stored(self, source: Path) -> None:
        """Says that the rates now in `epoch_data` came from `source` (for the reasons shown to the user)."""
        self._source = source
        self._from_file = {e for e, d in self.epoch_data.items() if d.learning_rate is not None}

    def set_epoch_scores(self, epoch: int, scores: Mapping[str, float], *, replace: bool = True) -> None:
        """The scores of an epoch just trained (and evaluated) replace whatever the file held for it.

        The file may come from an earlier run, e.g. RETURNN's of the same experiment: its scores of this epoch
        (other names, another model) and its `:meta:` entries are stale, and merging them would let Newbob
        decide on them (it prefers RETURNN's `dev_score...` names). The epoch's learning rate stays.
        `replace=False` adds scores to the ones of this run (an evaluation made up after a crash)."""
        if epoch not in self.epoch_data:
            self.learning_rate_for_epoch(epoch)
        data = self.epoch_data[epoch]
        new = {k: float(v) for k, v in scores.items()}
        if replace:
            stale = sorted(set(data.error) - set(new)) + [f":meta:{k}" for k in sorted(data.meta)]
            if stale:
                log.info("epoch %d: scores replace the learning-rate file's earlier entries %s", epoch, stale)
            self.epoch_data[epoch] = EpochData(data.learning_rate, new, {})
        else:
            data.error.update(new)

    def epoch_scores(self, epoch: int) -> dict[str, float]:
        data = self.epoch_data.get(epoch)
        return dict(data.error) if data else {}

    # ------------------------------------------------------------------ history (RETURNN's helpers)

    def last_epoch(self, epoch: int) -> int | None:
        """The last epoch before `epoch` that has any data."""
        before = [e for e in self.epoch_data if e < epoch]
        return max(before) if before else None

    def last_epochs(self, epoch: int, count: int) -> list[int]:
        return sorted(e for e in self.epoch_data if e < epoch)[-count:] if count > 0 else []

    def most_recent_learning_rate(self, epoch: int, *, exclude_current: bool = True) -> float:
        for e in sorted(self.epoch_data, reverse=True):
            lr = self.epoch_data[e].learning_rate
            if e > epoch or (exclude_current and e == epoch) or lr is None:
                continue
            return lr
        return self.base_learning_rate(epoch)

    def error_key(self, epoch: int) -> str | None:
        """The score that drives the control in `epoch` (RETURNN's choice, but strict when a measure is set)."""
        scores = self.epoch_scores(epoch)
        if not scores:
            return None
        if len(scores) == 1 and "old_format_score" in scores:
            return "old_format_score"
        if self.options.error_measure:
            for name in self.options.error_measure:
                for candidate in (name, name + "_output"):
                    if candidate in scores:
                        return candidate
            raise ConfigError(self._missing_measure_message(epoch, scores))
        for candidate in ("dev_score", "dev_score_output"):
            if candidate in scores:
                return candidate
        names = sorted(scores)
        for prefix in ("dev_score_output/output", "dev_score_output/", "dev_"):
            found = [k for k in names if k.startswith(prefix)]
            if found:
                return found[0]
        for candidate in ("train_score", "train_score_output"):
            if candidate in scores:
                return candidate
        return names[0]

    def error_value(self, epoch: int) -> tuple[str | None, float | None]:
        key = self.error_key(epoch)
        return (key, self.epoch_data[epoch].error[key]) if key is not None else (None, None)

    def relative_error(self, old_epoch: int, new_epoch: int) -> float | None:
        """(new - old) / |new| (or / |old|) of the error measure; None if a score is missing or keys differ."""
        old_key, old = self.error_value(old_epoch)
        new_key, new = self.error_value(new_epoch)
        if old is None or new is None or old_key != new_key:
            return None
        denominator = abs(old) if self.options.relative_error_div_by_old else abs(new)
        if denominator == 0:  # RETURNN divides by zero here; a score of exactly 0 means "no change" or "any change"
            relative = 0.0 if new == old else math.copysign(math.inf, new - old)
        else:
            relative = (new - old) / denominator
        if self.options.relative_error_relative_lr:
            lr = self.most_recent_learning_rate(new_epoch, exclude_current=False)
            if lr > 0:
                relative /= lr / self.base_learning_rate(new_epoch)
        return relative

    def _missing_measure_message(self, epoch: int, scores: Mapping[str, float]) -> str:
        measure = self.options.error_measure
        shown = measure[0] if len(measure) == 1 else list(measure)
        where = f" of {self._source}" if self._source is not None else ""
        return (
            f"learning_rate_control_error_measure {shown!r}: epoch {epoch}{where} has no such score; "
            f"its scores are: {', '.join(sorted(scores))}. Set learning_rate_control_error_measure to one of "
            "these (or None for the first dev score)."
        )

    def _check_error_measure(self, epoch: int) -> None:
        """Fails at the start of an epoch, not epochs later, when the configured score does not exist."""
        if not self.options.needs_scores:
            return
        scored = [e for e in self.epoch_data if e < epoch and self.epoch_data[e].error]
        if scored:
            self.error_key(max(scored))

    # ------------------------------------------------------------------ persistence

    def save(self) -> None:
        if self.path is not None:
            write_scores(self.path, self.epoch_data)

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch_data": {
                e: {"learning_rate": d.learning_rate, "error": dict(d.error), "meta": dict(d.meta)}
                for e, d in self.epoch_data.items()
            }
        }

    def load_state_dict(self, state: Mapping[str, Any], *, prefer_file: bool = True) -> None:
        """Restores from a checkpoint; epochs the file already knows keep the file's values (hand edits win)."""
        from_ckpt = {
            int(e): EpochData(d["learning_rate"], dict(d["error"]), dict(d.get("meta", {})))
            for e, d in state["epoch_data"].items()
        }
        if prefer_file:
            from_ckpt.update(self.epoch_data)
        self.epoch_data = dict(sorted(from_ckpt.items()))
