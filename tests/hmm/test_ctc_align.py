"""CTC forced alignment against brute force over every CTC path, on hand-made and random examples."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from seqtrain.hmm.ctc_align import ctc_forced_align, ctc_graph, min_ctc_frames

BLANK = 2  # labels 0 and 1, blank 2


def collapse(path: tuple[int, ...], blank: int) -> list[int]:
    """CTC's many-to-one map: merge repeats, then drop blanks."""
    out = []
    previous = None
    for symbol in path:
        if symbol != previous and symbol != blank:
            out.append(symbol)
        previous = symbol
    return out


def brute_force_best_path(log_probs: torch.Tensor, labels: list[int], blank: int):
    """(score, frame labels) of the best of all |V|^T frame label sequences that collapse to `labels`."""
    best = None
    num_frames, vocab = log_probs.shape
    for path in itertools.product(range(vocab), repeat=num_frames):
        if collapse(path, blank) == labels:
            score = sum(float(log_probs[t, s]) for t, s in enumerate(path))
            if best is None or score > best[0]:
                best = (score, list(path))
    return best


def test_hand_made_example() -> None:
    """Labels [0, 0] in 4 frames: a blank must separate the two 0s. Frame 1 prefers 0, frame 2 blank.

    Valid paths put the blank at frame 1 or 2 (or add one at an end): the best is 0, 0, blank, 0 with
    probability 0.8 * 0.6 * 0.7 * 0.9.
    """
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.1, 0.3], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]], dtype=torch.float64)
    result = ctc_forced_align(
        probs.log()[None], torch.tensor([4]), torch.tensor([[0, 0]]), torch.tensor([2]), blank=BLANK
    )
    assert result.frame_classes.tolist() == [[0, 0, BLANK, 0]]
    assert result.state_path.tolist() == [[1, 1, 2, 3]]  # chain: blank 0 blank 0 blank
    assert float(result.scores[0]) == pytest.approx(math.log(0.8 * 0.6 * 0.7 * 0.9))


def test_repeated_labels_need_a_blank_in_between() -> None:
    """[0, 0] in 2 frames has no CTC path (it would collapse to [0]); [0, 1] in 2 frames has exactly one."""
    log_probs = torch.zeros(2, 2, 3)
    result = ctc_forced_align(
        log_probs, torch.tensor([2, 2]), torch.tensor([[0, 0], [0, 1]]), torch.tensor([2, 2]), blank=BLANK
    )
    assert result.feasible.tolist() == [False, True]
    assert result.frame_classes[1].tolist() == [0, 1]
    assert min_ctc_frames(torch.tensor([[0, 0, 1, 1], [0, 1, 0, 1]]), torch.tensor([4, 3])).tolist() == [6, 3]


@pytest.mark.parametrize("seed", range(8))
def test_equals_brute_force_over_all_paths_in_a_padded_batch(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    frame_lengths = [6, 5, 3, 2, 6]
    label_seqs = [[0, 1, 1], [1, 0], [1, 1], [], [0, 0, 0]]
    log_probs = (2 * torch.randn(5, 6, 3, generator=generator, dtype=torch.float64)).log_softmax(-1)
    labels = torch.full((5, 3), 99, dtype=torch.long)  # padding must not matter
    labels[0::2] = -7
    for b, seq in enumerate(label_seqs):
        labels[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    result = ctc_forced_align(
        log_probs, torch.tensor(frame_lengths), labels, torch.tensor([len(s) for s in label_seqs]), blank=BLANK
    )
    for b, seq in enumerate(label_seqs):
        frames = frame_lengths[b]
        expected = brute_force_best_path(log_probs[b, :frames], seq, BLANK)
        assert expected is not None
        assert float(result.scores[b]) == pytest.approx(expected[0], abs=1e-12)
        assert result.frame_classes[b, :frames].tolist() == expected[1]
        assert collapse(tuple(result.frame_classes[b, :frames].tolist()), BLANK) == seq
        assert result.frame_classes[b, frames:].tolist() == [BLANK] * (
            6 - frames
        )  # RETURNN's ctc_best_path pads with blank


def test_too_few_frames_is_reported_not_raised() -> None:
    log_probs = torch.zeros(2, 3, 3).log_softmax(-1)
    result = ctc_forced_align(
        log_probs, torch.tensor([3, 2]), torch.tensor([[0, 0], [0, 1]]), torch.tensor([2, 2]), blank=BLANK
    )
    assert result.feasible.tolist() == [True, True]
    result = ctc_forced_align(
        log_probs, torch.tensor([2, 1]), torch.tensor([[0, 0], [0, 1]]), torch.tensor([2, 2]), blank=BLANK
    )
    assert result.feasible.tolist() == [False, False]
    assert result.state_path.tolist() == [[-1, -1, -1], [-1, -1, -1]]


def test_graph_marks_skippable_blanks() -> None:
    graph = ctc_graph(torch.tensor([[3, 3, 4]]), torch.tensor([3]), blank=0)
    assert graph.classes.tolist() == [[0, 3, 0, 3, 0, 4, 0]]
    # first and last blank are optional, the one between the repeated 3s is not, the one between 3 and 4 is
    assert graph.skippable.tolist() == [[True, False, False, False, True, False, True]]


def test_blank_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="blank index 3"):
        ctc_forced_align(torch.zeros(1, 2, 3), torch.tensor([2]), torch.tensor([[0]]), torch.tensor([1]), blank=3)
