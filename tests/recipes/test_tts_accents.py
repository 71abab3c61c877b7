"""Drawn English accents for training (prepare.py --accent-share): training accents with vowel shifts that espeak-ng
really makes, none a test accent's, spoken by a share of train only. Needs espeak-ng, flite and sox (setup_env.sh)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.recipes.test_prepare import TESTS, _recipe_module

prepare = _recipe_module("prepare")
tts_plan = _recipe_module("tts_plan")
tts_render = _recipe_module("tts_render")
tts_voices = _recipe_module("tts_voices")

TEST_ACCENT_FILES = ("en-GB-scotland", "en-GB-x-gbclan", "en-GB-x-gbcwmd", "en-US-nyc")
# A word whose stressed vowel is each shift's source, in every training accent (espeak-ng 1.51's phoneme names).
PROBE_WORDS = {
    "V": "cut", "U": "foot", "aa": "bath", "a": "trap", "E": "dress", "eI": "face", "oU": "goat", "aI": "price",
    "aU": "mouth", "O:": "thought", "3:": "nurse", "i:": "fleece", "I": "kit", "u:": "moon",
}  # fmt: skip


def _replacements(voice_file: Path) -> set[tuple[str, str]]:
    return {tuple(line.split()[2:4]) for line in voice_file.read_text().splitlines() if line.startswith("replace ")}


def test_the_shifts_leave_out_every_replacement_of_a_test_accent() -> None:
    assert [name.lower() for name in TEST_ACCENT_FILES] == sorted(tts_plan.UNSEEN_ACCENTS)
    gmw = tts_voices.installed_data_dir() / "lang" / "gmw"
    test_replacements = set().union(*(_replacements(gmw / name) for name in TEST_ACCENT_FILES))
    assert ("u:", "U") in test_replacements  # the files are read: Scotland's GOOSE is among them
    assert not test_replacements & set(tts_voices.ACCENT_SHIFTS)
    assert set(tts_voices.ACCENT_FILES) == set(tts_plan.ACCENTS)  # the bases are the training accents, no other


def test_a_drawn_accent_depends_on_seed_and_index_only() -> None:
    drawn = [tts_voices.random_accent(8, i) for i in range(48)]
    assert drawn[5] == tts_voices.random_accent(8, 5) and drawn[5] != tts_voices.random_accent(9, 5)
    assert [a["base"] for a in drawn[:4]] == list(tts_voices.ACCENT_FILES)  # 12 per training accent
    for a in drawn:
        assert 2 <= len(a["shifts"]) <= 4 and set(a["shifts"]) <= set(tts_voices.ACCENT_SHIFTS)
        assert len({source for source, _ in a["shifts"]}) == len(a["shifts"])  # one shift per vowel at most
        assert 0.85 <= a["stress_scale"] <= 1.2
    assert len({(a["base"], tuple(sorted(a["shifts"]))) for a in drawn}) == 48  # 48 different accents
    assert {shift for a in drawn for shift in a["shifts"]} == set(tts_voices.ACCENT_SHIFTS)  # every shift is used
    text = tts_voices.accent_file_text("en-x-ra007", drawn[7], "name X\nlanguage en-us 2\nphonemes en-us\n")
    assert text.startswith("name en-x-ra007\nlanguage en-x-ra007\nphonemes en-us\nstressLength ")
    assert text.endswith("".join(f"replace 00 {s} {t}\n" for s, t in drawn[7]["shifts"]))


def _phonemes(root: Path | None, voice: str, words: list[str]) -> list[str]:
    path = [f"--path={root}"] if root is not None else []
    cmd = ["espeak-ng", *path, "-v", voice, "-q", "-x", " ".join(words)]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()


def test_espeak_ng_speaks_every_drawn_accent_with_its_vowel_shifts(tmp_path: Path) -> None:
    """espeak-ng ignores a voice it cannot find (and a replacement it cannot read) without a word: the phonemes
    must show each shift, and every other probe word must stay as the base accent says it."""
    root = tts_voices.write_accent_root(tmp_path, seed=8, count=48)
    assert tts_voices.listed_accents(root) == set(tts_voices.accent_names(48))
    languages, _, _ = prepare.installed_voices()
    assert not languages & set(tts_voices.accent_names(48))  # no drawn name shadows an installed accent
    words = list(PROBE_WORDS.values())
    bases = {base: _phonemes(None, base, words) for base in tts_voices.ACCENT_FILES}
    for i, name in enumerate(tts_voices.accent_names(48)):
        accent = tts_voices.random_accent(8, i)
        said = dict(zip(words, _phonemes(root, f"{name}+m3", words), strict=True))
        base = dict(zip(words, bases[accent["base"]], strict=True))
        shifted = {PROBE_WORDS[source]: target for source, target in accent["shifts"]}
        for word in words:
            if word in shifted:
                assert said[word] != base[word] and shifted[word] in said[word], (name, word, said[word])
            else:
                assert said[word] == base[word], (name, word)
    assert tts_voices.write_accent_root(tmp_path, seed=8, count=48) == root  # a second call keeps the folder valid


def test_drawn_accents_speak_the_share_of_classic_espeak_utterances_and_change_only_the_voice() -> None:
    plan = tts_plan.with_pico(tts_plan.plan_set("train", 3000, random_voices=40), 0.2)
    accented = tts_plan.with_accents(plan, 0.3)
    assert accented == tts_plan.with_accents(plan, 0.3) and plan == tts_plan.with_pico(
        tts_plan.plan_set("train", 3000, random_voices=40), 0.2
    )  # reproducible, the plan not modified
    names = set(tts_voices.accent_names(tts_plan.ACCENT_COUNT))
    for task in tts_plan.TASKS:
        classic = [u for u in plan if u["task"] == task and u["engine"] == "espeak" and "espeak_root" not in u]
        drawn = [u for u in accented if u["task"] == task and u.get("espeak_root") == tts_voices.ACCENT_ROOT]
        assert len(drawn) == round(0.3 * len(classic))
    for before, after in zip(plan, accented, strict=True):
        if after == before:
            continue
        assert before["engine"] == "espeak" and "espeak_root" not in before  # not Pico's, not a drawn variant's
        accent, variant = after["voice"].removeprefix("espeak:").split("+")
        assert accent in names and variant == before["voice"].split("+")[1]
        assert {k for k in after if after[k] != before.get(k)} == {"voice", "espeak_root"}
    assert len({u["voice"].split("+")[0] for u in accented if "en-x-ra" in u["voice"]}) == 48
    test_voices = set().union(*(tts_plan.SETS[n].voice_names() for n in TESTS))
    assert not {u["voice"] for u in accented} & test_voices
    assert tts_plan.with_accents(plan, 0.0) == plan
    with pytest.raises(ValueError, match=r"the accent share must be within \[0, 1\], got -0.5"):
        tts_plan.with_accents(plan, -0.5)


def test_prepare_records_the_accent_share_and_prepares_again_for_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(prepare, "per_task", lambda name, small: 4 if name == "train" else 1)
    out = tmp_path / "out"
    assert prepare.main(["--out", str(out), "--small", "--accent-share", "0.5"]) == 0  # implies --synthesize
    done = json.loads((out / "done.json").read_text())
    assert done["accent_share"] == 0.5 and done["source"] == "espeak-ng" and "train" in done["audio"]
    rows = prepare.read_manifest(out / "train.jsonl")
    accented = [r for r in rows if r.get("espeak_root") == tts_voices.ACCENT_ROOT]
    assert len(accented) == 4 and all(r["voice"].startswith("espeak:en-x-ra") for r in accented)
    assert all((out / r["path"]).is_file() for r in rows)
    assert not any("espeak_root" in r for name in ("dev", *TESTS) for r in prepare.read_manifest(out / f"{name}.jsonl"))
    capsys.readouterr()
    assert prepare.main(["--out", str(out), "--small", "--accent-share", "0.5"]) == 0
    assert "already prepared" in capsys.readouterr().out
    assert prepare.main(["--out", str(out), "--small", "--synthesize"]) == 0
    assert "drawn accents speak 0.5 of train in" in capsys.readouterr().out
    assert json.loads((out / "done.json").read_text())["accent_share"] == 0.0
    assert not (out / tts_voices.ACCENT_ROOT).exists()  # the drawn accents left with the corpus spoken in them


def test_a_share_outside_zero_to_one_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        prepare.main(["--out", str(tmp_path), "--accent-share", "1.5"])
    assert "--accent-share is a share of train's espeak-ng utterances within [0, 1], got 1.5" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
