"""MBROLA as a fifth training synthesizer (prepare.py --mbrola-share): which utterances it speaks, that what it speaks
is speech shaped by espeak-ng's rate and pitch, the corpus it gives, and its errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.recipes.test_prepare import (  # noqa: F401
    TESTS,
    check_prepared_with_share,
    check_refused_before_anything_is_removed,
    prepare,
    tiny,
    tts_plan,
)
from tests.recipes.test_tts_pico import _f0

tts_render = sys.modules["tts_render"]
needs_mbrola = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or bool(prepare.missing_mbrola_voices()), reason=prepare.MBROLA_INSTALL
)


def test_mbrola_speaks_a_share_of_the_classic_espeak_utterances_and_changes_nothing_but_the_voice() -> None:
    plan = tts_plan.with_festival(tts_plan.with_pico(tts_plan.plan_set("train", 3000), 0.2), 0.1)
    before = [dict(u) for u in plan]
    mixed = tts_plan.with_mbrola(plan, 0.15)
    assert mixed == tts_plan.with_mbrola(plan, 0.15) and plan == before  # deterministic; plan not modified
    mbrola = [u for u in mixed if u["engine"] == "mbrola"]
    classic = sum(u["engine"] == "espeak" for u in plan) // 2  # per task
    for task in tts_plan.TASKS:
        assert sum(u["task"] == task for u in mbrola) == round(0.15 * classic)
    assert {u["voice"] for u in mbrola} == {f"mbrola:{v}" for v in tts_plan.MBROLA_VOICES}
    for old, new in zip(plan, mixed, strict=True):  # espeak-ng still reads the text: rate, pitch, gap stay
        changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        classic = old["engine"] == "espeak" and "espeak_root" not in old
        assert not changed or (changed == {"voice", "engine"} and classic)
    assert tts_plan.with_mbrola(plan, 0.0) == plan
    everything = tts_plan.with_mbrola(plan, 1.0)
    assert [u["engine"] for u in everything if u["engine"] != "mbrola"] == [
        u["engine"] for u in plan if u["engine"] != "espeak"
    ]  # Pico's and Festival's stay theirs
    test_voices = set().union(*(tts_plan.SETS[n].voice_names() for n in TESTS))
    assert not {u["voice"] for u in mbrola} & test_voices
    accented = tts_plan.with_accents(mixed, 1.0)  # drawn accents take espeak-ng's own voices only
    assert [u["engine"] for u in accented] == [u["engine"] for u in mixed]


def test_a_share_outside_zero_to_one_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"MBROLA share must be within \[0, 1\], got -0.1"):
        tts_plan.with_mbrola(tts_plan.plan_set("train", 5), -0.1)
    with pytest.raises(SystemExit):
        prepare.main(["--out", str(tmp_path), "--mbrola-share", "1.2"])
    assert "--mbrola-share is a share of train's espeak-ng utterances within [0, 1], got 1.2" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _mbrola(text: str, voice: str = "mb-us2", rate: int = 160, pitch: int = 50) -> np.ndarray:
    u = {"id": "x", "text": text, "voice": f"mbrola:{voice}", "engine": "mbrola"}
    return tts_render.speech({**u, "rate": rate, "pitch": pitch, "word_gap": 0}, ".")


@needs_mbrola
def test_mbrola_speech_follows_espeak_ngs_rate_and_pitch_in_each_voice() -> None:
    text = "seven three nine oh two and the big brown dog"
    for voice in tts_plan.MBROLA_VOICES:
        normal, fast = _mbrola(text, voice), _mbrola(text, voice, rate=240)
        assert 1.2 < len(normal) / len(fast) < 1.8 and 1.5 < len(normal) / tts_render.SAMPLE_RATE < 4.5, voice
        assert np.abs(normal).max() < 1.0
        low, high = _f0(_mbrola(text, voice, pitch=10)), _f0(_mbrola(text, voice, pitch=90))
        assert 1.3 < high / low < 3.0, (voice, low, high)
    female, male = _f0(_mbrola(text, "mb-us1")), _f0(_mbrola(text, "mb-us2"))
    assert female > 1.4 * male, (female, male)  # us1 is a woman's voice, us2 a man's
    assert _mbrola(text).tolist() == _mbrola(text).tolist()


@needs_mbrola
def test_a_voice_espeak_ng_cannot_find_is_an_error_naming_the_utterance() -> None:
    u = {"id": "train-digits-00007", "text": "one", "voice": "mbrola:mb-xx9", "engine": "mbrola"}
    error = r"mbrola failed for utterance train-digits-00007 \('one'\): .*voice does not exist"
    with pytest.raises(RuntimeError, match=error):
        tts_render.speech({**u, "rate": 160, "pitch": 50, "word_gap": 0}, ".")


@needs_mbrola
def test_prepare_with_mbrola_keeps_dev_and_the_test_sets(tiny: None, tmp_path: Path) -> None:  # noqa: F811
    check_prepared_with_share(tmp_path / "m", "mbrola", "mbrola", min_frames=30)


def test_missing_mbrola_voices_fail_with_the_install_command_before_anything_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "missing_mbrola_voices", lambda: ["mb-us3"])
    install = r"--mbrola-share needs mbrola and its voices; espeak-ng cannot speak with \['mb-us3'\]; .*nonfree_voices"
    check_refused_before_anything_is_removed(tmp_path, "mbrola", install)


def test_every_mbrola_voice_is_missing_without_the_mbrola_program(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert prepare.missing_mbrola_voices() == list(tts_plan.MBROLA_VOICES)
