"""Pronunciation lexicon files (word + units per line) and the LexiconVocab that makes phoneme targets of them."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from seqtrain.data.pronunciation import lexicon_units, read_pronunciations
from seqtrain.data.vocab import LexiconVocab, VocabError, make_vocab
from seqtrain.errors import ConfigError

LEXICON = "east i: s t\nfish f I S\neither i: D 3\neither aI D 3\nseven s E v @ n\n"


@pytest.fixture
def lexicon(tmp_path: Path) -> str:
    path = tmp_path / "lexicon.phones.txt"
    path.write_text(LEXICON)
    return str(path)


def test_read_pronunciations_keeps_variants_in_order(lexicon: str) -> None:
    words = read_pronunciations(lexicon, where="test")
    assert list(words) == ["east", "fish", "either", "seven"]
    assert words["either"] == [("i:", "D", "3"), ("aI", "D", "3")]
    assert lexicon_units(words) == ["3", "@", "D", "E", "I", "S", "aI", "f", "i:", "n", "s", "t", "v"]


def test_lexicon_vocab_targets_are_canonical_pronunciations(lexicon: str) -> None:
    vocab = make_vocab({"class": "LexiconVocab", "lexicon": lexicon, "blank_label": "<blank>"}, where="test")
    assert isinstance(vocab, LexiconVocab)
    assert vocab.labels[0] == " " and vocab.labels[-1] == "<blank>" and vocab.num_labels == 15
    ids = vocab.encode("either east  fish")
    assert [vocab.labels[i] for i in ids] == ["i:", "D", "3", " ", "i:", "s", "t", " ", "f", "I", "S"]
    assert vocab.decode(ids) == "either east fish"
    variant = [vocab.index[u] for u in ("aI", "D", "3")]
    assert vocab.decode([vocab.blank_index or 0, *variant, vocab.blank_index or 0]) == "either"  # any variant
    assert vocab.decode([vocab.index[u] for u in ("f", "I", " ", " ", "s", "t")]) == "[f_I] [s_t]"  # no word
    assert vocab.decode([]) == ""
    assert pickle.loads(pickle.dumps(vocab)).encode("seven") == vocab.encode("seven")  # DataLoader workers


def test_a_word_outside_the_lexicon_is_named(lexicon: str) -> None:
    with pytest.raises(VocabError, match=r"word 'west' is not in the pronunciation lexicon .*lexicon.phones.txt"):
        LexiconVocab(lexicon).encode("east west")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("east i: s t\nfish\n", r"line 2: word 'fish' has no pronunciation \(write `WORD UNIT UNIT \.\.\.`\)"),
        ("\n\n", "lists no words"),
        ("space _ s\n", "the word boundary '_' is also a unit"),
    ],
)
def test_bad_lexicon_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lexicon.txt"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        LexiconVocab(str(path), word_boundary="_")
    with pytest.raises(ConfigError, match=r"LexiconVocab: cannot read the pronunciation lexicon .*missing"):
        LexiconVocab(str(tmp_path / "missing.txt"))
