"""A phoneme model end to end: LexiconVocab targets from a pronunciation lexicon, and `seqtrain recog` scoring
words, not phonemes (greedy output read through the lexicon; ctc_beam spelling words by their pronunciations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqtrain.cli.main import main
from tests.corpus import write_config

# Units a b c d, so the model's labels are " " + 4 units: the test config's 5 labels + blank.
LEXICON = "ab a b\nbad b a d\ncab c a b\ncab c a d\nda d a\n"
WORDS = ("ab", "bad", "cab", "da")
PHONEME_DATA = """
_vocab = {{"class": "LexiconVocab", "lexicon": {lexicon!r}}}
train = {{"class": "AudioDataset", "manifest": {manifest!r}, "vocab": _vocab, "features": {{"num_mel_bins": 8}}}}
dev = dict(train)
recog_lexicon = {lexicon!r}
"""


@pytest.fixture(scope="module")
def phoneme_config(tiny_corpus: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 utterances of 1-3 words; each unit a tone, words separated by a pause; trained for 2 epochs."""
    directory = tmp_path_factory.mktemp("phonemes")
    (directory / "lexicon.phones.txt").write_text(LEXICON)
    pronunciation = {"ab": "ab", "bad": "bad", "cab": "cab", "da": "da"}
    rng = np.random.RandomState(0)
    rows = []
    for i in range(30):
        words = [WORDS[k] for k in rng.randint(0, len(WORDS), size=rng.randint(1, 4))]
        pieces = []
        for word in words:
            for unit in pronunciation[word]:
                pieces.append(np.sin(2 * np.pi * (300 + 250 * "abcd".index(unit)) * np.arange(1600) / 16000))
            pieces.append(np.zeros(800))
        samples = np.concatenate(pieces) * 0.3 + rng.randn(sum(len(p) for p in pieces)) * 0.01
        soundfile.write(directory / f"u{i}.flac", (samples * 32767).astype("int16"), 16000)
        rows.append({"id": f"u{i}", "path": f"u{i}.flac", "text": " ".join(words)})
    manifest = directory / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    extra = PHONEME_DATA.format(lexicon=str(directory / "lexicon.phones.txt"), manifest=str(manifest))
    config = write_config(directory, tiny_corpus, num_epochs=2, extra=extra)
    assert main(["train", str(config), "learning_rate=0.03"]) == 0
    return config


def _pairs(path: Path) -> tuple[list[str], list[str]]:
    lines = path.read_text().splitlines()
    refs = [line.split("\tref: ", 1)[1] for line in lines if "\tref: " in line]
    hyps = [line.split("\thyp: ", 1)[1] if "\thyp: " in line else "" for line in lines if "\tref:" not in line]
    return refs, hyps


def test_references_and_hypotheses_are_words(phoneme_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = [json.loads(line) for line in (phoneme_config.parent / "m.jsonl").read_text().splitlines()]
    out = phoneme_config.parent / "out" / "model.recog.dev.txt"
    assert main(["recog", str(phoneme_config), "recog_decoder=ctc_greedy"]) == 0
    refs, hyps = _pairs(out)
    assert refs == [row["text"] for row in sorted(manifest, key=lambda r: r["id"])]  # words, read back
    num_words = sum(len(r["text"].split()) for r in manifest)
    assert f"/{num_words} words" in capsys.readouterr().out  # the WER counts words, not phonemes
    for hyp in hyps:  # greedy: a run of units is its word, or shown in brackets when it is none
        assert all(word in WORDS or (word.startswith("[") and word.endswith("]")) for word in hyp.split())
    assert main(["recog", str(phoneme_config), "recog_decoder=ctc_beam", "recog_beam_size=4"]) == 0
    refs_beam, hyps_beam = _pairs(out)
    assert refs_beam == refs
    assert all(set(hyp.split()) <= set(WORDS) for hyp in hyps_beam)  # only words (test_ctc_lm: which ones)


def test_a_lexicon_that_does_not_match_the_model_is_a_clear_error(
    phoneme_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.txt"
    other.write_text("ab a b\nxy x y\n")
    assert main(["recog", str(phoneme_config), "recog_decoder=ctc_beam", f"recog_lexicon={str(other)!r}"]) == 1
    assert "word 'xy' is pronounced with ['x', 'y'], which the target vocabulary lacks" in capsys.readouterr().err
