"""Pronunciation lexicons: each word with the units (phonemes) it is spoken as, in Kaldi's lexicon.txt layout.

    zero z i@ r oU
    east i: s t
    either i: D 3
    either aI D 3

One word per line followed by its units, separated by whitespace; a word may have several lines (pronunciation
variants, the first is its canonical one). Both ends of a phoneme model use the same file: `LexiconVocab` turns
training transcripts into unit targets with it, and `recog_lexicon` spells the words a decoder may hypothesize with
it. Why phonemes: English spelling is irregular, so a character model must learn each word's spelling from that
word's own examples; phonemes are shared by every word that has them, so a small corpus teaches each unit from far
more examples (and a pronunciation dictionary, or a grapheme-to-phoneme tool such as espeak-ng's `-x`, supplies
the lexicon).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from seqtrain.errors import ConfigError

Pronunciation = tuple[str, ...]


def lexicon_lines(lines: Iterable[str]) -> Iterator[tuple[int, str, Pronunciation]]:
    """(line number, word, units) of each non-blank line; units are empty for a word alone on its line."""
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if fields:
            yield number, fields[0], tuple(fields[1:])


def read_pronunciations(path: str | Path, *, where: str) -> dict[str, list[Pronunciation]]:
    """word -> its pronunciations in file order (duplicates dropped); errors name `where`, the file and the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"{where}: cannot read the pronunciation lexicon {path}: {e.strerror or e}") from e
    lexicon: dict[str, list[Pronunciation]] = {}
    for number, word, units in lexicon_lines(lines):
        if not units:
            raise ConfigError(
                f"{where}: {path}, line {number}: word {word!r} has no pronunciation (write `WORD UNIT UNIT ...`)"
            )
        variants = lexicon.setdefault(word, [])
        if units not in variants:
            variants.append(units)
    if not lexicon:
        raise ConfigError(f"{where}: the pronunciation lexicon {path} lists no words")
    return lexicon


def lexicon_units(lexicon: dict[str, list[Pronunciation]]) -> list[str]:
    """Every unit the lexicon uses, sorted (the label order of a vocabulary made from it)."""
    return sorted({unit for variants in lexicon.values() for units in variants for unit in units})
