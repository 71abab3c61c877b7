"""Linear alignment: hand-derived frame labels, silence handling, per-sequence lengths."""

from __future__ import annotations

import pytest
import torch

from seqtrain.hmm.linear import linear_alignment, spread_evenly
from seqtrain.hmm.topology import HmmTopology

SIL = 3  # with 3 labels and one state each, silence is class 3


def align_one(labels: list[int], frames: int, topology: HmmTopology, **kwargs) -> list[int]:
    result = linear_alignment(
        torch.tensor([labels]), torch.tensor([len(labels)]), torch.tensor([frames]), topology, **kwargs
    )
    assert bool(result.feasible[0])
    return result.frame_classes[0].tolist()


def test_spread_evenly_gives_every_state_a_frame_and_shares_the_rest() -> None:
    # 7 spare frames over 5 equal states: boundaries round(7 * k/5) = 1, 3, 4, 6, 7
    assert spread_evenly(12, torch.ones(5)).tolist() == [2, 3, 2, 3, 2]
    assert spread_evenly(5, torch.ones(5)).tolist() == [1, 1, 1, 1, 1]
    assert spread_evenly(15, torch.tensor([3.0, 1.0, 1.0, 3.0])).tolist() == [5, 3, 2, 5]
    with pytest.raises(ValueError, match="4 frames cannot hold 5 states"):
        spread_evenly(4, torch.ones(5))


def test_labels_with_silence_at_start_and_end() -> None:
    topology = HmmTopology(num_labels=3)
    assert align_one([0, 1, 2], 10, topology) == [SIL, SIL, 0, 0, 1, 1, 2, 2, SIL, SIL]
    # silence states three times as long as a label state: 11 spare frames split 3:1:1:3
    assert align_one([0, 1], 15, topology, silence_weight=3.0) == [SIL] * 5 + [0] * 3 + [1] * 2 + [SIL] * 5


def test_hmm_states_and_silence_between_words() -> None:
    """Label 2 separates words; 2 states per label: label l -> classes 2l, 2l+1; silence = class 6."""
    topology = HmmTopology(num_labels=3, states_per_label=2, word_separator=2)
    assert align_one([0, 2, 1], 9, topology) == [6, 0, 1, 4, 5, 6, 2, 3, 6]
    # 7 frames cannot hold the 9 states: the three optional silences go, 1 spare frame goes to the 4th state
    assert align_one([0, 2, 1], 7, topology) == [0, 1, 4, 5, 5, 2, 3]


def test_batch_respects_lengths_and_reports_too_short_sequences() -> None:
    topology = HmmTopology(num_labels=3)
    labels = torch.tensor([[0, 1, 2], [2, 0, 0], [1, 1, 1]])
    result = linear_alignment(labels, torch.tensor([3, 1, 3]), torch.tensor([10, 4, 2]), topology)
    assert result.frame_classes.tolist() == [
        [SIL, SIL, 0, 0, 1, 1, 2, 2, SIL, SIL],
        [SIL, 2, 2, SIL] + [SIL] * 6,  # padded frames get the silence class
        [SIL] * 10,  # 3 labels cannot fit 2 frames: no alignment
    ]
    assert result.feasible.tolist() == [True, True, False]
    assert result.state_path[1].tolist() == [0, 1, 1, 2] + [-1] * 6
    assert result.state_path[2].tolist() == [-1] * 10


def test_without_silence_labels_fill_all_frames() -> None:
    topology = HmmTopology(num_labels=3, silence=False)
    assert topology.num_classes == 3
    assert align_one([2, 0], 5, topology) == [2, 2, 2, 0, 0]  # boundary round(3 * 1/2) = 2 (half to even)


def test_silence_weight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="silence_weight"):
        linear_alignment(
            torch.tensor([[0]]), torch.tensor([1]), torch.tensor([3]), HmmTopology(num_labels=3), silence_weight=0.0
        )
