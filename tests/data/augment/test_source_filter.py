"""formant_bandwidth and breathiness measured on synthetic vowels whose resonances are known: noise and pulses
through an all-pole filter with given formant frequencies and bandwidths."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.signal

from seqtrain.data.augment.pipeline import Augmentation
from seqtrain.data.augment.source_filter import levinson_durbin
from seqtrain.errors import ConfigError

RATE = 16000
FORMANTS = ((700.0, 60.0), (1200.0, 80.0), (2600.0, 100.0))  # (Hz, bandwidth Hz): a narrow, synthetic /a/


def _vowel_filter(formants: tuple[tuple[float, float], ...]) -> np.ndarray:
    """A(z) whose pole pairs have the given frequencies and 3-dB bandwidths."""
    poly = np.array([1.0])
    for freq, bandwidth in formants:
        radius = np.exp(-np.pi * bandwidth / RATE)
        poly = np.convolve(poly, [1.0, -2 * radius * np.cos(2 * np.pi * freq / RATE), radius**2])
    return poly


def _vowel(excitation: np.ndarray) -> np.ndarray:
    out = scipy.signal.lfilter([1.0], _vowel_filter(FORMANTS), excitation)
    return (0.1 * out / np.abs(out).max()).astype(np.float32)


def _envelope_db(x: np.ndarray) -> np.ndarray:
    """Welch's power spectrum in dB over 200-4000 Hz, mean removed (white-noise excitation: the filter's shape)."""
    freqs, power = scipy.signal.welch(x.astype(np.float64), RATE, nperseg=1024)
    db = 10 * np.log10(power[(freqs >= 200) & (freqs <= 4000)])
    return db - db.mean()


def _filter_db(formants: tuple[tuple[float, float], ...]) -> np.ndarray:
    freqs = np.fft.rfftfreq(1024, 1 / RATE)
    db = -20 * np.log10(np.abs(np.fft.rfft(_vowel_filter(formants), 1024)))[(freqs >= 200) & (freqs <= 4000)]
    return db - db.mean()


def _widen(x: np.ndarray, widen_hz: float) -> np.ndarray:
    return _apply({"type": "formant_bandwidth", "widen_hz": widen_hz}, x)


def _apply(spec: dict, x: np.ndarray, idx: int = 0) -> np.ndarray:
    epoch = Augmentation([spec], sample_rate=RATE, where="test").at(1, random_seed=0)
    assert epoch is not None
    drawn = epoch.draw(idx, len(x))
    out = epoch.apply(x, drawn, RATE)
    assert out.shape == x.shape and out.dtype == np.float32
    return out


def test_levinson_durbin_solves_the_normal_equations() -> None:
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((5, 400)).cumsum(axis=1)  # coloured: far from a trivial solution
    r = np.stack([np.correlate(s, s, "full")[399 : 399 + 11] for s in signals])
    lpc = levinson_durbin(r, 10)
    assert np.all(lpc[:, 0] == 1.0)
    for row, coefficients in zip(r, lpc, strict=True):
        np.testing.assert_allclose(coefficients[1:], scipy.linalg.solve_toeplitz(row[:-1], -row[1:]), rtol=1e-8)


def test_every_formant_gets_wider_by_the_drawn_hz_at_its_frequency() -> None:
    x = _vowel(np.random.default_rng(1).standard_normal(2 * RATE))
    out = _widen(x, 200.0)

    def distance_db(signal: np.ndarray, widen_hz: float) -> float:
        """RMS dB between the signal's spectrum and the vowel filter with every bandwidth `widen_hz` Hz wider."""
        target = _filter_db(tuple((freq, bandwidth + widen_hz) for freq, bandwidth in FORMANTS))
        return float(np.sqrt(np.mean((_envelope_db(signal) - target) ** 2)))

    assert distance_db(x, 0.0) < 1.0 and distance_db(x, 200.0) > 2.5  # the measurement reads the input's filter
    assert distance_db(out, 200.0) < 1.0  # the output has the same formants, each 200 Hz wider:
    assert distance_db(out, 200.0) < min(distance_db(out, 100.0), distance_db(out, 300.0))  # not 100 nor 300
    assert _db(out, x) == pytest.approx(0.0, abs=0.5)  # at the same energy


def _voiced_vowel() -> np.ndarray:
    """A 125 Hz pulse train through the vowel filter, between quarter seconds of digital silence."""
    pulses = np.zeros(RATE)
    pulses[:: RATE // 125] = 1.0
    return np.concatenate([np.zeros(RATE // 4, np.float32), _vowel(pulses), np.zeros(RATE // 4, np.float32)])


def _periodicity(x: np.ndarray) -> float:
    """Normalized autocorrelation of the voiced middle at the 125 Hz pitch period: 1 for a perfectly periodic voice."""
    voiced = x[RATE // 4 + 2000 : RATE // 4 + RATE - 2000].astype(np.float64)
    return float(np.dot(voiced[: -RATE // 125], voiced[RATE // 125 :]) / np.dot(voiced, voiced))


def test_pitch_and_silence_are_kept() -> None:
    x = _voiced_vowel()
    out = _widen(x, 300.0)
    assert np.all(out[: RATE // 8] == 0) and np.all(out[-RATE // 8 :] == 0)  # digital silence stays silence
    voiced = out[RATE // 4 + 2000 : RATE // 4 + RATE - 2000].astype(np.float64)
    lags = np.correlate(voiced, voiced, "full")[len(voiced) - 1 :]
    assert 40 + int(np.argmax(lags[40:400])) == RATE // 125  # the excitation (pitch period) is untouched
    np.testing.assert_array_equal(_widen(x, 0.0), x)  # widen_hz 0: the input itself


def test_breathiness_fills_the_harmonics_with_noise_under_the_same_formants() -> None:
    x = _voiced_vowel()
    assert _periodicity(x) > 0.95
    half = _apply({"type": "breathiness", "noise_ratio": 0.5}, x)
    assert _periodicity(half) == pytest.approx(0.5 * _periodicity(x), abs=0.1)  # half the power is now aspiration
    assert _periodicity(_apply({"type": "breathiness", "noise_ratio": 1.0}, x)) < 0.1  # all of it: whispered
    assert _db(half, x) == pytest.approx(0.0, abs=0.5)
    assert np.all(half[: RATE // 8] == 0) and np.all(half[-RATE // 8 :] == 0)

    def smooth_envelope_db(signal: np.ndarray) -> np.ndarray:  # 250 Hz resolution: above the harmonics' spacing
        freqs, power = scipy.signal.welch(signal[RATE // 4 : -RATE // 4].astype(np.float64), RATE, nperseg=64)
        return 10 * np.log10(power[freqs >= 200])  # above the voice's fundamental

    audible = smooth_envelope_db(x) > smooth_envelope_db(x).max() - 40  # the fit's noise floor is at -40 dB
    assert audible.sum() >= 10  # up to about 3 kHz: all three formants
    assert np.abs(smooth_envelope_db(half) - smooth_envelope_db(x))[audible].max() < 2.0  # the formants stay
    assert np.array_equal(_apply({"type": "breathiness", "noise_ratio": 0.5}, x, idx=3),
                          _apply({"type": "breathiness", "noise_ratio": 0.5}, x, idx=3))  # fmt: skip
    assert not np.array_equal(half, _apply({"type": "breathiness", "noise_ratio": 0.5}, x, idx=3))  # noise per seq
    np.testing.assert_array_equal(_apply({"type": "breathiness", "noise_ratio": 0.0}, x), x)


@pytest.mark.parametrize("length", [0, 1, 100, 511, 512, 513])
def test_utterances_shorter_than_a_frame_keep_their_length(length: int) -> None:
    x = (0.1 * np.random.default_rng(2).standard_normal(length)).astype(np.float32)
    for spec in ({"type": "formant_bandwidth", "widen_hz": 200.0}, {"type": "breathiness", "noise_ratio": 0.5}):
        out = _apply(spec, x)
        assert np.all(np.isfinite(out))
        if length >= 100:  # a few milliseconds of sound keep their energy
            assert _db(out, x) == pytest.approx(0.0, abs=3.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"widen_hz": (300, 100)}, r"widen_hz range \(300, 100\) is inverted"),
        ({"widen_hz": -10}, r"widen_hz value -10 is outside \[0, 2000\]"),
        ({}, "needs the option 'widen_hz'"),
        ({"widen_hz": 100, "order": 1}, r"order must be an int in \[2, 64\]"),
        ({"widen_hz": 100, "order": 12.0}, r"order must be an int in \[2, 64\]"),
        ({"widen_hz": 100, "bandwidth": 3}, r"unknown option\(s\) \['bandwidth'\]"),
        ({"type": "breathiness", "noise_ratio": (0.2, 1.5)}, r"noise_ratio value 1.5 is outside \[0, 1\]"),
        ({"type": "breathiness"}, "needs the option 'noise_ratio'"),
        ({"type": "breathiness", "noise_ratio": 0.3, "order": True}, r"order must be an int in \[2, 64\]"),
    ],
)
def test_bad_options_name_the_transform(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Augmentation([{"type": "formant_bandwidth", **options}], sample_rate=RATE, where="dataset 'train'")
    assert "dataset 'train': augment[0]" in str(info.value)


def _db(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(a, dtype=np.float64)) / np.mean(np.square(b, dtype=np.float64))))
