"""vocoder measured on synthetic vowels with known pitch and formants: the new pitch, the same envelope, the source
chosen by each frame's voicing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from seqtrain.data.augment.pipeline import Augmentation
from seqtrain.data.augment.vocoder import frame_voicing, pulse_train
from seqtrain.errors import ConfigError
from tests.data.augment.test_source_filter import RATE, _apply, _db, _voiced_vowel, _vowel


def _voc(x: np.ndarray, f0_hz: float, idx: int = 0) -> np.ndarray:
    return _apply({"type": "vocoder", "f0_hz": f0_hz}, x, idx)


def _pitch_lag(x: np.ndarray) -> int:
    """The autocorrelation's strongest lag in 2.5-14 ms (70-400 Hz) over 0.2 s at the signal's centre."""
    centre = len(x) // 2
    part = x[centre - RATE // 10 : centre + RATE // 10].astype(np.float64)
    lags = np.correlate(part, part, "full")[len(part) - 1 :]
    return 40 + int(np.argmax(lags[40:229]))


def _periodicity_at(x: np.ndarray, lag: int) -> float:
    middle = x[RATE // 4 + 2000 : -RATE // 4 - 2000].astype(np.float64)
    return float(np.dot(middle[:-lag], middle[lag:]) / np.dot(middle, middle))


def test_pulse_train_falls_from_1_1_to_0_9_times_f0() -> None:
    pulses = pulse_train(RATE, 100.0, RATE)  # one second: 110 Hz down to 90 Hz, 100 periods on average
    starts = np.flatnonzero(pulses)
    assert len(starts) == pytest.approx(100, abs=1)
    assert RATE / np.diff(starts[:5]).mean() == pytest.approx(110, rel=0.02)
    assert RATE / np.diff(starts[-5:]).mean() == pytest.approx(90, rel=0.02)


def test_voicing_tells_pulses_from_noise() -> None:
    voiced = frame_voicing(_voiced_vowel(), RATE, 18)
    whispered = frame_voicing(_vowel(np.random.default_rng(3).standard_normal(RATE)), RATE, 18)
    middle = slice(len(voiced) // 2 - 10, len(voiced) // 2 + 10)  # frames well inside the vowel
    assert voiced[middle].min() == 1.0
    assert np.median(whispered) < 0.1
    assert np.all(frame_voicing(np.zeros(RATE, np.float32), RATE, 18) == 0.0)  # silence is not voiced


def test_voiced_speech_gets_the_drawn_pitch_and_keeps_its_formants_and_energy() -> None:
    x = _voiced_vowel()  # 125 Hz
    assert _pitch_lag(x) == RATE // 125
    out = _voc(x, 200.0)
    assert _pitch_lag(out) == pytest.approx(RATE / 200, abs=2)  # the centre of a 1.1 -> 0.9 declination
    assert _periodicity_at(out, RATE // 125) < 0.5 < _periodicity_at(out, _pitch_lag(out))  # the old pitch is gone

    def smooth_envelope_db(signal: np.ndarray) -> np.ndarray:  # 250 Hz resolution: above the harmonics' spacing
        freqs, power = scipy.signal.welch(signal[RATE // 4 : -RATE // 4].astype(np.float64), RATE, nperseg=64)
        return 10 * np.log10(power[(freqs >= 250) & (freqs <= 3000)])

    assert np.abs(smooth_envelope_db(out) - smooth_envelope_db(x)).max() < 3.0  # the same formants
    assert _db(out, x) == pytest.approx(0.0, abs=0.5)
    assert np.all(out[: RATE // 8] == 0) and np.all(out[-RATE // 8 :] == 0)  # digital silence stays silence


def test_unvoiced_speech_stays_noise() -> None:
    whisper = _vowel(np.random.default_rng(4).standard_normal(RATE))
    x = np.concatenate([np.zeros(RATE // 4), whisper, np.zeros(RATE // 4)]).astype(np.float32)
    out = _voc(x, 150.0)

    def pulse_periodicity(signal: np.ndarray) -> float:  # at the pulses' periods, 165 Hz down to 135 Hz
        return max(_periodicity_at(signal, lag) for lag in range(95, 121))

    assert pulse_periodicity(out) < 0.2  # no pulses were put into a whisper
    assert pulse_periodicity(_voc(_voiced_vowel(), 150.0)) > 0.5  # where a voiced vowel gets them
    # each frame keeps its energy; overlapping frames of new noise add up a little weaker than the old ones did
    assert _db(out, x) == pytest.approx(0.0, abs=1.0)


def test_each_sequence_draws_its_own_source() -> None:
    x = _voiced_vowel()
    spec = {"type": "vocoder", "f0_hz": (80.0, 250.0)}
    assert np.array_equal(_apply(spec, x, idx=3), _apply(spec, x, idx=3))
    assert _pitch_lag(_apply(spec, x, idx=3)) != _pitch_lag(_apply(spec, x, idx=5))


@pytest.mark.parametrize("length", [0, 1, 100, 511, 512, 513])
def test_utterances_shorter_than_a_frame_keep_their_length(length: int) -> None:
    x = (0.1 * np.random.default_rng(2).standard_normal(length)).astype(np.float32)
    out = _voc(x, 120.0)
    assert np.all(np.isfinite(out))
    if length >= 100:
        assert _db(out, x) == pytest.approx(0.0, abs=3.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"f0_hz": (250, 80)}, r"f0_hz range \(250, 80\) is inverted"),
        ({"f0_hz": 20}, r"f0_hz value 20 is outside \[40, 500\]"),
        ({}, "needs the option 'f0_hz'"),
        ({"f0_hz": 120, "order": 80}, r"order must be an int in \[2, 64\]"),
        ({"f0_hz": 120, "pitch": 3}, r"unknown option\(s\) \['pitch'\]"),
    ],
)
def test_bad_options_name_the_transform(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Augmentation([{"type": "vocoder", **options}], sample_rate=RATE, where="dataset 'train'")
    assert "dataset 'train': augment[0]" in str(info.value)
