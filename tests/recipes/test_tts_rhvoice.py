"""RHVoice as a sixth training synthesizer (prepare.py --rhvoice-share): which utterances it speaks and in which voices
(never a flite speaker's), that what it speaks follows its rate and pitch, the corpus it gives, and its errors."""

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
needs_rhvoice = pytest.mark.skipif(bool(prepare.missing_rhvoice_voices()), reason=prepare.RHVOICE_INSTALL)


def _mixed_plan() -> list[dict]:
    return tts_plan.with_mbrola(tts_plan.with_pico(tts_plan.plan_set("train", 3000), 0.2), 0.15)


def test_rhvoice_speaks_a_share_of_the_classic_espeak_utterances_left_and_changes_only_the_voice() -> None:
    plan = _mixed_plan()
    before = [dict(u) for u in plan]
    mixed = tts_plan.with_rhvoice(plan, 0.15)
    assert mixed == tts_plan.with_rhvoice(plan, 0.15) and plan == before  # deterministic; plan not modified
    rhvoice = [u for u in mixed if u["engine"] == "rhvoice"]
    classic = sum(u["engine"] == "espeak" for u in plan) // 2  # per task
    for task in tts_plan.TASKS:
        assert sum(u["task"] == task for u in rhvoice) == round(0.15 * classic)
    assert {u["voice"] for u in rhvoice} == {f"rhvoice:{v}" for v in tts_plan.RHVOICE_VOICES}
    for old, new in zip(plan, mixed, strict=True):  # espeak-ng's options give way to RHVoice's; the rest stays
        changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        if new["engine"] == "rhvoice":
            assert old["engine"] == "espeak" and "espeak_root" not in old
            # pitch is both engines' key (espeak-ng's 30-70 and RHVoice's 65-125 %), the same number by chance
            assert (
                {"voice", "engine", "speed", "rate", "word_gap"}
                <= changed
                <= {"voice", "engine", "speed", "rate", "word_gap", "pitch"}
            )
            assert "rate" not in new and "word_gap" not in new
            assert 75 <= new["speed"] <= 125 and 65 <= new["pitch"] <= 125
        else:
            assert not changed
    assert [u["engine"] for u in tts_plan.with_rhvoice(plan, 1.0) if u["engine"] != "rhvoice"] == [
        u["engine"] for u in plan if u["engine"] != "espeak"
    ]  # Pico's and MBROLA's stay theirs
    assert tts_plan.with_rhvoice(plan, 0.0) == plan


def test_no_rhvoice_voice_is_a_flite_speaker_or_a_test_voice() -> None:
    """RHVoice's alan is CMU ARCTIC's awb and its slt ARCTIC's slt: flite's awb and slt speak those speakers."""
    assert not {"alan", "slt", "awb", "rms"} & set(tts_plan.RHVOICE_VOICES)
    test_voices = set().union(*(tts_plan.SETS[n].voice_names() for n in TESTS))
    assert not {f"rhvoice:{v}" for v in tts_plan.RHVOICE_VOICES} & test_voices


def test_a_share_outside_zero_to_one_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"RHVoice share must be within \[0, 1\], got 1.5"):
        tts_plan.with_rhvoice(tts_plan.plan_set("train", 5), 1.5)
    with pytest.raises(SystemExit):
        prepare.main(["--out", str(tmp_path), "--rhvoice-share", "-0.2"])
    err = capsys.readouterr().err
    assert "--rhvoice-share is a share of train's espeak-ng utterances within [0, 1], got -0.2" in err
    assert not any(tmp_path.iterdir())


def _rhvoice(text: str, voice: str = "bdl", speed: int = 100, pitch: int = 100) -> np.ndarray:
    u = {"id": "x", "text": text, "voice": f"rhvoice:{voice}", "engine": "rhvoice"}
    return tts_render.speech({**u, "speed": speed, "pitch": pitch}, ".")


@needs_rhvoice
def test_rhvoice_speech_follows_its_speed_and_pitch_in_each_voice() -> None:
    text = "seven three nine oh two and the big brown dog"
    for voice in tts_plan.RHVOICE_VOICES:
        slow, fast = _rhvoice(text, voice, speed=75), _rhvoice(text, voice, speed=125)
        assert 1.4 < len(slow) / len(fast) < 1.9 and 1.5 < len(slow) / tts_render.SAMPLE_RATE < 6.0, voice
        assert np.abs(slow).max() < 1.0
        low, high = _f0(_rhvoice(text, voice, pitch=70)), _f0(_rhvoice(text, voice, pitch=125))
        assert 1.5 < high / low < 2.1, (voice, low, high)  # 125 / 70 = 1.79 (clb below 69 %: with_rhvoice)
    for female, male in (("clb", "bdl"), ("lyubov", "evgeniy-eng")):
        assert _f0(_rhvoice(text, female)) > 1.3 * _f0(_rhvoice(text, male)), (female, male)
    assert _rhvoice(text).tolist() == _rhvoice(text).tolist()


@needs_rhvoice
def test_every_rhvoice_voice_is_installed_and_unlike_the_fallback_voice() -> None:
    """RHVoice-test speaks an unknown voice in its default one and exits 0: the check must see through that."""
    assert prepare.missing_rhvoice_voices() == []
    fallback = prepare.rhvoice_speech("no-such-voice")
    assert len(fallback) > 1000 and all(prepare.rhvoice_speech(v) != fallback for v in tts_plan.RHVOICE_VOICES)


@needs_rhvoice
def test_prepare_with_rhvoice_keeps_dev_and_the_test_sets(tiny: None, tmp_path: Path) -> None:  # noqa: F811
    check_prepared_with_share(tmp_path / "r", "rhvoice", "rhvoice", min_frames=30)


def test_missing_rhvoice_voices_fail_with_the_install_command_before_anything_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "missing_rhvoice_voices", lambda: ["lyubov"])
    install = r"--rhvoice-share needs RHVoice-test and the English voices \['lyubov'\]; .*install_nonfree_voices"
    check_refused_before_anything_is_removed(tmp_path, "rhvoice", install)


def test_every_rhvoice_voice_is_missing_without_the_program(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert prepare.missing_rhvoice_voices() == list(tts_plan.RHVOICE_VOICES)
