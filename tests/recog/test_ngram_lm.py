"""Word n-gram LMs from transcripts (KenLM's lmplz), lexicon words added as unigrams, decoded with by ctc_beam."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

from seqtrain.errors import ConfigError, DataError
from seqtrain.recog.arpa import add_unigrams
from seqtrain.recog.ngram_lm import build_word_lm, find_lmplz, read_texts
from tests.recog.helpers import SKIP_ENV, TINY_ARPA, frames, require_lmplz, write_arpa
from tests.recog.test_ctc_lm import AB_OR_AC, ctc_beam, texts


def _unigrams(path: Path) -> dict[str, float]:
    lines = path.read_text().split("\\1-grams:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return {line.split("\t")[1]: float(line.split("\t")[0]) for line in lines}


def test_missing_lexicon_words_share_the_unknown_words_probability(tmp_path: Path) -> None:
    source, target = write_arpa(tmp_path), tmp_path / "padded.arpa"
    assert add_unigrams(source, target, ["ab", "ba", "bb", "ba"]) == 2
    before, after = _unigrams(source), _unigrams(target)
    assert "ngram 1=7\n" in target.read_text() and TINY_ARPA.split("\\2-grams:")[1] in target.read_text()
    assert after["ba"] == after["bb"] == after["<unk>"] == pytest.approx(before["<unk>"] - 0.4771213, abs=1e-6)
    assert sum(10**p for p in after.values()) == pytest.approx(sum(10**p for p in before.values()))
    assert {w: p for w, p in after.items() if w not in ("ba", "bb", "<unk>")} == {
        w: p for w, p in before.items() if w != "<unk>"
    }
    assert add_unigrams(source, target, ["ab"]) == 0 and target.read_text() == TINY_ARPA


def test_lmplz_builds_an_lm_that_steers_the_decoder(tmp_path: Path) -> None:
    require_lmplz()
    out = tmp_path / "lm" / "words.arpa"
    lm = build_word_lm(["ab ab", "ab", "ab ac ab", "  ", "ab ab ab"], order=3, out_path=out, lexicon_words=["ac", "b"])
    assert lm.path == out and lm.added_words == 1 and lm.counts[0] == 6  # <unk> <s> </s> ab ac + b
    assert "\tb\t0\n" in out.read_text() and os.listdir(out.parent) == ["words.arpa"]
    assert texts(ctc_beam(recog_lm=str(out), recog_lm_weight=0.0), AB_OR_AC) == ["ac"]
    assert texts(ctc_beam(recog_lm=str(out), recog_lm_weight=1.0), AB_OR_AC) == ["ab"]
    only_b = frames({"b": 0.9}, {"-": 0.9})
    assert texts(ctc_beam(recog_lexicon=["ab", "ac", "b"], recog_lm=str(out), recog_lm_weight=1.0), only_b) == ["b"]


def test_lmplz_failures_and_bad_orders_are_clear_and_leave_no_file(tmp_path: Path) -> None:
    require_lmplz()
    out = tmp_path / "lm.arpa"
    with pytest.raises(DataError, match=r"lmplz failed \(exit -?\d+\) on the text for .*lm.arpa: .*<s> is not allowed"):
        build_word_lm(["one <s> two"], order=2, out_path=out)
    assert os.listdir(tmp_path) == []
    with pytest.raises(ConfigError, match="LM order 1: KenLM loads only n-gram models of order 2 or more"):
        build_word_lm(["one two"], order=1, out_path=out)
    with pytest.raises(DataError, match="the LM training text is empty"):
        build_word_lm(["", " "], order=2, out_path=out)


def test_a_missing_lmplz_names_the_build_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigError, match=r"lmplz .*nowhere/lmplz does not exist; build it with scripts/build_kenlm.sh"
    ):
        build_word_lm(["a b"], order=2, out_path=tmp_path / "lm.arpa", lmplz=tmp_path / "nowhere" / "lmplz")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=r"lmplz is not installed .*; build it with scripts/build_kenlm.sh"):
        find_lmplz()
    monkeypatch.delenv(SKIP_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match=f"build_kenlm.sh.*; or set {SKIP_ENV}=1 to skip"):
        require_lmplz()  # the tests that need lmplz fail without it (CI builds it) ...
    monkeypatch.setenv(SKIP_ENV, "1")
    with pytest.raises(pytest.skip.Exception):
        require_lmplz()  # ... unless the machine says it goes without


def test_texts_come_from_manifests_or_plain_lines(tmp_path: Path) -> None:
    manifest = tmp_path / "train.jsonl"
    manifest.write_text(json.dumps({"text": "one two", "audio": "x.wav"}) + "\n\n" + json.dumps({"text": "three"}))
    plain = tmp_path / "train.txt"
    plain.write_text("one two\n\nthree\n")
    assert read_texts(manifest) == read_texts(plain) == ["one two", "three"]
    manifest.write_text('{"text": "one"}\n{"audio": "x.wav"}\n')
    with pytest.raises(DataError, match=r'train.jsonl, line 2: needs a "text" string \(the transcript\)'):
        read_texts(manifest)
    manifest.write_text("one two\n")
    with pytest.raises(DataError, match=r"train.jsonl, line 1: not a JSON object \(Expecting value\); a manifest"):
        read_texts(manifest)
    with pytest.raises(DataError, match=r"cannot read .*missing.txt"):
        read_texts(tmp_path / "missing.txt")


def test_the_decoder_runs_on_scores_of_any_dtype(tmp_path: Path) -> None:
    lm = str(write_arpa(tmp_path))
    assert texts(ctc_beam(recog_lm=lm, recog_lm_weight=1.0), AB_OR_AC.to(torch.float64)) == ["ab"]
