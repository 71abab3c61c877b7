"""recog_lexicon: words spelled by the vocabulary, or given with their pronunciations (units of a phoneme model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqtrain.errors import ConfigError
from seqtrain.recog.lexicon import read_lexicon, spell_lexicon, spell_lexicon_entries


def test_lexicon_spelling_and_reading(tmp_path: Path) -> None:
    vocab = [" ", "a", "b", "ab", "c"]
    assert spell_lexicon(["abc", "ba"], vocab) == [[3, 4], [2, 1]]
    with pytest.raises(ConfigError, match=r"word 'abd' cannot be spelled .*'d'"):
        spell_lexicon(["abd"], vocab)
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("one\n\ntwo\none\n")
    assert read_lexicon(str(lexicon)) == ["one", "two"]
    with pytest.raises(ConfigError, match=r"recog_lexicon: cannot read .*missing\.txt"):
        read_lexicon(str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigError, match="recog_lexicon is empty"):
        read_lexicon([])
    with pytest.raises(ConfigError, match="are no words"):
        read_lexicon(["two words"])


def test_pronunciations_spell_words_in_the_given_units(tmp_path: Path) -> None:
    vocab = [" ", "@", "aI", "i:", "s", "t", "D", "3"]
    lexicon = tmp_path / "lexicon.phones.txt"
    lexicon.write_text("east i: s t\neither i: D 3\n\neither aI D 3\neither i: D 3\n")
    spelled = spell_lexicon_entries(str(lexicon), vocab)
    assert spelled.words == ["east", "either"]
    assert spelled.spellings == [[[3, 4, 5]], [[3, 6, 7], [2, 6, 7]]]  # variants in file order, repeats dropped
    assert read_lexicon(str(lexicon)) == ["east", "either"]


def test_bare_words_and_pronunciations_mix() -> None:
    spelled = spell_lexicon_entries(["ab"], [" ", "a", "b"])
    assert (spelled.words, spelled.spellings) == (["ab"], [[[1, 2]]])


def test_a_unit_the_vocabulary_lacks_is_named(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.phones.txt"
    lexicon.write_text("east i: s t\nthe D @\n")
    with pytest.raises(ConfigError, match=r"word 'the' is pronounced with \['D', '@'\], which the target vocab"):
        spell_lexicon_entries(str(lexicon), [" ", "i:", "s", "t"])
    with pytest.raises(ConfigError, match=r"word 'the' cannot be spelled .*\(recog_lexicon\)"):
        spell_lexicon_entries(["the"], [" ", "i:", "s", "t"])
