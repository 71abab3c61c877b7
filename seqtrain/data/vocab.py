"""Vocabularies that turn transcripts into label sequences: characters, words, SentencePiece pieces, phonemes.

In a config: `{"class": "CharacterVocab", "labels": " abcdefghijklmnopqrstuvwxyz"}`, `{"class": "WordVocab",
"vocab_file": "words.txt", "unknown_label": "<unk>"}`, `{"class": "SentencePieceVocab", "model_file":
"bpe.model"}`, `{"class": "LexiconVocab", "lexicon": "lexicon.phones.txt"}` (each word's units from a
pronunciation lexicon, `seqtrain.data.pronunciation`), or an instance. A symbol that is not in the vocabulary
maps to `unknown_label` when there is one, else it is an error naming the symbol (so a stray character never
silently becomes another label; a word missing from a LexiconVocab's lexicon is an error naming the word).
`blank_label` (CTC) is appended after the labels unless the labels contain it; `blank_index` says where.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

from seqtrain.data.pronunciation import Pronunciation, lexicon_units, read_pronunciations
from seqtrain.errors import ConfigError, DataError


class VocabError(DataError):
    """A transcript holds a symbol that is not in the vocabulary (and there is no unknown label)."""


def read_labels(path: str | Path) -> list[str]:
    """One label per line (the line's text without its newline), a JSON list/dict, or RETURNN's dict literal."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"vocabulary file {path} does not exist")
    text = path.read_text(encoding="utf8")
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(stripped) if path.suffix == ".json" else ast.literal_eval(stripped)
        except (ValueError, SyntaxError) as e:
            raise ConfigError(f"vocabulary file {path}: cannot parse ({e})") from e
        if isinstance(value, dict):  # label -> index
            if sorted(value.values()) != list(range(len(value))):
                raise ConfigError(f"vocabulary file {path}: indices must be 0..{len(value) - 1} without gaps")
            return [label for label, _ in sorted(value.items(), key=lambda kv: kv[1])]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ConfigError(f"vocabulary file {path}: expected a list of labels or a dict label -> index")
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


class Vocabulary:
    """Labels with their indices; `split` cuts a transcript into symbols, `join` glues decoded symbols."""

    separator = ""

    def __init__(
        self,
        labels: Sequence[str] | str | None = None,
        *,
        vocab_file: str | None = None,
        unknown_label: str | None = None,
        blank_label: str | None = None,
    ) -> None:
        if (labels is None) == (vocab_file is None):
            raise ConfigError(f"{type(self).__name__}: give exactly one of `labels` and `vocab_file`")
        self.labels = list(labels) if labels is not None else read_labels(vocab_file or "")
        if len(set(self.labels)) != len(self.labels):
            dup = sorted({x for x in self.labels if self.labels.count(x) > 1})
            raise ConfigError(f"{type(self).__name__}: duplicate labels {dup[:5]}")
        if blank_label is not None and blank_label not in self.labels:
            self.labels.append(blank_label)
        self.index = {label: i for i, label in enumerate(self.labels)}
        if unknown_label is not None and unknown_label not in self.index:
            raise ConfigError(f"{type(self).__name__}: unknown_label {unknown_label!r} is not one of the labels")
        self.unknown_label = unknown_label
        self.blank_label = blank_label

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def blank_index(self) -> int | None:
        return self.index[self.blank_label] if self.blank_label is not None else None

    def split(self, text: str) -> list[str]:
        return list(text)

    def encode(self, text: str) -> list[int]:
        out = []
        for symbol in self.split(text):
            idx = self.index.get(symbol)
            if idx is None:
                if self.unknown_label is None:
                    raise VocabError(f"symbol {symbol!r} is not in the vocabulary and there is no unknown_label")
                idx = self.index[self.unknown_label]
            out.append(idx)
        return out

    def decode(self, ids: Sequence[int]) -> str:
        return self.separator.join(self.labels[i] for i in ids if i != self.blank_index)


class CharacterVocab(Vocabulary):
    """One label per character (spaces included)."""


class WordVocab(Vocabulary):
    """One label per whitespace-separated word."""

    separator = " "

    def split(self, text: str) -> list[str]:
        return text.split()


class SentencePieceVocab(Vocabulary):
    """Subword pieces of a trained SentencePiece model (BPE or unigram); deterministic segmentation."""

    def __init__(self, model_file: str, *, blank_label: str | None = None) -> None:
        import sentencepiece as spm

        if not Path(model_file).is_file():
            raise ConfigError(f"SentencePiece model {model_file} does not exist")
        self.model_file = str(model_file)
        self._sp = spm.SentencePieceProcessor(model_file=self.model_file)
        pieces = [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())]
        unk = self._sp.id_to_piece(self._sp.unk_id()) if self._sp.unk_id() >= 0 else None
        super().__init__(pieces, unknown_label=unk, blank_label=blank_label)

    def encode(self, text: str) -> list[int]:
        return list(self._sp.encode(text, out_type=int))

    def decode(self, ids: Sequence[int]) -> str:
        blank = self.blank_index
        return str(self._sp.decode([int(i) for i in ids if i != blank and i < self._sp.get_piece_size()]))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_sp"]  # rebuilt from the file in DataLoader workers
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import sentencepiece as spm

        self.__dict__.update(state)
        self._sp = spm.SentencePieceProcessor(model_file=self.model_file)


class LexiconVocab(Vocabulary):
    """Each word as the units of its canonical pronunciation (the lexicon's first), `word_boundary` between words.

    The labels are the boundary followed by the lexicon's units, sorted, so one lexicon file always gives the same
    label ids. The boundary plays the part a character vocabulary's space plays: a CTC model emits it between
    words, and `ctc_beam` closes a word on it. Decoding maps each run of units between boundaries back to its word
    (a run that is no pronunciation in the lexicon is shown as its units in brackets and scores as a wrong word);
    words that share a pronunciation (homophones) read back as the first of them in the file.
    """

    separator = " "

    def __init__(self, lexicon: str, *, word_boundary: str = " ", blank_label: str | None = None) -> None:
        self.lexicon_file = str(lexicon)
        self.pronunciations = read_pronunciations(lexicon, where="LexiconVocab")
        units = lexicon_units(self.pronunciations)
        if word_boundary in units:
            raise ConfigError(f"LexiconVocab: the word boundary {word_boundary!r} is also a unit in {lexicon}")
        super().__init__([word_boundary, *units], blank_label=blank_label)
        self.word_boundary = word_boundary
        self.words_of: dict[Pronunciation, str] = {}
        for word, variants in self.pronunciations.items():
            for units_of_word in variants:
                self.words_of.setdefault(units_of_word, word)

    def split(self, text: str) -> list[str]:
        symbols: list[str] = []
        for i, word in enumerate(text.split()):
            variants = self.pronunciations.get(word)
            if variants is None:
                raise VocabError(f"word {word!r} is not in the pronunciation lexicon {self.lexicon_file}; add it there")
            if i:
                symbols.append(self.word_boundary)
            symbols.extend(variants[0])
        return symbols

    def decode(self, ids: Sequence[int]) -> str:
        labels = [self.labels[i] for i in ids if i != self.blank_index and 0 <= i < len(self.labels)]
        boundary = self.word_boundary
        runs = [
            tuple(run) for is_boundary, run in groupby(labels, key=lambda label: label == boundary) if not is_boundary
        ]
        return " ".join(self.words_of.get(run, f"[{'_'.join(run)}]") for run in runs)


VOCAB_CLASSES: dict[str, type[Vocabulary]] = {
    "CharacterVocab": CharacterVocab,
    "chars": CharacterVocab,
    "WordVocab": WordVocab,
    "words": WordVocab,
    "SentencePieceVocab": SentencePieceVocab,
    "spm": SentencePieceVocab,
    "LexiconVocab": LexiconVocab,
}


def make_vocab(spec: Any, *, where: str) -> Vocabulary:
    """A Vocabulary instance, or a dict {"class": name, ...options}."""
    if isinstance(spec, Vocabulary):
        return spec
    if not isinstance(spec, dict) or "class" not in spec:
        raise ConfigError(f"{where}: vocab must be a Vocabulary or a dict with 'class' ({sorted(VOCAB_CLASSES)})")
    opts = dict(spec)
    name = opts.pop("class")
    cls = VOCAB_CLASSES.get(name) if isinstance(name, str) else name
    if not (isinstance(cls, type) and issubclass(cls, Vocabulary)):
        raise ConfigError(f"{where}: unknown vocab class {name!r}; known: {sorted(VOCAB_CLASSES)}")
    try:
        return cls(**opts)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from e
