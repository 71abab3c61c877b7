"""Each transform measured on signals whose answer is known: sines, impulses, white noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqtrain.data.augment.pipeline import Augmentation, EpochAugmentation
from seqtrain.errors import ConfigError, DataError

RATE = 16000


def _sine(freq: float, seconds: float = 1.0, amplitude: float = 0.1) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def _epoch(specs: list[dict], epoch: int = 1, seed: int = 0) -> EpochAugmentation:
    augmentation = Augmentation(specs, sample_rate=RATE, where="test").at(epoch, random_seed=seed)
    assert augmentation is not None
    return augmentation


def _run(specs: list[dict], x: np.ndarray, idx: int = 0) -> np.ndarray:
    augmentation = _epoch(specs)
    drawn = augmentation.draw(idx, len(x))
    out = augmentation.apply(x, drawn, RATE)
    assert len(out) == augmentation.output_length(len(x), drawn) and out.dtype == np.float32
    return out


def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spectrum)])


def _db(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(a, dtype=np.float64)) / np.mean(np.square(b, dtype=np.float64))))


def test_speed_resamples_length_and_pitch_together() -> None:
    x = _sine(500.0)
    out = _run([{"type": "speed", "factor": 1.1}], x)
    assert len(out) == round(len(x) / 1.1)  # 1.1 x as fast: 1/1.1 of the samples
    assert _peak_hz(out) == pytest.approx(550.0, rel=0.01)  # and 10 % higher
    slow = _run([{"type": "speed", "factor": 0.9}], x)
    assert len(slow) == round(len(x) / 0.9) and _peak_hz(slow) == pytest.approx(450.0, rel=0.01)


def test_tempo_keeps_pitch_and_pitch_keeps_length() -> None:
    x = _sine(500.0)
    faster = _run([{"type": "tempo", "factor": 1.25}], x)
    assert len(faster) == round(len(x) / 1.25) and _peak_hz(faster) == pytest.approx(500.0, rel=0.02)
    higher = _run([{"type": "pitch", "semitones": 2.0}], x)
    assert len(higher) == len(x) and _peak_hz(higher) == pytest.approx(500.0 * 2 ** (2 / 12), rel=0.02)


def test_noise_reaches_the_drawn_snr() -> None:
    x = _sine(300.0, 2.0)
    for kind in ("white", "pink", "brown"):
        out = _run([{"type": "noise", "snr_db": 10.0, "kinds": [kind]}], x)
        assert _db(x, out - x) == pytest.approx(10.0, abs=0.01), kind
    pink = _run([{"type": "noise", "snr_db": 0.0, "kinds": ["pink"]}], np.zeros(RATE, np.float32) + x[:RATE])
    white = _run([{"type": "noise", "snr_db": 0.0, "kinds": ["white"]}], x[:RATE])
    low = np.fft.rfftfreq(RATE, 1 / RATE) < 500  # pink noise puts far more of its power below 500 Hz
    share = [np.sum(np.abs(np.fft.rfft(n - x[:RATE]))[low] ** 2) / np.sum(np.abs(np.fft.rfft(n - x[:RATE])) ** 2)
             for n in (pink, white)]  # fmt: skip
    assert share[0] > 5 * share[1]
    silent = np.zeros(1000, np.float32)
    assert np.array_equal(_run([{"type": "noise", "snr_db": 10.0}], silent), silent)  # no SNR to keep


def test_noise_from_recordings_loops_and_resamples(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    recording = (rng.standard_normal(8000) * 0.1).astype(np.float32)  # 1 s at 8 kHz, shorter than the speech
    soundfile.write(tmp_path / "n.wav", recording, 8000, subtype="FLOAT")
    (tmp_path / "noise.jsonl").write_text('{"path": "n.wav"}\n')
    x = _sine(300.0, 2.5)
    out = _run([{"type": "noise", "snr_db": 5.0, "manifest": str(tmp_path / "noise.jsonl")}], x)
    assert _db(x, out - x) == pytest.approx(5.0, abs=0.01)
    listed = _run([{"type": "noise", "snr_db": (0, 20), "files": [str(tmp_path / "n.wav")]}], x, idx=3)
    assert 0 <= _db(x, listed - x) <= 20


def test_gain_band_limit_and_eq() -> None:
    x = _sine(1000.0)
    assert _db(_run([{"type": "gain", "db": 6.0}], x), x) == pytest.approx(6.0, abs=1e-4)
    band = [{"type": "band_limit", "low_hz": 300.0, "high_hz": 3400.0}]
    assert abs(_db(_run(band, x)[4000:], x[4000:])) < 1.0  # in the band: passes
    assert _db(_run(band, _sine(100.0))[4000:], _sine(100.0)[4000:]) < -20  # below: gone
    assert _db(_run(band, _sine(6000.0))[4000:], _sine(6000.0)[4000:]) < -20  # above: gone
    assert _db(_run([{"type": "eq", "gain_db": -6.0}], x), x) == pytest.approx(-6.0, abs=0.05)  # flat curve
    shaped = _epoch([{"type": "eq", "gain_db": (-10, 10), "num_points": 2, "low_hz": 500.0, "high_hz": 4000.0}])
    drawn = shaped.draw(0, RATE)
    low_gain, high_gain = drawn[0]["gains_db"]
    assert _db(shaped.apply(_sine(500.0), drawn, RATE), _sine(500.0)) == pytest.approx(low_gain, abs=0.2)
    assert _db(shaped.apply(_sine(4000.0), drawn, RATE), _sine(4000.0)) == pytest.approx(high_gain, abs=0.2)


def test_reverb_keeps_timing_and_power(tmp_path: Path) -> None:
    x = np.zeros(RATE, np.float32)
    x[1000] = 1.0
    out = _run([{"type": "reverb", "rt60_s": 0.4}], x)
    assert int(np.argmax(np.abs(out))) == 1000  # the direct sound stays where it was
    assert _db(out, x) == pytest.approx(0.0, abs=1e-3)
    tail = np.square(out[1100:], dtype=np.float64)  # RT60 0.4 s: 15 dB less energy per 100 ms
    assert 10 * np.log10(tail[:1600].sum() / tail[1600:3200].sum()) == pytest.approx(15.0, abs=4.0)
    rir = np.zeros(400, np.float32)
    rir[100], rir[300] = 1.0, 0.5  # direct path at 100, one echo 200 samples later
    soundfile.write(tmp_path / "rir.wav", rir, RATE, subtype="FLOAT")
    echoed = _run([{"type": "reverb", "files": [str(tmp_path / "rir.wav")]}], x)
    assert int(np.argmax(np.abs(echoed))) == 1000
    assert echoed[1200] == pytest.approx(0.5 * echoed[1000], rel=1e-4)


def test_prob_zero_never_applies_and_prob_one_always() -> None:
    augmentation = _epoch([{"type": "gain", "db": 6.0, "prob": 0.0}, {"type": "gain", "db": 3.0}])
    assert all(augmentation.draw(i, 100)[0] is None and augmentation.draw(i, 100)[1] for i in range(50))
    half = _epoch([{"type": "gain", "db": 6.0, "prob": 0.5}])
    applied = sum(half.draw(i, 100)[0] is not None for i in range(400))
    assert 150 < applied < 250


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "noise", "snr_db": (30, 5)}, r"snr_db range \(30, 5\) is inverted; give \(low, high\)"),
        ({"type": "noise"}, "needs the option 'snr_db'"),
        ({"type": "noise", "snr_db": 5, "kinds": ["purple"]}, r"kinds \['purple'\] unknown"),
        ({"type": "speed", "factor": 3.0}, r"factor value 3 is outside \[0.5, 2.0\]"),
        ({"type": "speed", "factor": [0.9, "fast"]}, "factor list must hold numbers"),
        ({"type": "speeed", "factor": 1.1}, "unknown augmentation type 'speeed'; did you mean 'speed'"),
        ({"type": "gain", "db": 3, "dbs": 4}, r"unknown option\(s\) \['dbs'\]"),
        ({"type": "gain", "db": 3, "prob": 1.5}, r"prob must be a number in \[0, 1\]"),
        ({"type": "reverb"}, "give recorded room impulse responses"),
        ({"type": "band_limit", "low_hz": 4000, "high_hz": 3000}, "must stay below high_hz"),
        ({"factor": 1.1}, "a transform is a dict with a 'type'"),
    ],
)
def test_bad_options_name_the_transform(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Augmentation([{"type": "gain", "db": 1.0}, spec], sample_rate=RATE, where="dataset 'train'")
    assert "dataset 'train': augment[1]" in str(info.value)


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wav file")
    (tmp_path / "noise.jsonl").write_text('{"path": "n0.wav"}\n{"path": "broken.wav"}\n')
    soundfile.write(tmp_path / "n0.wav", np.zeros(100, np.float32), RATE)
    with pytest.raises(DataError, match=r"noise manifest .*noise.jsonl, line 2: cannot read noise file .*broken.wav"):
        Augmentation([{"type": "noise", "snr_db": 5, "manifest": str(tmp_path / "noise.jsonl")}], sample_rate=RATE,
                     where="d")  # fmt: skip
    (tmp_path / "noise.jsonl").write_text('n0.wav\n{"file": "n0.wav"}\n')  # a plain path line is fine
    with pytest.raises(DataError, match=r'noise manifest .*noise.jsonl, line 2: needs a "path" string'):
        Augmentation([{"type": "noise", "snr_db": 5, "manifest": str(tmp_path / "noise.jsonl")}], sample_rate=RATE,
                     where="d")  # fmt: skip
    with pytest.raises(DataError, match=r"room impulse response file .*missing.wav does not exist"):
        Augmentation([{"type": "reverb", "files": [str(tmp_path / "missing.wav")]}], sample_rate=RATE, where="d")
    with pytest.raises(DataError, match=r"the noise manifest .*nothing.jsonl does not exist"):
        Augmentation([{"type": "noise", "snr_db": 5, "manifest": str(tmp_path / "nothing.jsonl")}], sample_rate=RATE,
                     where="d")  # fmt: skip
    with pytest.raises(ConfigError, match="not both"):
        Augmentation([{"type": "noise", "snr_db": 5, "kinds": ["white"], "files": [str(tmp_path / "n0.wav")]}],
                     sample_rate=RATE, where="d")  # fmt: skip
