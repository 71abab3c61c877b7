"""tts_digits data preparation: the sets' plans, real synthesis of a few utterances per set, the files it keeps,
and completing a directory prepared before the test sets existed. Needs espeak-ng, flite and sox (setup_env.sh)."""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from seqtrain.data.audio import AudioDataset
from seqtrain.data.hdf import HDFDataset
from seqtrain.data.vocab import LexiconVocab
from tests.train.helpers import REPO


def _recipe_module(name: str) -> ModuleType:
    """prepare.py is a script beside its two modules, as `python recipes/tts_digits/prepare.py` runs it."""
    folder = str(REPO / "recipes/tts_digits")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


prepare = _recipe_module("prepare")
tts_plan = _recipe_module("tts_plan")
TESTS = ("test_espeak_unseen", "test_flite")
HELD_OUT = (*TESTS, "dev_festival")  # every set whose voices training never hears: always synthesized


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two utterances per task and set (the plan's first ones): 16 utterances for all four sets, about a second."""
    monkeypatch.setattr(prepare, "per_task", lambda name, small: 2)


def check_prepared_with_share(out: Path, option: str, engine: str, min_frames: int) -> None:
    """prepare --OPTION-share 0.5 on the tiny plan: the engine speaks one of each task's two training utterances,
    done.json records it, and dev and the test sets are those prepared without the option (in OUT/../plain)."""
    assert prepare.main(["--out", str(out), f"--{option}-share", "0.5"]) == 0  # implies --synthesize
    done = json.loads((out / "done.json").read_text())
    assert done[f"{option}_share"] == 0.5 and done["source"] == "espeak-ng" and "train" in done["audio"]
    rows = prepare.read_manifest(out / "train.jsonl")
    assert [r["engine"] for r in rows].count(engine) == 2
    assert all((out / r["path"]).is_file() and r["num_frames"] > min_frames for r in rows)
    plain = out.parent / "plain"
    prepare.synthesize(plain, ("dev", *HELD_OUT), small=True, jobs=1)
    for name in ("dev", *HELD_OUT):
        assert (out / f"{name}.jsonl").read_text() == (plain / f"{name}.jsonl").read_text()
    assert prepare.reusable(out, prepare.parse_args(["--out", str(out), f"--{option}-share", "0.5"]))
    assert prepare.reusable(out, prepare.parse_args(["--out", str(out), "--synthesize"])) is None


def check_refused_before_anything_is_removed(out: Path, option: str, error: str) -> None:
    """prepare --OPTION-share 0.2 into a folder holding a user's file stops with `error` (a regex: the missing tool
    or voice and the install command) and leaves the folder as it was."""
    (out / "keep.txt").write_text("a user's file")
    with pytest.raises(SystemExit, match=error):
        prepare.main(["--out", str(out), f"--{option}-share", "0.2"])
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def _digest(plan: list[dict]) -> str:
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]


def test_train_and_dev_plans_stay_where_they_are() -> None:
    """Every random draw of train and dev is pinned: a change to the plan code must not move them silently (these
    are the plans since the sentence words became the shared copy's)."""
    assert _digest(tts_plan.plan_set("train", 3000)) == "ecfaadb0d0b5c02c"
    assert _digest(tts_plan.plan_set("dev", 300)) == "9f726232a5e48a4e"


def test_the_sentence_words_are_the_shared_copys() -> None:
    """A model trained on the shared copy (./run.sh) is scored on the synthesized test sets: same words in both."""
    assert len(set(tts_plan.SENTENCE_WORDS)) == 200 and not set(tts_plan.SENTENCE_WORDS) & set(tts_plan.DIGIT_WORDS)
    shared = prepare.default_shared_dir()
    if not (shared / "train.jsonl").is_file():
        pytest.skip(f"no shared copy at {shared}")
    spoken: set[str] = set()
    for split in ("train", "dev"):
        for row in prepare.read_manifest(shared / f"{split}.jsonl"):
            if row["task"] == "sentences":
                spoken.update(row["text"].split())
    assert spoken == set(tts_plan.SENTENCE_WORDS)


def test_test_voices_never_overlap_the_training_voices() -> None:
    train = tts_plan.SETS["train"]
    assert tts_plan.TEST_SETS == TESTS
    for name in TESTS:
        test = tts_plan.SETS[name]
        assert not test.voice_names() & train.voice_names()
        assert not set(test.accents) & set(train.accents) and not set(test.variants) & set(train.variants)
        used = {u["voice"] for u in tts_plan.plan_set(name, 300)}
        assert used <= test.voice_names() and len(used) > 0.7 * len(test.voice_names()), used
    assert {u["voice"] for u in tts_plan.plan_set("train", 3000)} == train.voice_names()  # all 32, nothing else


def test_dev_festival_is_a_synthesizer_neither_the_recipes_training_nor_the_tests_use() -> None:
    assert prepare.ALWAYS_SYNTHESIZED == HELD_OUT and not tts_plan.SETS["dev_festival"].test
    plan = tts_plan.plan_set("dev_festival", 300)
    assert {u["voice"] for u in plan} == {"festival:ked_diphone", "festival:don_diphone"}
    assert {u["engine"] for u in plan} == {"festival"}
    assert all(0.85 <= u["duration_stretch"] <= 1.3 and 75 <= u["f0_mean"] <= 170 for u in plan)
    train = tts_plan.with_rhvoice(
        tts_plan.with_mbrola(tts_plan.with_pico(tts_plan.plan_set("train", 3000), 0.2), 0.15), 0.15
    )
    heard = {u["voice"] for u in train} | set().union(*(tts_plan.SETS[n].voice_names() for n in TESTS))
    assert not {u["voice"] for u in plan} & heard


def test_each_set_has_its_own_deterministic_draws_with_the_same_distributions() -> None:
    plans = {name: tts_plan.plan_set(name, 300) for name in tts_plan.SETS}
    assert all(plans[name] == tts_plan.plan_set(name, 300) for name in plans)
    assert all(tts_plan.plan_set(name, 50) == p[:50] + p[300:350] for name, p in plans.items())  # --small: a prefix
    texts = {name: [u["text"] for u in p] for name, p in plans.items()}
    assert texts["test_flite"] != texts["test_espeak_unseen"] != texts["dev"]
    for name, plan in plans.items():
        words = [len(u["text"].split()) for u in plan if u["task"] == "sentences"]
        assert min(words) == 3 and max(words) == 8, name
        assert {u["noise"] for u in plan} == {"white", "pink", "brown"}, name
        assert all(15 <= u["snr_db"] <= 30 and -30 <= u["level_dbfs"] <= -18 for u in plan), name
    flite = plans["test_flite"]
    assert all(0.85 <= u["duration_stretch"] <= 1.25 for u in flite)
    assert {u["f0_mean"] is None for u in flite if u["voice"] == "flite:rms"} == {True}  # rms has no pitch target


def test_synthesis_keeps_flac_for_every_set_and_does_not_depend_on_jobs(tiny: None, tmp_path: Path) -> None:
    assert prepare.main(["--out", str(tmp_path / "a"), "--synthesize", "--jobs", "2"]) == 0
    done = json.loads((tmp_path / "a" / "done.json").read_text())
    assert done["sets"] == done["audio"] == ["train", "dev", *HELD_OUT] and done["source"] == "espeak-ng"
    for name in done["sets"]:
        rows = prepare.read_manifest(tmp_path / "a" / f"{name}.jsonl")
        assert [r["path"] for r in rows] == [f"audio/{name}/{r['id']}.flac" for r in rows]
        assert all((tmp_path / "a" / r["path"]).is_file() for r in rows)
    lm = (tmp_path / "a" / prepare.LM_FILE).read_text()  # the word 3-gram for LM decoding, every lexicon word in it
    assert "ngram 3=" in lm and all(f"\t{w}" in lm for w in (tmp_path / "a" / "lexicon.txt").read_text().split())
    phonemes = LexiconVocab(str(tmp_path / "a" / prepare.PHONE_LEXICON))  # a phoneme model's targets, every set
    train_words = (tmp_path / "a" / "lexicon.txt").read_text().split()
    assert list(phonemes.pronunciations)[: len(train_words)] == train_words
    for name in done["sets"]:
        assert all(
            phonemes.decode(phonemes.encode(r["text"])) == r["text"]
            for r in prepare.read_manifest(tmp_path / "a" / f"{name}.jsonl")
        )
    flite = prepare.read_manifest(tmp_path / "a" / "test_flite.jsonl")
    assert {r["engine"] for r in flite} == {"flite"} and all(r["voice"].startswith("flite:") for r in flite)
    assert list(flite[0])[:5] == ["id", "path", "duration", "text", "voice"]
    prepare.synthesize(tmp_path / "b", TESTS, small=True, jobs=1)
    for name in TESTS:
        assert (tmp_path / "a" / f"{name}.jsonl").read_text() == (tmp_path / "b" / f"{name}.jsonl").read_text()
        a, b = (HDFDataset([str(tmp_path / d / f"{name}.hdf")]) for d in "ab")
        assert all(np.array_equal(a.get_seq(i)["data"], b.get_seq(i)["data"]) for i in range(a.num_seqs))


def test_audio_dataset_reads_a_test_set_as_the_hdf_has_it(tiny: None, tmp_path: Path) -> None:
    prepare.synthesize(tmp_path, ("test_flite",), small=True, jobs=1)
    vocab = {"class": "CharacterVocab", "labels": tts_plan.VOCAB}
    audio = AudioDataset(str(tmp_path / "test_flite.jsonl"), vocab=vocab, features={"num_mel_bins": 80})
    hdf = HDFDataset([str(tmp_path / "test_flite.hdf")])
    assert audio.num_seqs == hdf.num_seqs == 4
    for i in range(4):
        a, h = audio.get_seq(i), hdf.get_seq(i)
        assert audio.seq_tag(i) == hdf.seq_tag(i) and np.array_equal(a["classes"], h["classes"])
        np.testing.assert_allclose(a["data"], h["data"].astype(np.float32), atol=0.02)  # the HDF holds float16


def _old_layout(out: Path, shared_audio: Path) -> None:
    """What prepare wrote from the shared copy before the test sets: no test files, no training audio, OUT/audio
    linked to the shared corpus' folder."""
    prepare.clear_outputs(out, HELD_OUT)
    rows = [{**r, "path": None} for r in prepare.read_manifest(out / "train.jsonl")]
    prepare.write_manifest(out / "train.jsonl", rows)
    prepare.remove(out / "audio")
    (out / "audio").symlink_to(shared_audio)
    done = json.loads((out / "done.json").read_text())
    counts = {k: v for k, v in done["counts"].items() if k in ("train", "dev")}
    old = {"source": "shared", "shared_dir": str(shared_audio.parent), "small": True, "counts": counts}
    (out / "done.json").write_text(json.dumps(old))


def test_the_phoneme_lexicon_has_every_word_with_its_en_us_phonemes(tmp_path: Path) -> None:
    (tmp_path / "lexicon.txt").write_text("east\nseven\nzero\n")
    prepare.write_phone_lexicon(tmp_path)
    lexicon = tmp_path / prepare.PHONE_LEXICON
    assert lexicon.read_text() == "east i: s t\nseven s E v @ n\nzero z i@ r oU\n"  # no stress marks
    written = lexicon.stat().st_mtime_ns
    prepare.write_phone_lexicon(tmp_path)  # an existing one is kept (as an older directory's reuse finds it)
    assert lexicon.stat().st_mtime_ns == written


def test_an_old_directory_gets_only_the_missing_test_sets(
    tiny: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, shared_audio = tmp_path / "out", tmp_path / "shared" / "audio"
    assert prepare.main(["--out", str(out), "--synthesize", "--small"]) == 0
    shared_audio.mkdir(parents=True)
    (out / "audio" / "dev").rename(shared_audio / "dev")
    _old_layout(out, shared_audio)
    train = (out / "train.hdf").stat()
    assert prepare.main(["--out", str(out), "--small"]) == 0
    assert "adding ['test_espeak_unseen', 'test_flite', 'dev_festival']" in capsys.readouterr().out
    assert (out / "train.hdf").stat().st_mtime_ns == train.st_mtime_ns  # not rebuilt
    assert sorted(p.name for p in shared_audio.iterdir()) == ["dev"]  # nothing written into the shared folder
    assert not (out / "audio").is_symlink() and (out / "audio" / "dev").resolve() == shared_audio / "dev"
    done = json.loads((out / "done.json").read_text())
    assert done["sets"] == ["train", "dev", *HELD_OUT] and done["audio"] == ["dev", *HELD_OUT]
    assert done["completed"]["sets"] == list(HELD_OUT) and done["counts"]["dev_festival"]["total"] == 4
    assert AudioDataset(str(out / "dev.jsonl")).num_seqs == 4  # dev's paths still resolve
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    assert prepare.main(["--out", str(out), "--small"]) == 0
    assert "already prepared" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_sets_spoken_from_another_word_list_are_made_again(
    tiny: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder from before prepare.py spoke the shared copy's sentence words: a synthesized one is prepared again,
    one with the shared copy's train/dev gets new test sets only."""
    out = tmp_path / "out"
    assert prepare.main(["--out", str(out), "--synthesize", "--small"]) == 0
    done = json.loads((out / "done.json").read_text())
    assert done["sentence_words"] == prepare.words_digest()
    (out / "done.json").write_text(json.dumps({**done, "sentence_words": None}))
    capsys.readouterr()
    assert prepare.main(["--out", str(out), "--synthesize", "--small"]) == 0
    assert "synthesized from another list of sentence words; preparing it again" in capsys.readouterr().out
    assert json.loads((out / "done.json").read_text())["sentence_words"] == prepare.words_digest()
    done = json.loads((out / "done.json").read_text())
    (out / "done.json").write_text(json.dumps({**done, "source": "shared", "sentence_words": None}))
    train = (out / "train.hdf").stat().st_mtime_ns
    assert prepare.main(["--out", str(out), "--small"]) == 0
    printed = capsys.readouterr().out
    assert "were spoken from another list of sentence words; redoing them" in printed
    assert "adding ['test_espeak_unseen', 'test_flite', 'dev_festival']" in printed
    assert (out / "train.hdf").stat().st_mtime_ns == train
    assert json.loads((out / "done.json").read_text())["sentence_words"] == prepare.words_digest()


def test_missing_tools_and_voices_fail_before_anything_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare.shutil, "which", lambda tool: None if tool == "flite" else f"/usr/bin/{tool}")
    with pytest.raises(SystemExit, match="'flite' not found; install the tools with: apt-get install espeak-ng flite"):
        prepare.main(["--out", str(tmp_path), "--synthesize"])
    monkeypatch.undo()
    languages, variants, flite = prepare.installed_voices()
    monkeypatch.setattr(prepare, "installed_voices", lambda: (languages, variants - {"klatt2"}, flite - {"slt"}))
    with pytest.raises(SystemExit, match=r"voices \['flite:slt', 'klatt2'\] not found"):
        prepare.main(["--out", str(tmp_path)])
    monkeypatch.undo()
    monkeypatch.setattr(prepare, "festival_voices", lambda: {"ked_diphone"})  # festvox-don not installed
    install = r"voice\(s\) \['don_diphone'\] are missing, needed by dev_festival; .*festvox-kdlpc16k festvox-don"
    with pytest.raises(SystemExit, match=install):
        prepare.main(["--out", str(tmp_path)])
    assert not any(tmp_path.iterdir())
