"""The robust recipe: it refuses a corpus without training audio or phoneme lexicon, and trains a phoneme model on
augmented audio and decodes every set into words with the lexicon and the LM on the small synthesized corpus."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqtrain.cli.main import main
from seqtrain.config import load_config
from tests.recipes.test_prepare import _recipe_module
from tests.train.helpers import REPO

CONFIG = REPO / "recipes/tts_digits/robust_conformer.py"


def test_a_corpus_without_training_audio_gets_the_command_that_makes_one(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "train.jsonl").write_text(json.dumps({"id": "u", "path": None, "text": "one"}) + "\n")
    monkeypatch.setenv("TTS_DIGITS_DATA", str(tmp_path))
    with pytest.raises(SystemExit, match=r"lists no audio files .*/prepare.py --out .* --mbrola-share 0.15"):
        load_config(CONFIG)


def test_a_corpus_without_the_phoneme_lexicon_gets_the_command_that_writes_it(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "train.jsonl").write_text(json.dumps({"id": "u", "path": "audio/u.flac", "text": "one"}) + "\n")
    monkeypatch.setenv("TTS_DIGITS_DATA", str(tmp_path))
    with pytest.raises(SystemExit, match=r"lexicon.phones.txt does not exist .*/prepare.py .* --mbrola-share 0.15"):
        load_config(CONFIG)


def test_a_corpus_prepared_before_dev_festival_gets_the_command_that_adds_it(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "train.jsonl").write_text(json.dumps({"id": "u", "path": "audio/u.flac", "text": "one"}) + "\n")
    (tmp_path / "lexicon.phones.txt").write_text("one w V n\n")
    for name in ("dev", "test_espeak_unseen", "test_flite"):
        (tmp_path / f"{name}.jsonl").write_text("")
    monkeypatch.setenv("TTS_DIGITS_DATA", str(tmp_path))
    with pytest.raises(SystemExit, match=r"dev_festival.jsonl does not exist; prepare.py adds the missing sets: .*"):
        load_config(CONFIG)


@pytest.mark.slow
def test_trains_on_augmented_audio_and_decodes_every_set(tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    prepare = [sys.executable, str(REPO / "recipes/tts_digits/prepare.py"), "--out", str(data), "--small"]
    corpus = ["--pico-share", "0.2"]  # the recipe's: espeak-ng, Pico, MBROLA and RHVoice
    prepare_module = _recipe_module("prepare")
    if not prepare_module.missing_mbrola_voices():  # where scripts/install_nonfree_voices.sh could run
        corpus += ["--mbrola-share", "0.15"]
    if not prepare_module.missing_rhvoice_voices():
        corpus += ["--rhvoice-share", "0.15"]
    subprocess.run([*prepare, *corpus], check=True)
    monkeypatch.setenv("TTS_DIGITS_DATA", str(data))
    monkeypatch.setenv("TTS_DIGITS_EXP", str(tmp_path / "exp"))
    config = load_config(CONFIG)
    train = {**config.get("train"), "partition_epoch": 10}  # a few steps: a tenth of the 300 utterances per epoch
    dev = {**config.get("dev"), "partition_epoch": 4}  # read from its audio, phoneme targets
    overrides = [f"train={train!r}", f"dev={dev!r}", "num_epochs=2", "batch_size=2000", "tensorboard=False"]
    assert main(["train", str(CONFIG), *overrides]) == 0
    log = (tmp_path / "exp/model.log").read_text()
    assert re.search(r"epoch 2/2: .*data wait \d+\.\d+%", log)  # epoch 2 is the first augmented one
    capsys.readouterr()
    sets = "dev,dev_festival,test_espeak_unseen,test_flite"
    assert main(["recog", str(CONFIG), "--data", sets, *overrides, "recog_beam_size=8"]) == 0
    printed = capsys.readouterr().out
    for name in sets.split(","):
        assert re.search(rf"epoch 2 {name}: WER \d+\.\d+%", printed), printed
        hyps = (tmp_path / f"exp/model.recog.{name}.txt").read_text().splitlines()
        words = {w for line in hyps[1::2] for w in line.split("hyp:", 1)[1].split()}
        assert words <= set((data / "lexicon.txt").read_text().split())  # words (read back from phonemes), and
        # only lexicon words: the lexicon constrains the search
        refs = {line.split("ref:", 1)[1].strip() for line in hyps[0::2]}
        rows = (data / f"{name}.jsonl").read_text().splitlines()
        assert refs <= {json.loads(row)["text"] for row in rows}  # the references are the transcripts' words
    # run_robust.sh's tuning: on dev_festival (dev's voices are training's), read back by the script from the JSON
    grid = ["--tune", "recog_lm_weight=0,0.5", "recog_word_penalty=-1,0"]
    assert main(["recog", str(CONFIG), "--data", "dev_festival", *overrides, "recog_beam_size=8", *grid]) == 0
    tuned = json.loads((tmp_path / "exp/model.recog_tune.dev_festival.json").read_text())
    assert tuned["best"]["recog_lm_weight"] in (0, 0.5) and tuned["best"]["recog_word_penalty"] in (-1, 0)
    assert re.search(r"best on dev_festival: recog_lm_weight=", capsys.readouterr().out)
