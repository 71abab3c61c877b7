"""hmm_viterbi decoding: the word-loop Viterbi must find what trying every word sequence finds.

The reference is independent of the decoder: every word sequence of up to three words is force-aligned
with `viterbi_align` (its own graph, its own forward pass) and the best-scoring one wins.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from seqtrain.config import Config
from seqtrain.config.settings import AlignmentSettings, RecogSettings
from seqtrain.errors import ConfigError
from seqtrain.hmm.topology import HmmTopology
from seqtrain.hmm.viterbi import viterbi_align
from seqtrain.recog.decoders import make_decoder
from seqtrain.recog.word_loop import build_word_loop, hmm_viterbi_decode


def _settings(config: Config) -> tuple[RecogSettings, AlignmentSettings]:
    return RecogSettings.from_config(config), AlignmentSettings.from_config(config)


def _lexicon_sequences(topology: HmmTopology, words: list[list[int]], frames: int) -> list[tuple[list[int], int]]:
    """(labels, number of words) of every word sequence short enough to fit `frames`."""
    states = topology.states_per_label
    shortest = min(len(w) for w in words) * states + (states if topology.word_separator is not None else 0)
    candidates: list[tuple[list[int], int]] = [([], 0)] if topology.silence else []
    for count in range(1, frames // max(shortest, 1) + 2):
        for combo in itertools.product(words, repeat=count):
            labels: list[int] = []
            for i, word in enumerate(combo):
                if i > 0 and topology.word_separator is not None:
                    labels.append(topology.word_separator)
                labels += word
            candidates.append((labels, count))
    return candidates


def _label_sequences(topology: HmmTopology, frames: int) -> list[tuple[list[int], int]]:
    """(labels, number of non-separator labels) of every sequence a free label loop allows in `frames`."""
    separator = topology.word_separator
    candidates: list[tuple[list[int], int]] = [([], 0)] if topology.silence else []
    for count in range(1, frames // topology.states_per_label + 1):
        for labels in itertools.product(range(topology.num_labels), repeat=count):
            text = list(labels)
            if separator in (text[0], text[-1]) or any(a == b == separator for a, b in itertools.pairwise(text)):
                continue
            candidates.append((text, count - text.count(separator)))
    return candidates


def _best_by_trying_all(
    scores: torch.Tensor, topology: HmmTopology, candidates: list[tuple[list[int], int]], penalty: float = 0.0
) -> tuple[float, list[int]]:
    """Force-aligns every candidate (with `viterbi_align`'s own graph) and keeps the best score."""
    best: tuple[float, list[int]] = (float("-inf"), [])
    for labels, num_words in candidates:
        graph, _ = topology.graph(torch.tensor([labels or [0]]), torch.tensor([len(labels)]))
        score = float(viterbi_align(scores, torch.tensor([scores.shape[1]]), graph).scores[0]) - penalty * num_words
        if score > best[0]:
            best = (score, labels)
    return best


TOPOLOGIES = {
    "separator, optional silence": HmmTopology(num_labels=4, states_per_label=2, word_separator=3),
    "silence required": HmmTopology(num_labels=4, states_per_label=2, word_separator=3, optional_silence=False),
    "no separator, skips": HmmTopology(num_labels=3, states_per_label=3, skip_within_label=True),
    "no silence at all": HmmTopology(num_labels=3, states_per_label=2, silence=False),
}


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
def test_the_lexicon_loop_finds_the_best_word_sequence(name: str) -> None:
    topology = TOPOLOGIES[name]
    words = [[0], [1, 2], [2, 0]] if topology.word_separator is not None else [[0, 1], [2]]
    loop = build_word_loop(topology, words, word_penalty=0.5)
    generator = torch.Generator().manual_seed(7)
    for _ in range(12):
        frames = int(torch.randint(5, 11, (1,), generator=generator))
        scores = (3 * torch.randn(1, frames, topology.num_classes, generator=generator)).log_softmax(-1)
        candidates = _lexicon_sequences(topology, words, frames)
        expected_score, expected = _best_by_trying_all(scores, topology, candidates, penalty=0.5)
        got = hmm_viterbi_decode(scores, torch.tensor([frames]), loop)[0]
        if expected_score == float("-inf"):
            assert got == []
        else:
            assert got == expected, (frames, scores.argmax(-1).tolist())


def test_without_a_lexicon_any_label_sequence_is_possible() -> None:
    topology = HmmTopology(num_labels=3, states_per_label=2, word_separator=2)
    loop = build_word_loop(topology, None, word_penalty=0.3)
    generator = torch.Generator().manual_seed(3)
    for _ in range(12):
        scores = (3 * torch.randn(1, 9, topology.num_classes, generator=generator)).log_softmax(-1)
        _, expected = _best_by_trying_all(scores, topology, _label_sequences(topology, 9), penalty=0.3)
        assert hmm_viterbi_decode(scores, torch.tensor([9]), loop)[0] == expected


def test_a_batch_decodes_each_sequence_to_its_own_length() -> None:
    topology = HmmTopology(num_labels=3, states_per_label=2, word_separator=2)
    loop = build_word_loop(topology, [[0], [1, 1]])
    generator = torch.Generator().manual_seed(5)
    scores = (3 * torch.randn(3, 10, topology.num_classes, generator=generator)).log_softmax(-1)
    lengths = torch.tensor([10, 6, 1])
    batch = hmm_viterbi_decode(scores, lengths, loop)
    for b in range(3):
        alone = hmm_viterbi_decode(scores[b : b + 1, : int(lengths[b])], lengths[b : b + 1], loop)
        assert batch[b] == alone[0]
    assert batch[2] == []  # one frame: only silence fits (a word needs two states)


def test_one_hot_states_decode_exactly_and_the_penalty_removes_weak_words() -> None:
    topology = HmmTopology(num_labels=3, states_per_label=2, word_separator=2)  # silence: class 6
    loop = build_word_loop(topology, [[0], [1, 0]])
    frames = [6, 2, 3, 0, 1, 4, 5, 6, 0, 0, 1, 6]  # silence "1 0" separator pause "0" silence
    scores = torch.nn.functional.one_hot(torch.tensor(frames), 7).float().mul(10).log_softmax(-1)[None]
    assert hmm_viterbi_decode(scores, torch.tensor([12]), loop) == [[1, 0, 2, 0]]
    greedy_like_glitch = torch.full((1, 6, 7), -1.0)
    greedy_like_glitch[0, :, 6] = 0.0  # silence slightly better everywhere ...
    greedy_like_glitch[0, 2:4, 0:2] = torch.tensor([[0.5, -5.0], [-5.0, 0.5]])  # ... but for a short "0"
    assert hmm_viterbi_decode(greedy_like_glitch, torch.tensor([6]), loop) == [[0]]
    strict = build_word_loop(topology, [[0], [1, 0]], word_penalty=2.0)
    assert hmm_viterbi_decode(greedy_like_glitch, torch.tensor([6]), strict) == [[]]


def test_the_decoder_from_the_config_reads_the_lexicon_and_the_topology() -> None:
    vocab = [" ", "a", "b"]
    config = Config.from_dict(
        {
            "recog_decoder": "hmm_viterbi",
            "recog_lexicon": ["ab", "b"],
            "align_states_per_label": 1,
            "align_word_separator": " ",
        }
    )
    decode = make_decoder(*_settings(config), torch.nn.Linear(1, 1), num_labels=3, vocab=vocab)
    frames = [3, 1, 2, 0, 3, 2, 3]  # silence a b " " silence b silence
    scores = torch.nn.functional.one_hot(torch.tensor(frames), 4).float().mul(10).log_softmax(-1)[None]
    assert decode(scores, torch.tensor([7])) == [[1, 2, 0, 2]]
    with pytest.raises(ConfigError, match="hmm_viterbi: the output has 5 classes per frame"):
        decode(torch.zeros(1, 3, 5), torch.tensor([3]))
    with pytest.raises(ConfigError, match="needs the target vocabulary"):
        make_decoder(
            *_settings(config.with_values({"align_word_separator": 0})), torch.nn.Linear(1, 1), num_labels=3, vocab=None
        )
