"""Linear alignment: the states of each sequence spread evenly over its frames.

The starting point of HMM-style training when no model exists yet ("flat start"): a frame-wise CE
model is trained on it, and its Viterbi alignment replaces it (see `hmm_viterbi`). Every state gets
at least one frame; the remaining frames are shared in proportion to the state weights (silence
states may get more or less than label states via `silence_weight`). When a sequence has fewer
frames than states, its optional (skippable) states are dropped; if it is still too short, it has
no linear alignment (`Alignment.feasible` is False) rather than one that silently loses labels.
"""

from __future__ import annotations

import numpy as np
import torch

from seqtrain.hmm.graph import Alignment, StateGraph, classes_along
from seqtrain.hmm.topology import HmmTopology


def spread_evenly(num_frames: int, weights: np.ndarray | torch.Tensor) -> np.ndarray:
    """Frames per state: 1 each, plus the rest split by `weights` with cumulative rounding (exact sum).

    Cumulative rounding gives each boundary at round(total * cumulative weight share), so equal
    weights give lengths that differ by at most one frame and the order of states does not bias them.
    (numpy, not torch: per sequence, torch's per-call overhead, threaded on a busy machine, was 100x the work.)
    """
    weights = np.asarray(weights, dtype=np.float64)
    num_states = int(weights.shape[0])
    if num_frames < num_states:
        raise ValueError(f"{num_frames} frames cannot hold {num_states} states")
    spare = num_frames - num_states
    boundaries = np.round(np.cumsum(weights) / weights.sum() * spare).astype(np.int64)
    boundaries[-1] = spare
    return np.diff(boundaries, prepend=0) + 1


def linear_align(
    graph: StateGraph,
    frame_lengths: torch.Tensor,
    *,
    silence: torch.Tensor | None = None,
    silence_weight: float = 1.0,
    pad_class: int = 0,
) -> Alignment:
    """Linear alignment of a batch. `silence` [B, N] marks the states weighted by `silence_weight`.

    The returned scores are 0 where an alignment exists and -inf where the sequence is too short.
    """
    if silence_weight <= 0:
        raise ValueError(f"silence_weight must be > 0, got {silence_weight}")
    frames = frame_lengths.cpu().numpy().astype(np.int64)
    batch, max_frames = graph.batch_size, int(frames.max()) if frames.size else 0
    path = np.full((batch, max_frames), -1, dtype=np.int64)
    scores = np.zeros(batch, dtype=np.float32)
    skippable = graph.skippable.cpu().numpy()
    is_silence = silence.cpu().numpy() if silence is not None else np.zeros_like(skippable)
    num_states = graph.num_states.cpu().numpy()
    for b in range(batch):
        states = np.arange(num_states[b])
        if frames[b] < len(states):
            states = states[~skippable[b, : len(states)]]
        if frames[b] < max(len(states), 1):
            scores[b] = -np.inf
            continue
        weights = np.where(is_silence[b, states], silence_weight, 1.0)
        path[b, : frames[b]] = np.repeat(states, spread_evenly(int(frames[b]), weights))
    state_path = torch.from_numpy(path).to(graph.classes.device)
    return Alignment(
        state_path, classes_along(graph, state_path, pad_class), torch.from_numpy(scores).to(graph.classes.device)
    )


def linear_alignment(
    labels: torch.Tensor,
    label_lengths: torch.Tensor,
    frame_lengths: torch.Tensor,
    topology: HmmTopology,
    *,
    silence_weight: float = 1.0,
    pad_class: int | None = None,
) -> Alignment:
    """Linear alignment of padded label sequences [B, U] over `frame_lengths` frames, in `topology`'s classes.

    Padded frames get `pad_class` (default: the silence class, or 0 without silence).
    """
    graph, silence = topology.graph(labels, label_lengths)
    if pad_class is None:
        pad_class = topology.silence_index if topology.uses_silence else 0
    return linear_align(graph, frame_lengths, silence=silence, silence_weight=silence_weight, pad_class=pad_class)
