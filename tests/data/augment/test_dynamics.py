"""dynamics measured on a signal of known levels: a loud and a quiet tone, silence between them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from seqtrain.data.augment.dynamics import level_gain_db
from seqtrain.data.augment.pipeline import Augmentation
from seqtrain.errors import ConfigError

RATE = 16000


def _tone(seconds: float, db: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (10 ** (db / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _loud_quiet_silence() -> np.ndarray:
    """0.5 s at -10 dB, 0.3 s at -30 dB, 0.2 s of digital silence, 0.5 s at -10 dB again (RMS, full scale 1)."""
    return np.concatenate([_tone(0.5, -10), _tone(0.3, -30), np.zeros(int(0.2 * RATE), np.float32), _tone(0.5, -10)])


def _apply(spec: dict, x: np.ndarray) -> np.ndarray:
    epoch = Augmentation([spec], sample_rate=RATE, where="test").at(1, random_seed=0)
    assert epoch is not None
    out = epoch.apply(x, epoch.draw(0, len(x)), RATE)
    assert out.shape == x.shape and out.dtype == np.float32
    return out


def _rms_db(x: np.ndarray, start_s: float, end_s: float) -> float:
    part = x[int(start_s * RATE) : int(end_s * RATE)].astype(np.float64)
    return float(10 * np.log10(np.mean(part**2)))


@pytest.mark.parametrize("ratio, quiet_below_loud_db", [(1.5, 30.0), (0.5, 10.0), (1.0, 20.0)])
def test_ratio_scales_how_far_the_quiet_part_lies_below_the_loud(ratio: float, quiet_below_loud_db: float) -> None:
    out = _apply({"type": "dynamics", "ratio": ratio}, _loud_quiet_silence())
    loud, quiet = _rms_db(out, 0.1, 0.4), _rms_db(out, 0.55, 0.75)  # away from the smoothed transitions
    assert loud == pytest.approx(-10.0, abs=0.2)  # the loud level stays where it was
    assert loud - quiet == pytest.approx(quiet_below_loud_db, abs=0.5)


def test_silence_stays_silent_and_levels_below_the_range_move_as_its_floor() -> None:
    x = _loud_quiet_silence()
    out = _apply({"type": "dynamics", "ratio": 0.5, "range_db": 10.0}, x)
    assert not out[int(0.85 * RATE) : int(0.95 * RATE)].any()
    # the quiet tone lies 20 dB down, beyond the 10 dB range: it gets the floor's gain, (1 - 0.5) * 10 = +5 dB
    assert _rms_db(out, 0.55, 0.75) == pytest.approx(-25.0, abs=0.3)
    assert np.array_equal(_apply({"type": "dynamics", "ratio": 2.0}, np.zeros(800, np.float32)), np.zeros(800))


def test_the_gain_ramps_between_frames_instead_of_stepping() -> None:
    x = _loud_quiet_silence()
    gain = level_gain_db(x, RATE, ratio=2.0, range_db=40.0)
    # the quiet tone gets -20 dB, the silence the floor's -40 dB; each change is spread over at least one 10 ms hop
    # (160 samples): never a step, which would click
    assert gain[int(0.65 * RATE)] == pytest.approx(-20.0, abs=0.2)
    assert np.abs(np.diff(gain)).max() <= 40.0 / 160 + 1e-6


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"type": "dynamics"}, "needs the option 'ratio'"),
        ({"type": "dynamics", "ratio": (2.0, 1.0)}, "inverted"),
        ({"type": "dynamics", "ratio": 0.0}, "outside"),
        ({"type": "dynamics", "ratio": 1.2, "range_db": -3}, "range_db must be a number in (0, 100]"),
        ({"type": "dynamics", "ratio": 1.2, "attack": 3}, "unknown option(s) ['attack']"),
    ],
)
def test_bad_options_name_the_problem(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"test.*{re.escape(message)}"):
        Augmentation([spec], sample_rate=RATE, where="test")
