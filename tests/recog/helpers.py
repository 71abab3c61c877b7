"""Shared by the LM decoding tests: a character vocabulary, hand-made CTC frames, a tiny ARPA LM, lmplz."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.recog.ngram_lm import find_lmplz

VOCAB = (" ", "a", "b", "c")  # " " is the word boundary; the blank is appended as class 4
BLANK = len(VOCAB)
SKIP_ENV = "SEQTRAIN_SKIP_KENLM"

# A bigram LM over the words "ab" and "ac" (log10): "ab" is likely, "ac" rare; flashlight's KenLM needs order >= 2.
TINY_ARPA = """\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-2.0\t<unk>\t0
-99\t<s>\t0
-0.5\t</s>\t0
-0.2\tab\t0
-2.0\tac\t0

\\2-grams:
-0.1\t<s> ab
-0.3\tab </s>
-0.3\tab ab

\\end\\
"""


def frames(*rows: dict[str, float], blank: int = BLANK, vocab: tuple[str, ...] = VOCAB) -> torch.Tensor:
    """Log probs [1, T, len(vocab) + 1]: each row gives some labels' probabilities ("-" = the blank), the rest
    share what is left evenly."""
    num_classes = max(len(vocab), blank + 1)
    probs = torch.zeros(len(rows), num_classes)
    for t, row in enumerate(rows):
        for label, p in row.items():
            probs[t, blank if label == "-" else vocab.index(label)] = p
        rest = probs[t] == 0
        probs[t, rest] = max(1.0 - float(probs[t].sum()), 1e-6) / int(rest.sum())
    return probs.log()[None]


def write_arpa(directory: Path, text: str = TINY_ARPA) -> Path:
    path = directory / "tiny.arpa"
    path.write_text(text)
    return path


def require_lmplz() -> Path:
    """The built lmplz. Missing, the test fails rather than skips (CI builds it through scripts/setup_env.sh), unless
    SEQTRAIN_SKIP_KENLM=1 says that this machine goes without."""
    try:
        return find_lmplz()
    except ConfigError as e:
        if os.environ.get(SKIP_ENV) == "1":
            pytest.skip(f"{e} ({SKIP_ENV}=1)")
        pytest.fail(f"{e}; or set {SKIP_ENV}=1 to skip the tests that need it")
