"""`seqtrain recog --tune KEY=V1,V2,...`: a grid of recog_* values decoded from one forward pass, best by WER.

Decoder settings such as the LM weight and the word penalty are tuned on dev and then fixed for the test sets.
Only keys that change the decoding, not the forward pass, can be tuned: the model's outputs are computed once
(seqtrain.recog.run) and each grid point decodes them again. Ties go to the earlier grid point, so the result
does not depend on anything but the grid's order.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtrain.config import Config
from seqtrain.config.loader import parse_value
from seqtrain.config.settings import RecogSettings, concern_of
from seqtrain.errors import ConfigError
from seqtrain.recog.run import Forwarded, Recognizer
from seqtrain.recog.wer import WerResult

_NOT_DECODING = ("recog_output", "recog_target", "recog_score_groups")  # the forward pass's choice, or scoring


@dataclass(frozen=True)
class TunePoint:
    values: dict[str, Any]
    wer: WerResult

    def __str__(self) -> str:
        return " ".join(f"{k}={v!r}" for k, v in self.values.items()) + f": {self.wer}"

    def as_dict(self) -> dict[str, Any]:
        counts = ("errors", "ref_words", "substitutions", "deletions", "insertions")
        return {**self.values, "wer": self.wer.wer, **{name: getattr(self.wer, name) for name in counts}}


@dataclass(frozen=True)
class TuneResult:
    dataset: str
    epoch: int
    grid: dict[str, list[Any]]
    points: list[TunePoint]

    @property
    def best(self) -> TunePoint:
        return min(self.points, key=lambda p: p.wer.wer)  # min keeps the first of equals

    def write_json(self, path: Path) -> None:
        """Written to a temporary name and renamed: a tuning run that dies leaves no half file."""
        data = {
            "dataset": self.dataset,
            "epoch": self.epoch,
            "grid": self.grid,
            "points": [p.as_dict() for p in self.points],
            "best": self.best.as_dict(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(temporary, path)


def parse_grid(items: Sequence[str], config: Config) -> dict[str, list[Any]]:
    """`KEY=V1,V2,...` items -> {key: values}; each value parsed like a `key=value` override and checked by the key's
    declaration, so a bad value fails before the forward pass."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not raw:
            raise ConfigError(f"--tune {item!r}: write KEY=V1,V2,... (e.g. recog_lm_weight=0,0.5,1)")
        if not name.startswith("recog_") or concern_of(name) != "recog" or name in _NOT_DECODING:
            raise ConfigError(
                f"--tune {name}: only recog_* keys that the decoding reads can be tuned (the model runs once); "
                "give other keys as key=value overrides before --tune"
            )
        if name in grid:
            raise ConfigError(f"--tune {name} is given twice; list all its values in one KEY=V1,V2,...")
        grid[name] = [parse_value(part.strip()) for part in raw.split(",")]
        for value in grid[name]:
            config.with_values({name: value})
    if not grid:
        raise ConfigError("--tune needs at least one KEY=V1,V2,...")
    return grid


def tune_grid(recognizer: Recognizer, forwarded: Forwarded, grid: dict[str, list[Any]]) -> Iterator[TunePoint]:
    """Every combination of the grid's values (the first key varies slowest), decoded and scored."""
    names = list(grid)
    for combination in itertools.product(*grid.values()):
        values = dict(zip(names, combination))
        result = recognizer.decode(forwarded, RecogSettings.from_config(recognizer.config.with_values(values)))
        yield TunePoint(values, result.wer)
