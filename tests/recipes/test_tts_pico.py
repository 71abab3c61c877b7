"""SVOX Pico as a third training synthesizer (prepare.py --pico-share): which utterances it speaks, that what it
speaks is speech shaped by its options, and the corpus it gives."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from seqtrain.data.hdf import HDFDataset
from tests.recipes.test_prepare import TESTS, prepare, tiny, tts_plan  # noqa: F401  (tiny is a fixture)

tts_render = sys.modules["tts_render"]


def test_pico_speaks_the_share_of_each_task_and_changes_nothing_but_the_synthesizer() -> None:
    plan = tts_plan.plan_set("train", 3000)
    mixed = tts_plan.with_pico(plan, 0.2)
    assert mixed == tts_plan.with_pico(plan, 0.2) and plan == tts_plan.plan_set("train", 3000)  # plan not modified
    pico = [u for u in mixed if u["engine"] == "pico"]
    for task in tts_plan.TASKS:
        assert sum(u["task"] == task for u in pico) == 600
    assert {u["voice"] for u in pico} == {f"pico:{v}" for v in tts_plan.PICO_VOICES}
    assert all(75 <= u["speed"] <= 120 and 60 <= u["pitch"] <= 140 for u in pico)
    assert not any(k in u for u in pico for k in ("rate", "word_gap", "espeak_root"))  # espeak-ng's options gone
    assert len({u["speed"] for u in pico}) > 40 and len({u["pitch"] for u in pico}) > 70
    kept = ("id", "text", "task", "snr_db", "noise", "level_dbfs", "lead_s", "trail_s", "noise_seed")
    for before, after in zip(plan, mixed, strict=True):
        assert all(before[k] == after[k] for k in kept)
        assert after == before or after["engine"] == "pico"
    assert tts_plan.with_pico(plan, 0.0) == plan
    assert all(u["engine"] == "pico" for u in tts_plan.with_pico(plan, 1.0))
    test_voices = set().union(*(tts_plan.SETS[n].voice_names() for n in TESTS))
    assert not {u["voice"] for u in pico} & test_voices


def test_a_share_outside_zero_to_one_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"within \[0, 1\], got 1.5"):
        tts_plan.with_pico(tts_plan.plan_set("train", 5), 1.5)
    with pytest.raises(SystemExit):
        prepare.main(["--out", str(tmp_path), "--pico-share", "-0.1"])
    assert "--pico-share is a share of train's utterances within [0, 1], got -0.1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _pico(text: str, speed: int = 100, pitch: int = 100, voice: str = "en-US") -> np.ndarray:
    u = {"id": "x", "text": text, "voice": f"pico:{voice}", "engine": "pico", "speed": speed, "pitch": pitch}
    return tts_render.speech(u, ".")


def _f0(x: np.ndarray) -> float:
    """The median pitch in Hz of the voiced 40 ms frames (autocorrelation peak within 60-400 Hz)."""
    sr, n = tts_render.SAMPLE_RATE, 640
    f0s = []
    for start in range(0, len(x) - n, n // 2):
        frame = x[start : start + n] - x[start : start + n].mean()
        ac = np.correlate(frame, frame, "full")[n - 1 :]
        lags = np.arange(sr // 400, sr // 60)
        best = lags[np.argmax(ac[lags])]
        if ac[best] > 0.5 * ac[0]:
            f0s.append(sr / best)
    return float(np.median(f0s))


def test_pico_speech_follows_its_speed_and_pitch_and_does_not_clip() -> None:
    pytest.importorskip("ttspico", reason='pip install -e ".[tts]" (prepare.py --pico-share)')
    text = "seven three nine oh two and the big brown dog"
    for voice in tts_plan.PICO_VOICES:
        normal, slow, fast = (_pico(text, speed, voice=voice) for speed in (100, 75, 120))
        assert 1.2 < len(slow) / len(normal) < 1.45 and 0.75 < len(fast) / len(normal) < 0.9, voice
        assert 1.5 < len(normal) / tts_render.SAMPLE_RATE < 4.0
        assert np.abs(normal).max() < 0.95 and np.abs(_pico(text, 75, 60, voice)).max() < 0.95  # no clipping
        low, high = _f0(_pico(text, pitch=60, voice=voice)), _f0(_pico(text, pitch=140, voice=voice))
        assert 2.0 < high / low < 2.7, (voice, low, high)  # 140 / 60 = 2.33
    assert _pico(text).tolist() == _pico(text).tolist()  # the same samples every time: a new engine each


def test_prepare_with_pico_keeps_dev_and_the_test_sets(tiny: None, tmp_path: Path) -> None:  # noqa: F811
    pytest.importorskip("ttspico", reason='pip install -e ".[tts]" (prepare.py --pico-share)')
    assert prepare.main(["--out", str(tmp_path / "p"), "--pico-share", "0.5"]) == 0  # implies --synthesize
    done = json.loads((tmp_path / "p" / "done.json").read_text())
    assert done["pico_share"] == 0.5 and done["source"] == "espeak-ng" and "train" in done["audio"]
    rows = prepare.read_manifest(tmp_path / "p" / "train.jsonl")
    assert [r["engine"] for r in rows].count("pico") == 2  # one of each task's two
    assert all((tmp_path / "p" / r["path"]).is_file() for r in rows)
    prepare.synthesize(tmp_path / "q", ("train", "dev", *TESTS), small=True, jobs=1, pico_share=0.5)
    for name in ("train", "dev", *TESTS):  # the same corpus from one worker: Pico's audio does not depend on jobs
        assert (tmp_path / "p" / f"{name}.jsonl").read_text() == (tmp_path / "q" / f"{name}.jsonl").read_text()
        a, b = (HDFDataset([str(tmp_path / d / f"{name}.hdf")]) for d in "pq")
        assert all(np.array_equal(a.get_seq(i)["data"], b.get_seq(i)["data"]) for i in range(a.num_seqs))
    prepare.synthesize(tmp_path / "r", ("dev", *TESTS), small=True, jobs=1)  # and without Pico: the same sets
    for name in ("dev", *TESTS):
        assert (tmp_path / "p" / f"{name}.jsonl").read_text() == (tmp_path / "r" / f"{name}.jsonl").read_text()
    assert prepare.reusable(tmp_path / "p", prepare.parse_args(["--out", str(tmp_path / "p"), "--pico-share", "0.5"]))
    assert prepare.reusable(tmp_path / "p", prepare.parse_args(["--out", str(tmp_path / "p"), "--synthesize"])) is None


def test_a_missing_pico_binding_fails_with_the_install_command_before_anything_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keep.txt").write_text("a user's file")
    monkeypatch.setitem(sys.modules, "ttspico", None)  # import ttspico raises ImportError
    install = r"--pico-share needs SVOX Pico's Python binding .* pip install -e \"\.\[tts\]\"  \(ttspico"
    with pytest.raises(SystemExit, match=install):
        prepare.main(["--out", str(tmp_path), "--pico-share", "0.2"])
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_silence_from_pico_is_an_error_naming_the_utterance(monkeypatch: pytest.MonkeyPatch) -> None:
    ttspico = pytest.importorskip("ttspico", reason='pip install -e ".[tts]" (prepare.py --pico-share)')
    monkeypatch.setattr(ttspico.TtsEngine, "speak", lambda self, text: None)
    u = {"id": "train-digits-00006", "text": "one", "voice": "pico:en-GB", "engine": "pico", "speed": 90, "pitch": 80}
    with pytest.raises(RuntimeError, match=r"SVOX Pico said nothing for utterance train-digits-00006 \('one'\)"):
        tts_render.speech(u, ".")
