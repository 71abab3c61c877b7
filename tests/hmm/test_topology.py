"""HMM state chains from label sequences: classes, optional states, names."""

from __future__ import annotations

import pytest
import torch

from seqtrain.hmm.topology import HmmTopology


def test_chain_with_states_silences_and_skips() -> None:
    topology = HmmTopology(num_labels=3, states_per_label=3, word_separator=0, skip_within_label=True)
    assert topology.num_classes == 10 and topology.silence_index == 9
    chain = topology.chain([1, 0, 2])
    assert chain.classes == [9, 3, 4, 5, 0, 1, 2, 9, 6, 7, 8, 9]
    # silences are optional; within a label every state but the last may be jumped over
    assert chain.skippable == [True, True, True, False, True, True, False, True, True, True, False, True]
    assert chain.silence == [True] + [False] * 6 + [True] + [False] * 3 + [True]


def test_separator_at_the_end_adds_no_second_silence() -> None:
    assert HmmTopology(num_labels=2, word_separator=1).chain([0, 1]).classes == [2, 0, 1, 2]


def test_silence_mapped_onto_an_existing_class_and_mandatory() -> None:
    topology = HmmTopology(num_labels=3, silence_class=0, optional_silence=False)
    assert topology.num_classes == 3
    chain = topology.chain([1, 2])
    assert chain.classes == [0, 1, 2, 0]
    assert chain.skippable == [False, False, False, False]


def test_empty_label_sequence() -> None:
    assert HmmTopology(num_labels=2).chain([]).classes == [2]
    with pytest.raises(ValueError, match="nothing to align"):
        HmmTopology(num_labels=2, silence=False).chain([])


def test_batched_graph_pads_and_counts_states() -> None:
    graph, silence = HmmTopology(num_labels=2).graph(torch.tensor([[0, 1], [1, 9]]), torch.tensor([2, 1]))
    assert graph.num_states.tolist() == [4, 3]
    assert graph.classes[1, :3].tolist() == [2, 1, 2]
    assert silence.tolist() == [[True, False, False, True], [True, False, True, False]]


def test_class_names_and_bad_values() -> None:
    assert HmmTopology(num_labels=2, states_per_label=2).class_names(["a", " "]) == [
        "a.0",
        "a.1",
        " .0",
        " .1",
        "[silence]",
    ]
    with pytest.raises(ValueError, match="label 5 at position 1"):
        HmmTopology(num_labels=3).chain([0, 5])
    with pytest.raises(ValueError, match="word_separator 4"):
        HmmTopology(num_labels=3, word_separator=4)
    with pytest.raises(ValueError, match="silence_class 7"):
        HmmTopology(num_labels=3, silence_class=7)
