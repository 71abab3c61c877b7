"""CTC beam search over the words of a lexicon with a word n-gram LM (shallow fusion), by flashlight's decoder.

flashlight-text's `LexiconDecoder` is the search behind wav2letter and torchaudio's `ctc_decoder`: a beam over
(position in a trie of the lexicon's spellings, LM state), the LM's best unigram score looked ahead into the trie,
KenLM built in, in C++ and as wheels. How our CTC models meet it:

- Its tokens are the model's output classes (the emission column is the label id) and its silence token is the
  vocabulary's " ", the word boundary our targets carry between words.
- Every word is spelled as its labels followed by " ": the model learned to emit a space between words, so a word
  ends exactly where its space is emitted and two words can never be glued together. The targets have no space
  after the last word, so each sequence gets one extra frame on which only the space is possible (log prob 0): it
  closes a last word at no cost, and a hypothesis that already stands between words stays there.
- A path's score is log p(am) + recog_lm_weight * ln p(lm) - recog_word_penalty per word. KenLM scores in log10;
  the weight is scaled by ln 10, so weight 1 counts the LM's probabilities like the acoustic model's.
- The best hypothesis's words are spelled back into label ids with the " " label between them: a `Decoder`
  returns labels, which `seqtrain recog` turns into text with the vocabulary.

`LexiconSearch` loads the lexicon and the LM once; `decode` takes the options per call, so `seqtrain recog --tune`
tries many weights on one loaded LM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from flashlight.lib.text.decoder import (
    LM,
    CriterionType,
    LexiconDecoder,
    LexiconDecoderOptions,
    SmearingMode,
    Trie,
    ZeroLM,
)
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary

from seqtrain.errors import ConfigError
from seqtrain.recog.lexicon import spell_lexicon_entries

WORD_BOUNDARY = " "
_IMPOSSIBLE = -1e5  # log score of the classes other than the boundary on the closing frame (finite for flashlight)


@dataclass(frozen=True)
class SearchOptions:
    """What may change between decodings with one loaded lexicon and LM (the tunable part)."""

    lm_weight: float
    word_penalty: float
    beam_size: int
    beam_threshold: float


class LexiconSearch:
    """The lexicon as a trie of spellings, built once, and the word LM, loaded anew for every `decode` call.

    Why anew: flashlight's KenLM wrapper keeps the LM states a search created, and a later search over the same
    outputs with the same settings can end differently (measured on the robust recipe: after a tuning grid's other
    points, one of 600 dev utterances changed a word), so a tuning grid's points would depend on their order. A fresh
    LM per call costs its load time per dataset and setting (a KenLM binary file loads in milliseconds).
    """

    def __init__(self, lexicon: Sequence[str] | str, vocab: Sequence[str], *, blank: int, lm_path: str | None) -> None:
        """`lexicon`: `recog_lexicon` (words, or a file of words or of words with their pronunciations)."""
        if WORD_BOUNDARY not in vocab:
            raise ConfigError(
                "ctc_beam: the target vocabulary has no ' ' label, which it needs as the word boundary "
                f"(vocabulary: {list(vocab)[:30]})"
            )
        self.boundary = list(vocab).index(WORD_BOUNDARY)
        if blank == self.boundary:
            raise ConfigError(f"ctc_beam: recog_blank_index {blank} is the ' ' label; the blank must be its own class")
        spelled = spell_lexicon_entries(lexicon, vocab)
        self.spellings = spelled.spellings  # per word, its pronunciation variants (a word alone: one spelling)
        self.blank = blank
        labels = [label for variants in self.spellings for spelling in variants for label in spelling]
        self.num_needed = max(blank, self.boundary, *labels) + 1
        self._words = Dictionary(spelled.words)
        self._lm_path = lm_path
        self._lm_scale = math.log(10.0) if lm_path is not None else 0.0  # KenLM's log10 -> natural log
        self._trie = self._build_trie(_load_lm(lm_path, self._words))  # the LM checked before any decoding

    def _build_trie(self, lm: LM) -> Trie:
        """The spellings with each word's unigram score (looked ahead: smeared, the best below each node)."""
        trie = Trie(self.num_needed, self.boundary)
        start = lm.start(False)
        for index, variants in enumerate(self.spellings):
            _, unigram = lm.score(start, index)
            for spelling in variants:
                trie.insert([*spelling, self.boundary], index, unigram)
        trie.smear(SmearingMode.MAX)
        return trie

    def decode(self, scores: torch.Tensor, lengths: torch.Tensor, options: SearchOptions) -> list[list[int]]:
        """`scores` [B, T, C] log probs (or logits: normalized here), `lengths` [B] -> the best word sequence of
        each, spelled in label ids with the boundary label between words."""
        num_classes = scores.shape[-1]
        if num_classes < self.num_needed:
            raise ConfigError(
                f"ctc_beam: the output has {num_classes} classes per frame, but the labels and the blank "
                f"(recog_blank_index {self.blank}) need {self.num_needed}; set recog_output to the CTC log probs"
            )
        decoder = LexiconDecoder(
            LexiconDecoderOptions(
                beam_size=options.beam_size,
                beam_size_token=num_classes,
                beam_threshold=options.beam_threshold,
                lm_weight=options.lm_weight * self._lm_scale,
                word_score=-options.word_penalty,
                unk_score=float("-inf"),
                sil_score=0.0,
                log_add=False,
                criterion_type=CriterionType.CTC,
            ),
            self._trie,
            _load_lm(self._lm_path, self._words),  # fresh: no states from an earlier search
            self.boundary,
            self.blank,
            -1,  # no unknown word: only lexicon words are hypothesized
            [],
            False,  # a word-level LM
        )
        log_probs = torch.log_softmax(scores.detach().float(), dim=-1).cpu().numpy()
        result = []
        for b in range(log_probs.shape[0]):
            frames = int(lengths[b])
            emissions = np.full((frames + 1, num_classes), _IMPOSSIBLE, dtype=np.float32)
            emissions[:frames] = log_probs[b, :frames]
            emissions[frames, self.boundary] = 0.0  # the closing frame: see the module docstring
            hypotheses = decoder.decode(emissions.ctypes.data, frames + 1, num_classes)
            words = [w for w in hypotheses[0].words if w >= 0] if hypotheses else []
            result.append(self._spell(words))
        return result

    def _spell(self, words: Sequence[int]) -> list[int]:
        labels: list[int] = []
        for i, word in enumerate(words):
            if i:
                labels.append(self.boundary)
            labels.extend(self.spellings[word][0])  # the canonical one: the vocabulary reads it back as the word
        return labels


def _load_lm(lm_path: str | None, words: Dictionary) -> LM:
    if lm_path is None:
        return ZeroLM()
    if not Path(lm_path).is_file():
        raise ConfigError(
            f"recog_lm: {lm_path} does not exist; build a word LM with `seqtrain lm --text TRAIN.jsonl "
            "--lexicon LEXICON --out lm.arpa` or set recog_lm = None to decode without one"
        )
    try:
        return KenLM(str(lm_path), words)
    except RuntimeError as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ConfigError(f"recog_lm: cannot load {lm_path} as an ARPA or KenLM binary LM: {reason}") from None
