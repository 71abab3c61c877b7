"""Augmentation per epoch: seeded per (random_seed, epoch, sequence), scheduled like any key, checked up front."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.augment.pipeline import Augmentation
from seqtrain.errors import ConfigError

RATE = 16000
SPECS = [{"type": "speed", "factor": (0.9, 1.1)}, {"type": "noise", "snr_db": (5, 20), "prob": 0.5}]


def _apply(value, *, epoch: int, seed: int, idx: int, x: np.ndarray) -> np.ndarray:
    augmentation = Augmentation(value, sample_rate=RATE, where="d").at(epoch, random_seed=seed)
    assert augmentation is not None
    return augmentation.apply(x, augmentation.draw(idx, len(x)), RATE)


def test_draws_depend_on_seed_epoch_and_sequence_only() -> None:
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    same = [_apply(SPECS, epoch=2, seed=7, idx=3, x=x) for _ in range(2)]
    assert np.array_equal(same[0], same[1])  # a new object (a resumed run, another worker): the same result
    for other in (
        {"epoch": 3, "seed": 7, "idx": 3},
        {"epoch": 2, "seed": 8, "idx": 3},
        {"epoch": 2, "seed": 7, "idx": 4},
    ):
        changed = _apply(SPECS, x=x, **other)
        assert len(changed) != len(same[0]) or not np.array_equal(changed, same[0]), other


def test_a_transforms_draws_do_not_move_when_another_changes() -> None:
    base = Augmentation(SPECS, sample_rate=RATE, where="d").at(1, random_seed=0)
    other = Augmentation([SPECS[0], {**SPECS[1], "prob": 1.0}], sample_rate=RATE, where="d").at(1, random_seed=0)
    assert base is not None and other is not None
    assert [base.draw(i, 1000)[0] for i in range(20)] == [other.draw(i, 1000)[0] for i in range(20)]
    appended = Augmentation([*SPECS, {"type": "gain", "db": (-3, 3)}], sample_rate=RATE, where="d").at(1, random_seed=0)
    assert appended is not None  # one added at the end leaves the draws before it alone
    assert [base.draw(i, 1000) for i in range(20)] == [appended.draw(i, 1000)[:2] for i in range(20)]


def test_whole_list_and_single_options_are_scheduled_per_epoch() -> None:
    scheduled = Augmentation({1: [], 3: SPECS}, sample_rate=RATE, where="d")
    assert scheduled.at(1, random_seed=0) is None and scheduled.at(2, random_seed=0) is None  # off until epoch 3
    assert len(scheduled.at(3, random_seed=0).transforms) == 2
    prob = Augmentation([{"type": "gain", "db": 6.0, "prob": {1: 0.0, 4: 1.0}}], sample_rate=RATE, where="d")
    assert prob.at(3, random_seed=0).draw(0, 10) == (None,) and prob.at(4, random_seed=0).draw(0, 10) == ({"db": 6.0},)
    by_function = Augmentation(
        [{"type": "speed", "factor": lambda epoch: [1.0] if epoch < 2 else [0.9, 1.1]}], sample_rate=RATE, where="d"
    )
    assert by_function.at(1, random_seed=0).transforms[0].factor.choices == (1.0,)
    assert by_function.at(5, random_seed=0).transforms[0].factor.choices == (0.9, 1.1)


def test_a_bad_scheduled_value_fails_when_the_dataset_is_built() -> None:
    with pytest.raises(ConfigError, match=r"augment\[0\] \('noise', epoch 5\): snr_db range \(20, 5\) is inverted"):
        Augmentation([{"type": "noise", "snr_db": {1: (5, 20), 5: (20, 5)}}], sample_rate=RATE, where="d")
    with pytest.raises(ConfigError, match="must be a list of transforms"):
        Augmentation({1: [], 2: {"type": "gain", "db": 1}}, sample_rate=RATE, where="d")
    late = Augmentation(
        [{"type": "gain", "db": lambda epoch: (6, 0) if epoch > 2 else 1.0}], sample_rate=RATE, where="d"
    )
    with pytest.raises(
        ConfigError, match=r"epoch 3\): db range \(6, 0\) is inverted"
    ):  # functions: when their epoch comes
        late.at(3, random_seed=0)
