"""The `augment` option of a dataset: its transforms per epoch, and what they do to one sequence.

`Augmentation` holds the config value (a list of transform dicts, or a schedule of such lists, each option
possibly scheduled) and resolves it per epoch into an `EpochAugmentation`. Every `{epoch: value}` schedule is
resolved and checked when the dataset is built, so a bad value in epoch 20 fails before epoch 1; functions
are checked when their epoch comes.

Randomness: sequence `idx` of epoch `e` draws from `SeedSequence(derive_seed(random_seed, "augment", e, idx))`,
one child generator per position in the list, so a transform's draws do not change when another one gets other
options or another `prob`, or when transforms are added or removed after it (one inserted before it moves it to
the next child: other draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtrain.data.augment import dynamics, filters, noise, reverb, source_filter, speed, vocoder  # noqa: F401  (they register the transform types)
from seqtrain.data.augment.options import at_epoch, parse_probability, schedule_points
from seqtrain.data.augment.transform import TRANSFORMS, AugmentContext, Params, Transform
from seqtrain.errors import ConfigError
from seqtrain.rng import derive_seed

Drawn = tuple[Params | None, ...]  # per transform: its parameters, or None where it does not apply


@dataclass(frozen=True)
class EpochAugmentation:
    """The transforms of one epoch, in order."""

    transforms: tuple[Transform, ...]
    random_seed: int
    epoch: int

    @property
    def changes_length(self) -> bool:
        return any(type(t).output_length is not Transform.output_length for t in self.transforms)

    def draw(self, idx: int, num_samples: int) -> Drawn:
        """The parameters of sequence `idx` (of `num_samples` samples before augmentation)."""
        seed = derive_seed(self.random_seed, "augment", self.epoch, idx)
        children = np.random.SeedSequence(seed).spawn(len(self.transforms))
        drawn: list[Params | None] = []
        n = num_samples
        for transform, child in zip(self.transforms, children):
            rng = np.random.default_rng(child)
            applies = rng.random() < transform.prob
            params = transform.draw(rng, n) if applies else None
            if params is not None:
                n = transform.output_length(n, params)
            drawn.append(params)
        return tuple(drawn)

    def output_length(self, num_samples: int, drawn: Drawn) -> int:
        n = num_samples
        for transform, params in zip(self.transforms, drawn):
            if params is not None:
                n = transform.output_length(n, params)
        return n

    def apply(self, samples: np.ndarray, drawn: Drawn, sample_rate: int) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        for transform, params in zip(self.transforms, drawn):
            if params is not None:
                x = transform.apply(x, params, sample_rate)
        return x


class Augmentation:
    """A dataset's `augment` value, resolved per epoch (cached: epochs come one after another)."""

    def __init__(self, value: Any, *, sample_rate: int, where: str) -> None:
        self.value = value
        self.sample_rate = sample_rate
        self.where = f"{where}: augment"
        self._cache: dict[int, tuple[Transform, ...]] = {}
        for epoch in self._checked_epochs():
            self.transforms_at(epoch)

    def _checked_epochs(self) -> list[int]:
        """Epoch 1 and every epoch at which some `{epoch: value}` schedule changes."""
        points = set(schedule_points(self.value))
        for epoch in sorted(points):
            specs = at_epoch(self.value, epoch, where=self.where, default=[])
            for spec in specs if isinstance(specs, list) else []:
                if isinstance(spec, dict):
                    for option in spec.values():
                        points.update(schedule_points(option))
        return sorted(points)

    def transforms_at(self, epoch: int) -> tuple[Transform, ...]:
        if epoch not in self._cache:
            specs = at_epoch(self.value, epoch, where=self.where, default=[])
            if specs is None:
                specs = []
            if not isinstance(specs, list):
                raise ConfigError(
                    f"{self.where} must be a list of transforms like [{{'type': 'speed', 'factor': [0.9, 1.0, 1.1]}}]"
                    f" (or {{epoch: list}}, or a function of epoch), got {specs!r} for epoch {epoch}"
                )
            self._cache[epoch] = tuple(self._transform(spec, i, epoch) for i, spec in enumerate(specs))
        return self._cache[epoch]

    def _transform(self, spec: Any, i: int, epoch: int) -> Transform:
        where = f"{self.where}[{i}]"
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise ConfigError(f"{where}: a transform is a dict with a 'type' ({', '.join(TRANSFORMS.names())})")
        where = f"{where} ({spec['type']!r}{f', epoch {epoch}' if epoch > 1 else ''})"
        parser = TRANSFORMS.get(spec["type"], where=where)
        options = {k: at_epoch(v, epoch, where=f"{where} option {k!r}") for k, v in spec.items() if k != "type"}
        prob = parse_probability(options.pop("prob", 1.0), where=where)
        return parser(options, AugmentContext(self.sample_rate, where), prob)

    def at(self, epoch: int, *, random_seed: int) -> EpochAugmentation | None:
        """The epoch's augmentation, or None when it has no transforms (nothing to do)."""
        transforms = self.transforms_at(epoch)
        return EpochAugmentation(transforms, random_seed, epoch) if transforms else None
