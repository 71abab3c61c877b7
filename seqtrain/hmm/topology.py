"""From a label sequence to the chain of HMM states a frame-wise model is aligned with and trained on.

Each label has `states_per_label` states (e.g. 3 for begin/middle/end), emitting the classes
label * states_per_label + k; silence is one more class (by default the last one). Silence states
sit at the start and end of each sequence and, optionally, after each word separator (e.g. the " "
character); they are optional (skippable) by default, since not every recording pauses there. The
class numbering is what the CE-trained model's output layer must have: `HmmTopology.num_classes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqtrain.hmm.graph import StateGraph


@dataclass(frozen=True)
class StateChain:
    """The states of one sequence: their classes, which may be skipped, and which are silence."""

    classes: list[int]
    skippable: list[bool]
    silence: list[bool]


@dataclass(frozen=True)
class HmmTopology:
    """How labels become HMM states.

    `silence`: a silence state at the start and at the end. `word_separator`: a label index after
    which a silence state is inserted (None = none). `optional_silence`: silence states may be
    skipped by the Viterbi path (linear alignment drops them only when frames are too few).
    `skip_within_label`: a path may jump over any state of a label but its last one, so a label
    can be shorter than `states_per_label` frames but never disappears.
    """

    num_labels: int
    states_per_label: int = 1
    silence: bool = True
    silence_class: int | None = None
    word_separator: int | None = None
    optional_silence: bool = True
    skip_within_label: bool = False

    def __post_init__(self) -> None:
        if self.num_labels < 1 or self.states_per_label < 1:
            raise ValueError(f"HmmTopology: num_labels={self.num_labels} and states_per_label must be >= 1")
        if self.silence_class is not None and not 0 <= self.silence_class < self.num_classes:
            raise ValueError(f"HmmTopology: silence_class {self.silence_class} not in [0, {self.num_classes})")
        if self.word_separator is not None and not 0 <= self.word_separator < self.num_labels:
            raise ValueError(f"HmmTopology: word_separator {self.word_separator} not in [0, {self.num_labels})")

    @property
    def uses_silence(self) -> bool:
        return self.silence or self.word_separator is not None

    @property
    def num_classes(self) -> int:
        """Label states, plus one silence class if silence is used and not mapped onto a label state."""
        label_classes = self.num_labels * self.states_per_label
        return label_classes + (1 if self.uses_silence and self.silence_class is None else 0)

    @property
    def silence_index(self) -> int:
        if self.silence_class is not None:
            return self.silence_class
        return self.num_labels * self.states_per_label

    def chain(self, labels: Sequence[int]) -> StateChain:
        """The state chain of one label sequence."""
        classes: list[int] = []
        skippable: list[bool] = []
        silence: list[bool] = []

        def add_silence() -> None:
            classes.append(self.silence_index)
            skippable.append(self.optional_silence)
            silence.append(True)

        if self.silence:
            add_silence()
        for position, label in enumerate(labels):
            if not 0 <= label < self.num_labels:
                raise ValueError(f"label {label} at position {position} is not in [0, {self.num_labels})")
            for k in range(self.states_per_label):
                classes.append(label * self.states_per_label + k)
                skippable.append(self.skip_within_label and k < self.states_per_label - 1)
                silence.append(False)
            if label == self.word_separator and position < len(labels) - 1:
                add_silence()
        if self.silence and labels:
            add_silence()
        if not classes:
            raise ValueError("empty label sequence and no silence states: there is nothing to align the frames to")
        return StateChain(classes, skippable, silence)

    def graph(self, labels: torch.Tensor, label_lengths: torch.Tensor) -> tuple[StateGraph, torch.Tensor]:
        """State chains of a padded batch [B, U]: the graph, and [B, N] which states are silence."""
        chains = [self.chain(labels[b, : int(label_lengths[b])].tolist()) for b in range(labels.shape[0])]
        return chains_to_graph(chains)

    def class_names(self, vocab: Sequence[str] | None) -> list[str]:
        """Readable names of all classes ("a.0", "a.1", ..., "[silence]"), stored next to alignments."""
        names = []
        for label in range(self.num_labels):
            name = vocab[label] if vocab is not None and label < len(vocab) else str(label)
            for k in range(self.states_per_label):
                names.append(name if self.states_per_label == 1 else f"{name}.{k}")
        if self.num_classes > len(names):
            names.append("[silence]")
        return names


def chains_to_graph(chains: Sequence[StateChain]) -> tuple[StateGraph, torch.Tensor]:
    """Pads per-sequence chains into a batched `StateGraph` (and the silence mask)."""
    max_states = max((len(c.classes) for c in chains), default=1)
    classes = torch.zeros((len(chains), max_states), dtype=torch.long)
    skippable = torch.zeros((len(chains), max_states), dtype=torch.bool)
    silence = torch.zeros((len(chains), max_states), dtype=torch.bool)
    for b, chain in enumerate(chains):
        n = len(chain.classes)
        classes[b, :n] = torch.tensor(chain.classes, dtype=torch.long)
        skippable[b, :n] = torch.tensor(chain.skippable, dtype=torch.bool)
        silence[b, :n] = torch.tensor(chain.silence, dtype=torch.bool)
    num_states = torch.tensor([len(c.classes) for c in chains], dtype=torch.long)
    return StateGraph(classes, num_states, skippable), silence
