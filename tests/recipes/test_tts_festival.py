"""Festival as a fourth training synthesizer (prepare.py --festival-share): which utterances it speaks, that what it
speaks is speech shaped by its options, the corpus it gives, and its errors."""

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
needs_festival = pytest.mark.skipif(
    not set(tts_plan.FESTIVAL_VOICES) <= prepare.festival_voices(), reason=prepare.FESTIVAL_INSTALL
)


def test_festival_speaks_a_share_of_the_classic_espeak_utterances_and_changes_nothing_but_the_synthesizer() -> None:
    plan = tts_plan.with_pico(tts_plan.plan_set("train", 3000), 0.2)
    before = [dict(u) for u in plan]
    mixed = tts_plan.with_festival(plan, 0.15)
    assert mixed == tts_plan.with_festival(plan, 0.15) and plan == before  # deterministic; plan not modified
    festival = [u for u in mixed if u["engine"] == "festival"]
    for task in tts_plan.TASKS:
        assert sum(u["task"] == task for u in festival) == round(0.15 * 2400)  # of the 2400 espeak-ng ones
    assert {u["voice"] for u in festival} == {f"festival:{v}" for v in tts_plan.FESTIVAL_VOICES}
    assert all(0.85 <= u["duration_stretch"] <= 1.3 and 75 <= u["f0_mean"] <= 170 for u in festival)
    assert len({u["duration_stretch"] for u in festival}) > 300 and len({u["f0_mean"] for u in festival}) > 80
    assert not any(k in u for u in festival for k in ("rate", "pitch", "word_gap"))  # espeak-ng's options gone
    kept = ("id", "text", "task", "snr_db", "noise", "level_dbfs", "lead_s", "trail_s", "noise_seed")
    for old, new in zip(plan, mixed, strict=True):
        assert all(old[k] == new[k] for k in kept)
        assert new == old or (new["engine"] == "festival" and old["engine"] == "espeak")  # Pico's stay Pico's
    assert tts_plan.with_festival(plan, 0.0) == plan
    everything = tts_plan.with_festival(plan, 1.0)
    assert all(u["engine"] in ("festival", "pico") for u in everything)
    test_voices = set().union(*(tts_plan.SETS[n].voice_names() for n in TESTS))
    assert not {u["voice"] for u in festival} & test_voices
    accented = tts_plan.with_accents(mixed, 1.0)  # drawn accents take espeak-ng's utterances only
    assert [u["engine"] for u in accented] == [u["engine"] for u in mixed]


def test_a_share_outside_zero_to_one_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Festival share must be within \[0, 1\], got 1.5"):
        tts_plan.with_festival(tts_plan.plan_set("train", 5), 1.5)
    with pytest.raises(SystemExit):
        prepare.main(["--out", str(tmp_path), "--festival-share", "2"])
    assert (
        "--festival-share is a share of train's espeak-ng utterances within [0, 1], got 2.0" in capsys.readouterr().err
    )
    assert not any(tmp_path.iterdir())


def _festival(text: str, stretch: float = 1.0, f0_mean: int = 105, voice: str = "ked_diphone") -> np.ndarray:
    u = {"id": "x", "text": text, "voice": f"festival:{voice}", "engine": "festival"}
    return tts_render.speech({**u, "duration_stretch": stretch, "f0_mean": f0_mean}, ".")


@needs_festival
def test_festival_speech_follows_its_duration_stretch_and_pitch_and_does_not_clip() -> None:
    text = "seven three nine oh two and the big brown dog"
    normal, slow = _festival(text), _festival(text, stretch=1.3)
    assert 1.15 < len(slow) / len(normal) < 1.45 and 1.5 < len(normal) / tts_render.SAMPLE_RATE < 4.0
    assert np.abs(normal).max() < 1.0
    low, high = _f0(_festival(text, f0_mean=80)), _f0(_festival(text, f0_mean=160))
    assert 1.5 < high / low < 2.5, (low, high)  # 160 / 80 = 2, around which the intonation moves
    assert _festival(text).tolist() == _festival(text).tolist()


@needs_festival
def test_a_voice_festival_does_not_know_is_an_error_naming_the_utterance() -> None:
    u = {"id": "train-digits-00007", "text": "one", "voice": "festival:nobody_diphone", "engine": "festival"}
    with pytest.raises(RuntimeError, match=r"festival said nothing for utterance train-digits-00007 \('one'\)"):
        tts_render.speech({**u, "duration_stretch": 1.0, "f0_mean": 100}, ".")


@needs_festival
def test_prepare_with_festival_keeps_dev_and_the_test_sets(tiny: None, tmp_path: Path) -> None:  # noqa: F811
    check_prepared_with_share(tmp_path / "f", "festival", "festival", min_frames=50)


def test_a_missing_festival_voice_fails_with_the_install_command_before_anything_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "festival_voices", lambda: {"kal_diphone"})
    install = r"\['don_diphone', 'ked_diphone'\] are missing, needed by --festival-share and dev_festival; .*kdlpc16k"
    check_refused_before_anything_is_removed(tmp_path, "festival", install)


def test_festival_voices_is_empty_without_festival(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert prepare.festival_voices() == set()
