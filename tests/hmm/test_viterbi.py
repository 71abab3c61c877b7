"""Viterbi through left-to-right state chains: a hand-made HMM, and brute force over every state path."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from seqtrain.hmm.graph import StateGraph, TransitionScores
from seqtrain.hmm.viterbi import viterbi_align


def graph_of(chains: list[tuple[list[int], list[bool]]]) -> StateGraph:
    width = max(len(c) for c, _ in chains)
    classes = torch.zeros(len(chains), width, dtype=torch.long)
    skippable = torch.zeros(len(chains), width, dtype=torch.bool)
    for b, (c, s) in enumerate(chains):
        classes[b, : len(c)] = torch.tensor(c)
        skippable[b, : len(s)] = torch.tensor(s)
    return StateGraph(classes, torch.tensor([len(c) for c, _ in chains]), skippable)


def test_tiny_hmm_with_a_known_best_path() -> None:
    """Three states a -> b -> c over five frames; the frame probabilities make [a, a, b, c, c] best.

    Its score is the sum of the chosen log-probabilities (transition scores 0): 0.7*0.6*0.7*0.6*0.8,
    against 0.7*0.6*0.7*0.3*0.8 for [a, a, b, b, c] and 0.7*0.3*0.7*0.6*0.8 for [a, b, b, c, c].
    """
    probs = torch.tensor(
        [
            [0.7, 0.2, 0.1],
            [0.6, 0.3, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.3, 0.6],
            [0.1, 0.1, 0.8],
        ],
        dtype=torch.float64,
    )
    graph = graph_of([([0, 1, 2], [False, False, False])])
    result = viterbi_align(probs.log()[None], torch.tensor([5]), graph)
    assert result.state_path.tolist() == [[0, 0, 1, 2, 2]]
    assert result.frame_classes.tolist() == [[0, 0, 1, 2, 2]]
    assert float(result.scores[0]) == pytest.approx(math.log(0.7 * 0.6 * 0.7 * 0.6 * 0.8))

    # A forward score of +1 per state change cannot change the best path: every path makes exactly two.
    shifted = viterbi_align(probs.log()[None], torch.tensor([5]), graph, transitions=TransitionScores(forward=1.0))
    assert shifted.state_path.tolist() == [[0, 0, 1, 2, 2]]
    assert float(shifted.scores[0]) == pytest.approx(math.log(0.7 * 0.6 * 0.7 * 0.6 * 0.8) + 2.0)


def test_skip_over_an_optional_state_and_optional_ends() -> None:
    """Silence (class 0) is optional at both ends and between a and b; the frames never look like silence."""
    # chain: sil a sil b sil; the frames say a, a, b, b
    probs = torch.tensor([[0.05, 0.9, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.05, 0.05, 0.9]]).double()
    optional = ([0, 1, 0, 2, 0], [True, False, True, False, True])
    result = viterbi_align(probs.log()[None], torch.tensor([4]), graph_of([optional]))
    assert result.state_path.tolist() == [[1, 1, 3, 3]]
    assert float(result.scores[0]) == pytest.approx(4 * math.log(0.9))
    # The same chain with mandatory silences must spend a frame in each: 5 states need 5 frames.
    mandatory = ([0, 1, 0, 2, 0], [False] * 5)
    result = viterbi_align(probs.log()[None], torch.tensor([4]), graph_of([mandatory]))
    assert not bool(result.feasible[0])
    assert result.state_path.tolist() == [[-1, -1, -1, -1]]


def all_state_paths(chain: list[int], skippable: list[bool], num_frames: int):
    num_states = len(chain)
    for path in itertools.product(range(num_states), repeat=num_frames):
        starts = {0} | ({1} if skippable[0] and num_states > 1 else set())
        ends = {num_states - 1} | ({num_states - 2} if skippable[-1] and num_states > 1 else set())
        if path[0] not in starts or path[-1] not in ends:
            continue
        steps = [b - a for a, b in itertools.pairwise(path)]
        if all(s in (0, 1) or (s == 2 and skippable[a + 1]) for a, s in zip(path, steps, strict=False)):
            yield path, steps


def brute_force(scores: torch.Tensor, chain: list[int], skippable: list[bool], transitions: TransitionScores):
    best = None
    for path, steps in all_state_paths(chain, skippable, scores.shape[0]):
        total = sum(float(scores[t, chain[s]]) for t, s in enumerate(path))
        total += sum((transitions.loop, transitions.forward, transitions.skip)[s] for s in steps)
        if best is None or total > best[0]:
            best = (total, list(path))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_batched_viterbi_equals_brute_force_with_padding(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    transitions = TransitionScores(loop=-0.3, forward=-0.7, skip=-1.9)
    chains = [
        ([0, 1, 2, 3], [True, False, True, True]),
        ([2, 0, 1], [False, True, False]),
        ([3, 0, 3, 1, 2], [False, True, True, False, False]),
        ([1], [False]),
    ]
    frame_lengths = [6, 4, 3, 2]
    scores = torch.randn(4, 6, 4, generator=generator, dtype=torch.float64).log_softmax(-1)
    result = viterbi_align(scores, torch.tensor(frame_lengths), graph_of(chains), transitions=transitions, pad_class=-5)
    for b, (chain, skippable) in enumerate(chains):
        frames = frame_lengths[b]
        expected = brute_force(scores[b, :frames], chain, skippable, transitions)
        if expected is None:
            assert not bool(result.feasible[b])
            continue
        assert float(result.scores[b]) == pytest.approx(expected[0], abs=1e-12)
        assert result.state_path[b, :frames].tolist() == expected[1]
        assert result.frame_classes[b, :frames].tolist() == [chain[s] for s in expected[1]]
        assert result.state_path[b, frames:].tolist() == [-1] * (6 - frames)
        assert result.frame_classes[b, frames:].tolist() == [-5] * (6 - frames)


def test_float32_input_and_zero_length_sequence() -> None:
    scores = torch.randn(2, 3, 2).log_softmax(-1)
    result = viterbi_align(scores, torch.tensor([3, 0]), graph_of([([0, 1], [False, False])] * 2))
    assert bool(result.feasible[0]) and not bool(result.feasible[1])
    assert result.state_path[1].tolist() == [-1, -1, -1]


def test_inconsistent_inputs_are_rejected() -> None:
    graph = graph_of([([0, 5], [False, False])])
    with pytest.raises(ValueError, match="classes range"):
        viterbi_align(torch.zeros(1, 3, 4), torch.tensor([3]), graph)
    with pytest.raises(ValueError, match="frame_lengths up to 9"):
        viterbi_align(torch.zeros(1, 3, 6), torch.tensor([9]), graph)
    with pytest.raises(ValueError, match="batch sizes differ"):
        viterbi_align(torch.zeros(2, 3, 6), torch.tensor([3, 3]), graph)
