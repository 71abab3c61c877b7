"""`recog_lexicon`: the words a decoder may hypothesize, and how each is written in the model's labels.

A list of words, or a text file with one entry per line. An entry is a word alone, spelled with the target
vocabulary's entries (characters: "hello" -> h e l l o), or a word followed by its units, a pronunciation in
Kaldi's lexicon.txt layout ("east i: s t"), for models whose labels are phonemes (`LexiconVocab` of the same
file). A word may have several pronunciation lines: each is a way to say it, and the decoder tries them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seqtrain.data.pronunciation import lexicon_lines
from seqtrain.errors import ConfigError


@dataclass(frozen=True)
class SpelledLexicon:
    """The unique words in lexicon order, and each word's spellings in label ids (its first is canonical)."""

    words: list[str]
    spellings: list[list[list[int]]]


def spell_lexicon(words: Sequence[str], vocab: Sequence[str]) -> list[list[int]]:
    """Each word as vocabulary entries, longest match first ("hello" -> h e l l o with a character vocabulary)."""
    index = {entry: i for i, entry in enumerate(vocab) if entry}
    longest = max((len(entry) for entry in index), default=1)
    spelled = []
    for word in words:
        labels, position = [], 0
        while position < len(word):
            for size in range(min(longest, len(word) - position), 0, -1):
                if word[position : position + size] in index:
                    labels.append(index[word[position : position + size]])
                    position += size
                    break
            else:
                raise ConfigError(
                    f"recog_lexicon: word {word!r} cannot be spelled with the target vocabulary: no entry matches "
                    f"{word[position:]!r}; use words written in the vocabulary's characters"
                )
        spelled.append(labels)
    return spelled


def read_lexicon_entries(lexicon: Sequence[str] | str) -> list[tuple[str, tuple[str, ...]]]:
    """(word, units) per entry of `recog_lexicon`, units empty where the word is to be spelled by the vocabulary."""
    if not isinstance(lexicon, str):
        entries = [(word, ()) for word in lexicon]
    else:
        try:
            with open(lexicon, encoding="utf-8") as f:
                entries = [(word, units) for _, word, units in lexicon_lines(f)]
        except OSError as e:
            raise ConfigError(f"recog_lexicon: cannot read {lexicon!r}: {e.strerror or e}") from e
    if not entries:
        raise ConfigError("recog_lexicon is empty: give the words to recognize, or None for a free loop of labels")
    bad = [w for w, _ in entries if not isinstance(w, str) or not w or any(c.isspace() for c in w)]
    if bad:
        raise ConfigError(f"recog_lexicon: {bad[:3]!r} are no words (one non-empty word without spaces each)")
    return entries


def read_lexicon(lexicon: Sequence[str] | str) -> list[str]:
    """The unique words of `recog_lexicon`, in order."""
    return list(dict.fromkeys(word for word, _ in read_lexicon_entries(lexicon)))


def spell_lexicon_entries(lexicon: Sequence[str] | str, vocab: Sequence[str]) -> SpelledLexicon:
    """The lexicon's words with their spellings: given units looked up in `vocab`, bare words spelled by it."""
    index = {entry: i for i, entry in enumerate(vocab)}
    where = f"lexicon file {lexicon}" if isinstance(lexicon, str) else "recog_lexicon"
    entries = read_lexicon_entries(lexicon)
    bare = [word for word, units in entries if not units]
    try:
        spelled = dict(zip(bare, spell_lexicon(bare, vocab), strict=True))  # one vocabulary index for all of them
    except ConfigError as e:
        raise ConfigError(f"{e} ({where})") from None
    spellings: dict[str, list[list[int]]] = {}
    for word, units in entries:
        if not units:
            labels = spelled[word]
        else:
            missing = [u for u in units if u not in index]
            if missing:
                raise ConfigError(
                    f"recog_lexicon: word {word!r} is pronounced with {missing[:3]!r}, which the target vocabulary "
                    f"lacks ({where}); the model's labels must be the lexicon's units (a LexiconVocab of this file)"
                )
            labels = [index[u] for u in units]
        variants = spellings.setdefault(word, [])
        if labels not in variants:
            variants.append(labels)
    return SpelledLexicon(list(spellings), list(spellings.values()))
