"""Drawn espeak-ng training voices (prepare.py --random-voices): reproducible files that espeak-ng really speaks
with, train only, never a test voice, recorded in done.json. Needs espeak-ng, flite and sox (setup_env.sh)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.recipes.test_prepare import TESTS, _recipe_module

prepare = _recipe_module("prepare")
tts_plan = _recipe_module("tts_plan")
tts_render = _recipe_module("tts_render")
tts_voices = _recipe_module("tts_voices")


def test_a_drawn_variant_depends_on_seed_and_index_only_and_stays_in_its_ranges() -> None:
    drawn = [tts_voices.random_variant(5, i) for i in range(200)]
    assert drawn[7] == tts_voices.random_variant(5, 7) and drawn[7] != tts_voices.random_variant(6, 7)
    assert {v["gender"] for v in drawn} == {"male", "female"}
    for v in drawn:
        low, high = v["pitch"]
        assert 65 <= low < high <= low + 120
        assert [k for k, *_ in v["formants"]] == list(range(9))
        assert all(75 <= f <= 130 and 60 <= h <= 160 and 70 <= w <= 160 for _, f, h, w in v["formants"])
        text = tts_voices.variant_file_text("rv000", v)
        assert text.startswith("language variant\nname rv000\n") and "klatt" not in text and "echo" not in text
    assert 0.1 < sum(v["breath"] is not None for v in drawn) / 200 < 0.3  # breath noise in about a fifth
    assert 0.35 < sum(v["tone"] is not None for v in drawn) / 200 < 0.65


def test_espeak_ng_speaks_with_the_drawn_variants_of_the_private_data_folder(tmp_path: Path) -> None:
    """espeak-ng ignores a variant it cannot find and speaks the default voice: the audio must differ."""
    root = tts_voices.write_espeak_root(tmp_path, seed=5, count=3)
    assert sorted(p.name for p in (root / "espeak-ng-data/voices/!v").iterdir()) == ["rv000", "rv001", "rv002"]
    _, installed, _ = prepare.installed_voices()
    assert not installed & set(tts_voices.variant_names(120))  # no drawn name shadows an installed variant

    def spoken(voice: str, drawn: bool) -> str:
        u = {"voice": f"espeak:{voice}", "engine": "espeak", "rate": 160, "pitch": 50, "word_gap": 0, "text": "two"}
        if drawn:
            u["espeak_root"] = tts_voices.ROOT
        wav = subprocess.run(tts_render.synthesizer_command(u, tmp_path), capture_output=True, check=True).stdout
        return hashlib.sha256(wav).hexdigest()

    voices = {spoken("en-us", False), *(spoken(f"en-us+rv00{i}", True) for i in range(3))}
    assert len(voices) == 4
    assert tts_voices.write_espeak_root(tmp_path, seed=5, count=3) == root  # a second call keeps the folder valid


def test_only_train_takes_drawn_voices_and_draws_them_with_the_classic_ones() -> None:
    plan = tts_plan.plan_set("train", 3000, random_voices=120)
    voices = {u["voice"] for u in plan}
    drawn = {f"espeak:{a}+{v}" for a in tts_plan.ACCENTS for v in tts_voices.variant_names(120)}
    assert voices == tts_plan.SETS["train"].voice_names() | drawn  # every classic and drawn voice, nothing else
    assert all(("espeak_root" in u) == (u["voice"] in drawn) for u in plan)
    assert tts_plan.plan_set("train", 50, random_voices=120) == plan[:50] + plan[3000:3050]  # --small: a prefix
    for name in ("dev", *TESTS):
        with pytest.raises(ValueError, match=f"only the train set takes random voices, not '{name}'"):
            tts_plan.plan_set(name, 10, random_voices=3)
    test_voices = set().union(*(tts_plan.SETS[n].voice_names() for n in TESTS))
    assert not voices & test_voices


def test_prepare_records_the_drawn_voices_and_prepares_again_for_another_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(prepare, "per_task", lambda name, small: 4 if name == "train" else 1)
    out = tmp_path / "out"
    assert prepare.main(["--out", str(out), "--small", "--random-voices", "40"]) == 0  # implies --synthesize
    done = json.loads((out / "done.json").read_text())
    assert done["random_voices"] == 40 and done["source"] == "espeak-ng" and "train" in done["audio"]
    rows = prepare.read_manifest(out / "train.jsonl")
    assert any(r.get("espeak_root") == "espeak-ng" for r in rows)
    assert not any("espeak_root" in r for r in prepare.read_manifest(out / "dev.jsonl"))
    assert len(list((out / "espeak-ng/espeak-ng-data/voices/!v").iterdir())) == 40
    capsys.readouterr()
    assert prepare.main(["--out", str(out), "--small", "--random-voices", "40"]) == 0
    assert "already prepared" in capsys.readouterr().out
    assert prepare.main(["--out", str(out), "--small", "--synthesize"]) == 0
    assert "has 40 random voices, not 0; preparing it again" in capsys.readouterr().out
    assert json.loads((out / "done.json").read_text())["random_voices"] == 0
    assert not (out / "espeak-ng").exists()  # the drawn voices left with the corpus spoken in them


def test_a_negative_voice_count_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        prepare.main(["--out", str(tmp_path), "--random-voices", "-1"])
    assert "--random-voices must be >= 0, got -1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
