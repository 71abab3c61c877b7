"""Lexicon words an n-gram LM never saw, added to its ARPA file as unigrams that share the unknown word's mass.

The decoder hypothesizes only lexicon words and asks the LM for each. A word missing from the LM would be scored
as `<unk>`, each such word with all of `<unk>`'s probability. Appending the words to the training text as
one-word sentences would give them a count, but also change the text's statistics (more sentences, more `</s>`
after every word). Instead `<unk>`'s probability p is shared: `<unk>` and the k missing words get p / (k + 1) each.
The unigrams still sum to one, and since the new words appear in no higher-order n-gram, every back-off weight stays
valid, so the model stays normalized and scores the training text's words exactly as lmplz estimated them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from seqtrain.errors import DataError

UNK = "<unk>"


def add_unigrams(source: Path, target: Path, words: Sequence[str]) -> int:
    """Writes `source` with those of `words` it lacks to `target` (another path); returns how many were added."""
    vocabulary, unk_log10, has_backoff = _read_unigrams(source)
    missing = [w for w in dict.fromkeys(words) if w not in vocabulary]
    if unk_log10 is None and missing:
        raise DataError(f"{source}: the ARPA file has no {UNK} unigram whose probability the lexicon words could share")
    shared = f"{(unk_log10 or 0.0) - math.log10(len(missing) + 1):.7g}"
    backoff = "\t0" if has_backoff else ""  # log10 of 1: a word without extensions backs off at no cost
    new_lines = [f"{shared}\t{w}{backoff}\n" for w in missing]
    with open(source, encoding="utf-8") as f, open(target, "w", encoding="utf-8") as out:
        section = ""
        for line in f:
            stripped = line.strip()
            if section == "\\1-grams:" and (not stripped or stripped.startswith("\\")):
                out.writelines(new_lines)  # the end of the unigrams
                section = ""
            if stripped.startswith("\\"):
                section = stripped
            elif section == "\\data\\" and stripped.startswith("ngram 1="):
                line = f"ngram 1={int(stripped.split('=', 1)[1]) + len(missing)}\n"
            elif section == "\\1-grams:":
                fields = line.split()
                if len(fields) >= 2 and fields[1] == UNK and missing:
                    line = "\t".join([shared, *fields[1:]]) + "\n"
            out.write(line)
    return len(missing)


def _read_unigrams(path: Path) -> tuple[set[str], float | None, bool]:
    """(the words, `<unk>`'s log10 probability, whether unigrams carry back-off weights: not in a 1-gram LM)."""
    words: set[str] = set()
    unk: float | None = None
    with open(path, encoding="utf-8") as f:
        has_backoff = any(line.strip().startswith("ngram 2=") for line in list(_header(f)))
        for fields in _unigram_fields(f):
            words.add(fields[1])
            if fields[1] == UNK:
                unk = float(fields[0])
    return words, unk, has_backoff


def _header(f: TextIO) -> Iterator[str]:
    for line in f:
        if line.strip() == "\\1-grams:":
            return
        yield line
    raise DataError(f"{f.name}: no \\1-grams: section; is it an ARPA file?")


def _unigram_fields(f: TextIO) -> Iterator[list[str]]:
    for line in f:
        if not line.strip():
            return
        fields = line.split()
        if len(fields) < 2:
            raise DataError(f"{f.name}: malformed unigram line {line.strip()!r}")
        yield fields
