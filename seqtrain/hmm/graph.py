"""The state graphs that alignments run through, and what an alignment of a batch looks like.

Every topology seqtrain aligns with (an HMM built from a label sequence, the CTC topology) is a
left-to-right chain of states per sequence: each frame either stays in its state (loop), moves to
the next one (forward), or jumps over one optional state (skip). Describing them all as such a chain
lets one vectorized Viterbi serve HMM and CTC alike, and lets linear alignment use the same states.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TransitionScores:
    """Log-domain scores added per frame transition (RASR's "time distortion penalties", negated).

    0 everywhere means the path score is the plain sum of the frame scores, as CTC defines it.
    """

    loop: float = 0.0
    forward: float = 0.0
    skip: float = 0.0


@dataclass(frozen=True)
class StateGraph:
    """A batch of left-to-right state chains, padded to the longest.

    classes [B, N] (long): the frame-score class each state emits; entries past `num_states` are ignored.
    num_states [B] (long): the chain length of each sequence.
    skippable [B, N] (bool): the path may jump over this state (from the state before it to the one
      after). A skippable first state means the path may start in the second state; a skippable last
      state means it may end in the one before it.
    """

    classes: torch.Tensor
    num_states: torch.Tensor
    skippable: torch.Tensor

    def __post_init__(self) -> None:
        if self.classes.dim() != 2 or self.skippable.shape != self.classes.shape:
            raise ValueError(
                f"StateGraph: classes {tuple(self.classes.shape)} and skippable {tuple(self.skippable.shape)} "
                "must both be [batch, states]"
            )
        if self.num_states.shape != (self.classes.shape[0],):
            raise ValueError(f"StateGraph: num_states {tuple(self.num_states.shape)} must be [batch]")
        if self.classes.shape[0] and int(self.num_states.max()) > self.classes.shape[1]:
            raise ValueError("StateGraph: num_states exceeds the padded number of states")
        if self.classes.shape[0] and int(self.num_states.min()) < 1:
            raise ValueError("StateGraph: every sequence needs at least one state")

    @property
    def batch_size(self) -> int:
        return int(self.classes.shape[0])

    def state_mask(self) -> torch.Tensor:
        """[B, N] bool: which padded entries are real states."""
        positions = torch.arange(self.classes.shape[1], device=self.classes.device)
        return positions[None, :] < self.num_states.to(self.classes.device)[:, None]

    def to(self, device: torch.device | str) -> StateGraph:
        return StateGraph(self.classes.to(device), self.num_states.to(device), self.skippable.to(device))


@dataclass(frozen=True)
class Alignment:
    """The alignment of a batch: one state and one class per frame.

    state_path [B, T] (long): index into the sequence's state chain; -1 on padded frames and for
      sequences that have no valid alignment.
    frame_classes [B, T] (long): the class of that state (what a frame-wise CE loss trains on);
      `pad_class` on padded frames and for infeasible sequences.
    scores [B]: the score of the path (sum of frame scores and transition scores); -inf if infeasible.
    """

    state_path: torch.Tensor
    frame_classes: torch.Tensor
    scores: torch.Tensor

    @property
    def feasible(self) -> torch.Tensor:
        """[B] bool: False where the sequence has too few frames for its states."""
        return torch.isfinite(self.scores)


def frame_mask(frame_lengths: torch.Tensor, max_frames: int) -> torch.Tensor:
    """[B, T] bool: True on the real frames of each sequence."""
    positions = torch.arange(max_frames, device=frame_lengths.device)
    return positions[None, :] < frame_lengths[:, None]


def classes_along(graph: StateGraph, state_path: torch.Tensor, pad_class: int) -> torch.Tensor:
    """[B, T] frame classes of a state path; `pad_class` where the path is -1."""
    classes = graph.classes.gather(1, state_path.clamp(min=0))
    return classes.masked_fill(state_path < 0, pad_class)
