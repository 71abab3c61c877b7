"""Vocabularies: characters, words, SentencePiece BPE; unknown and blank labels; vocabulary files."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from seqtrain.data.vocab import CharacterVocab, SentencePieceVocab, VocabError, WordVocab, make_vocab, read_labels
from seqtrain.errors import ConfigError


def test_characters_with_blank_appended() -> None:
    vocab = CharacterVocab(" abc", blank_label="<b>")
    assert vocab.encode("ab c") == [1, 2, 0, 3] and vocab.num_labels == 5 and vocab.blank_index == 4
    assert vocab.decode([1, 4, 2, 0, 3]) == "ab c"
    with pytest.raises(VocabError, match="symbol 'd' is not in the vocabulary and there is no unknown_label"):
        vocab.encode("abd")


def test_words_with_unknown_label() -> None:
    vocab = WordVocab(["<unk>", "one", "two"], unknown_label="<unk>")
    assert vocab.encode("one  two three") == [1, 2, 0] and vocab.decode([1, 2]) == "one two"
    with pytest.raises(ConfigError, match="unknown_label '<UNK>' is not one of the labels"):
        WordVocab(["one"], unknown_label="<UNK>")


@pytest.mark.parametrize(
    ("name", "text"),
    [("labels.txt", " \na\nb\n"), ("labels.json", '[" ", "a", "b"]'), ("labels.py", "{'a': 1, ' ': 0, 'b': 2}")],
)
def test_vocabulary_files(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    assert read_labels(tmp_path / name) == [" ", "a", "b"]
    assert make_vocab({"class": "chars", "vocab_file": str(tmp_path / name)}, where="x").encode("ba ") == [2, 1, 0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"class": "letters", "labels": "ab"}, "unknown vocab class 'letters'"),
        ({"class": "chars"}, "give exactly one of `labels` and `vocab_file`"),
        ({"class": "chars", "labels": "aba"}, r"duplicate labels \['a'\]"),
        ({"class": "chars", "labels": "ab", "unk": "a"}, "unexpected keyword argument 'unk'"),
        ("chars", "vocab must be a Vocabulary or a dict with 'class'"),
    ],
)
def test_vocab_config_errors(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_vocab(spec, where="dataset 'train'")


def test_sentencepiece_bpe(tmp_path: Path) -> None:
    import sentencepiece as spm

    sentences = ["one two three four five", "two three", "three four five six", "seven eight nine zero"] * 20
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=str(tmp_path / "bpe"), vocab_size=40, model_type="bpe",
        character_coverage=1.0, minloglevel=2,
    )  # fmt: skip
    vocab = make_vocab({"class": "SentencePieceVocab", "model_file": str(tmp_path / "bpe.model")}, where="x")
    assert vocab.num_labels == 40 and vocab.unknown_label == "<unk>"
    ids = vocab.encode("three four five")
    assert vocab.decode(ids) == "three four five" and len(ids) < len("three four five")
    assert vocab.encode("qqq").count(vocab.index["<unk>"]) >= 1  # unseen characters map to <unk>
    clone = pickle.loads(pickle.dumps(vocab))  # DataLoader workers get a copy
    assert isinstance(clone, SentencePieceVocab) and clone.encode("two three") == vocab.encode("two three")
