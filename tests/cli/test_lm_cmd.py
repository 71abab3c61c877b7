"""`seqtrain lm`: a word n-gram LM from manifests or text files, lexicon words included; errors in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqtrain.cli.main import main
from tests.recog.helpers import require_lmplz


def test_lm_from_a_manifest_and_a_text_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_lmplz()
    manifest, text, lexicon = tmp_path / "train.jsonl", tmp_path / "more.txt", tmp_path / "lexicon.txt"
    manifest.write_text("".join(json.dumps({"text": t}) + "\n" for t in ("one two", "two three")))
    text.write_text("three one\n")
    lexicon.write_text("one\ntwo\nthree\nfour\n")
    out = tmp_path / "lm" / "words.arpa"
    argv = ["lm", "--text", str(manifest), str(text), "--lexicon", str(lexicon), "--order", "2", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 2-gram LM (1-grams 7, 2-grams " in printed
    assert "; 1 lexicon word added) from 3 sentences" in printed and "\tfour\t0\n" in out.read_text()


def test_lm_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "train.txt"
    text.write_text("one two\n")
    out = str(tmp_path / "lm.arpa")
    assert main(["lm", "--text", str(text), "--out", out, "--lmplz", str(tmp_path / "lmplz")]) == 1
    assert capsys.readouterr().err == (
        f"seqtrain lm: error: lmplz {tmp_path / 'lmplz'} does not exist; build it with scripts/build_kenlm.sh\n"
    )
    assert main(["lm", "--text", str(tmp_path / "missing.txt"), "--out", out]) == 1
    assert "seqtrain lm: error: cannot read " in capsys.readouterr().err
