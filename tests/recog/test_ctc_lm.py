"""ctc_beam: flashlight's lexicon beam search over CTC log probs, with a word n-gram LM or none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from seqtrain.config import Config
from seqtrain.config.settings import AlignmentSettings, RecogSettings
from seqtrain.data.vocab import LexiconVocab
from seqtrain.errors import ConfigError
from seqtrain.recog import ctc_lm
from seqtrain.recog.ctc import ctc_greedy_decode
from seqtrain.recog.decoders import Decoder, make_decoder
from seqtrain.recog.wer import labels_to_text
from tests.recog.helpers import VOCAB, frames, write_arpa

load_lm = ctc_lm._load_lm  # the real loader, for a test that counts its calls

# "a", then "b" or "c" with "c" a little more likely, then blank: acoustically "ac", the LM prefers "ab"
AB_OR_AC = frames({"a": 0.9}, {"b": 0.4, "c": 0.5}, {"-": 0.9})


def ctc_beam(vocab: tuple[str, ...] = VOCAB, cache: dict[object, object] | None = None, **values: Any) -> Decoder:
    config = Config.from_dict({"recog_decoder": "ctc_beam", "recog_lexicon": ["ab", "ac"], **values})
    recog, align = RecogSettings.from_config(config), AlignmentSettings.from_config(config)
    return make_decoder(recog, align, torch.nn.Identity(), num_labels=len(vocab), vocab=vocab, cache=cache)


def texts(decoder: Decoder, scores: torch.Tensor, lengths: list[int] | None = None) -> list[str]:
    lengths_tensor = torch.tensor(lengths or [scores.shape[1]] * scores.shape[0])
    return [labels_to_text(labels, VOCAB) for labels in decoder(scores, lengths_tensor)]


def test_the_lm_weight_flips_the_acoustically_best_word(tmp_path: Path) -> None:
    lm = str(write_arpa(tmp_path))
    greedy = ctc_greedy_decode(AB_OR_AC, torch.tensor([3]), blank=len(VOCAB))
    assert labels_to_text(greedy[0], VOCAB) == "ac"
    assert texts(ctc_beam(), AB_OR_AC) == ["ac"]  # no LM: the lexicon alone
    assert texts(ctc_beam(recog_lm=lm, recog_lm_weight=0.0), AB_OR_AC) == ["ac"]
    assert texts(ctc_beam(recog_lm=lm, recog_lm_weight=0.03), AB_OR_AC) == ["ac"]  # 0.03 * 4.8 < ln(0.5 / 0.4)
    assert texts(ctc_beam(recog_lm=lm, recog_lm_weight=1.0), AB_OR_AC) == ["ab"]


def test_words_are_separated_where_the_model_emits_the_boundary(tmp_path: Path) -> None:
    two_words = torch.cat([AB_OR_AC, frames({" ": 0.9}), AB_OR_AC], dim=1)
    lm = str(write_arpa(tmp_path))
    assert texts(ctc_beam(), two_words) == ["ac ac"]
    assert texts(ctc_beam(recog_lm=lm, recog_lm_weight=1.0), two_words) == ["ab ab"]
    # each sequence decoded over its own frames: the padding of the shorter one is never read
    padded = torch.cat([two_words, torch.cat([AB_OR_AC, frames({"c": 1.0}, {"c": 1.0}, {"c": 1.0}, {"c": 1.0})], 1)])
    assert texts(ctc_beam(), padded, [7, 3]) == ["ac ac", "ac"]
    assert texts(ctc_beam(), frames({"-": 1.0}, {" ": 1.0}), [0]) == [""]  # no frames, no words


def test_the_word_penalty_trades_one_word_against_two() -> None:
    # "a", then the boundary or a blank equally likely, then "b": the words "a b" or the word "ab", same acoustics
    scores = frames({"a": 0.9}, {" ": 0.45, "-": 0.45}, {"b": 0.9})
    lexicon = ["a", "b", "ab"]
    assert texts(ctc_beam(recog_lexicon=lexicon, recog_word_penalty=1.0), scores) == ["ab"]
    assert texts(ctc_beam(recog_lexicon=lexicon, recog_word_penalty=-1.0), scores) == ["a b"]


def test_only_lexicon_words_come_out() -> None:
    spelled_ca = frames({"c": 0.9}, {"-": 0.9}, {"a": 0.9}, {"-": 0.9})
    assert labels_to_text(ctc_greedy_decode(spelled_ca, torch.tensor([4]), blank=len(VOCAB))[0], VOCAB) == "ca"
    noise = torch.randn(8, 12, len(VOCAB) + 1, generator=torch.Generator().manual_seed(0)).log_softmax(-1)
    for text in texts(ctc_beam(), torch.cat([torch.cat([spelled_ca, spelled_ca, spelled_ca], 1), noise])):
        assert set(text.split()) <= {"ab", "ac"}


def test_a_pronunciation_lexicon_spells_words_in_units_and_tries_every_variant(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.phones.txt"
    lexicon.write_text("tea a b\nsea a c\nsea b c\n")  # units a b c: a LexiconVocab of it has VOCAB's labels
    vocab = LexiconVocab(str(lexicon))
    assert tuple(vocab.labels) == VOCAB
    decoder = ctc_beam(recog_lexicon=str(lexicon))
    assert vocab.decode(decoder(AB_OR_AC, torch.tensor([3]))[0]) == "sea"  # "a c" beats "a b", as with letters
    spoken_bc = frames({"b": 0.9}, {"-": 0.9}, {"c": 0.9})
    labels = decoder(torch.cat([spoken_bc, frames({" ": 0.9}), AB_OR_AC], 1), torch.tensor([7]))[0]
    assert [vocab.labels[i] for i in labels] == ["a", "c", " ", "a", "c"]  # "b c" is sea's variant: canonical out
    assert vocab.decode(labels) == "sea sea"


def test_the_blank_may_be_any_class_but_the_boundary(tmp_path: Path) -> None:
    blank_first = ("<blank>", *VOCAB)
    scores = frames({"a": 0.9}, {"b": 0.4, "c": 0.5}, {"-": 0.9}, blank=0, vocab=blank_first)
    decoder = ctc_beam(blank_first, recog_blank_index=0, recog_lm=str(write_arpa(tmp_path)), recog_lm_weight=1.0)
    assert [labels_to_text(labels, blank_first) for labels in decoder(scores, torch.tensor([3]))] == ["ab"]
    with pytest.raises(ConfigError, match="recog_blank_index 0 is the ' ' label"):
        ctc_beam(recog_blank_index=0)
    with pytest.raises(ConfigError, match="the output has 4 classes per frame, but the labels and the blank"):
        ctc_beam()(AB_OR_AC[..., :4], torch.tensor([3]))


def test_a_tuning_run_builds_the_lexicon_search_once_and_loads_a_fresh_lm_per_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str | None] = []

    def counting_load(lm_path: str | None, words: Any) -> Any:
        loads.append(lm_path)
        return load_lm(lm_path, words)

    monkeypatch.setattr(ctc_lm, "_load_lm", counting_load)
    cache: dict[object, object] = {}
    lm = str(write_arpa(tmp_path))
    weights = [ctc_beam(cache=cache, recog_lm=lm, recog_lm_weight=w) for w in (0.0, 1.0, 0.0)]
    assert len(cache) == 1 and loads == [lm]  # one search: its lexicon trie, the LM checked once
    # flashlight's KenLM keeps a search's states for the next one, so each decoding gets its own LM: a grid point
    # decodes the same whatever was decoded before it (the robust recipe's dev changed a word otherwise)
    assert [texts(d, AB_OR_AC)[0] for d in weights] == ["ac", "ab", "ac"]
    assert loads == [lm] * 4


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"recog_lm: .*missing.arpa does not exist; build a word LM with `seqtrain lm"
    ):
        ctc_beam(recog_lm=str(tmp_path / "missing.arpa"))
    broken = tmp_path / "broken.arpa"
    broken.write_text("not an LM\n")
    with pytest.raises(ConfigError, match=r"recog_lm: cannot load .*broken.arpa as an ARPA or KenLM binary LM"):
        ctc_beam(recog_lm=str(broken))
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("ab\nabd\n")
    with pytest.raises(ConfigError, match=r"word 'abd' cannot be spelled .*\(lexicon file .*lexicon.txt\)"):
        ctc_beam(recog_lexicon=str(lexicon))
    with pytest.raises(ConfigError, match="ctc_beam needs recog_lexicon"):
        ctc_beam(recog_lexicon=None)
    with pytest.raises(ConfigError, match="the target vocabulary has no ' ' label"):
        ctc_beam(("a", "b", "c"))
    with pytest.raises(ConfigError, match=r"'recog_lm_weight'.*must be >= 0"):
        ctc_beam(recog_lm_weight=-1.0)
