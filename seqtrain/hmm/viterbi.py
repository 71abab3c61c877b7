"""Viterbi forced alignment: the best path of a batch of frame sequences through their state chains.

Log domain, vectorized over batch and states; the only Python loops run over time (forward pass and
backtracking), so a batch of 32 x 500 frames through ~120 states costs about a thousand small tensor
ops instead of millions of Python steps. Sequence lengths are respected: each sequence's best score
is taken at its own last frame, and its path is traced back from there. The decisions are kept as
two bool tensors [T, B, N], the only memory that grows with the product of the sizes.
"""

from __future__ import annotations

import numpy as np
import torch

from seqtrain.hmm.graph import Alignment, StateGraph, TransitionScores, classes_along

_SKIP = 2  # a skip transition comes from two states back (a loop from 0, forward from 1)
NO_TRANSITION_SCORES = TransitionScores()


def viterbi_align(
    frame_scores: torch.Tensor,
    frame_lengths: torch.Tensor,
    graph: StateGraph,
    *,
    transitions: TransitionScores = NO_TRANSITION_SCORES,
    pad_class: int = 0,
) -> Alignment:
    """The best path of every sequence through its chain of states.

    `frame_scores` [B, T, C]: log-domain score of each class per frame (log-probs, or log-probs minus
    scaled log-priors for a hybrid model). `frame_lengths` [B]. A path starts in the first state (or the
    second, if the first is skippable), ends in the last (or the one before, if the last is skippable),
    and scores the sum of its frames' class scores plus one transition score per frame step.
    Sequences with fewer frames than their shortest path get score -inf and path -1 (see
    `Alignment.feasible`); nothing is raised, so one bad sequence does not stop a batch.
    """
    _check_inputs(frame_scores, frame_lengths, graph)
    max_frames = frame_scores.shape[1]
    device = frame_scores.device
    graph = graph.to(device)
    scores = frame_scores if frame_scores.dtype in (torch.float32, torch.float64) else frame_scores.float()
    lengths = frame_lengths.to(device=device, dtype=torch.long)
    emissions = _emission_scores(scores, graph)  # [T, B, N]
    final, forward_wins, skip_wins = _forward(emissions, lengths, graph, transitions)
    end_states, best = _best_end(final, graph)
    best = torch.where(lengths > 0, best, torch.full_like(best, float("-inf")))
    state_path = _backtrack(forward_wins, skip_wins, end_states, lengths, max_frames)
    state_path = state_path.masked_fill(~torch.isfinite(best)[:, None], -1)
    return Alignment(state_path, classes_along(graph, state_path, pad_class), best)


def _check_inputs(frame_scores: torch.Tensor, frame_lengths: torch.Tensor, graph: StateGraph) -> None:
    if frame_scores.dim() != 3:
        raise ValueError(f"frame_scores must be [batch, time, classes], got shape {tuple(frame_scores.shape)}")
    if frame_lengths.shape != (frame_scores.shape[0],) or graph.batch_size != frame_scores.shape[0]:
        raise ValueError(
            f"batch sizes differ: frame_scores {frame_scores.shape[0]}, frame_lengths {tuple(frame_lengths.shape)}, "
            f"graph {graph.batch_size}"
        )
    if frame_scores.shape[0] and int(frame_lengths.max()) > frame_scores.shape[1]:
        raise ValueError(f"frame_lengths up to {int(frame_lengths.max())} but only {frame_scores.shape[1]} frames")
    used = graph.classes[graph.state_mask()]
    if used.numel() and (int(used.min()) < 0 or int(used.max()) >= frame_scores.shape[2]):
        raise ValueError(
            f"state classes range over [{int(used.min())}, {int(used.max())}] but frame_scores has "
            f"{frame_scores.shape[2]} classes"
        )


def _emission_scores(scores: torch.Tensor, graph: StateGraph) -> torch.Tensor:
    """[T, B, N]: each state's frame score; -inf for padded states, so no path can use them.

    Gathered time-major from scores with an extra -inf class that padded states point to: one copy
    of the small [T, B, C] input instead of masking and transposing the larger [B, T, N] result.
    """
    max_frames, batch, num_classes = scores.shape[1], scores.shape[0], scores.shape[2]
    padded_class = torch.full((max_frames, batch, 1), float("-inf"), dtype=scores.dtype, device=scores.device)
    time_major = torch.cat([scores.transpose(0, 1), padded_class], dim=2)
    index = torch.where(graph.state_mask(), graph.classes.clamp(0, num_classes - 1), num_classes)
    return time_major.gather(2, index[None].expand(max_frames, -1, -1))


def _forward(
    emissions: torch.Tensor, lengths: torch.Tensor, graph: StateGraph, transitions: TransitionScores
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best score of each state at each sequence's last frame [B, N], and the decisions [T, B, N]:
    whether the forward transition beat the loop, and whether the skip beat both.

    Every buffer is allocated once and updated in place, and the decisions are written straight
    into their [T, B, N] tensors: at these sizes the loop is bound by per-op overhead (7 ops per
    frame). Ties prefer the loop, then the forward transition.
    """
    max_frames, batch, num_states = emissions.shape
    neg_inf = float("-inf")

    def buffer() -> torch.Tensor:
        return torch.full((batch, num_states), neg_inf, dtype=emissions.dtype, device=emissions.device)

    # Skipping into state n jumps over state n-1, which must be skippable.
    skip_into = buffer()
    if num_states > 2:
        skip_into[:, 2:] = transitions.skip
        skip_into[:, 2:].masked_fill_(~graph.skippable[:, 1:-1], neg_inf)
    score = buffer()
    score[:, 0] = emissions[0, :, 0]
    if num_states > 1:
        score[:, 1] = torch.where(graph.skippable[:, 0], emissions[0, :, 1], neg_inf)
    final, stay, forward, skip, best = buffer(), buffer(), buffer(), buffer(), buffer()
    forward_wins = torch.zeros((max_frames, batch, num_states), dtype=torch.bool, device=emissions.device)
    skip_wins = torch.zeros_like(forward_wins)
    ends_after = _sequences_ending_at(lengths, max_frames)
    for t in range(max_frames):
        if t > 0:
            if transitions.loop != 0.0:
                torch.add(score, transitions.loop, out=stay)
            else:
                stay = score
            torch.add(score[:, :-1], transitions.forward, out=forward[:, 1:])
            if num_states > 2:
                torch.add(score[:, :-2], skip_into[:, 2:], out=skip[:, 2:])
            torch.gt(forward, stay, out=forward_wins[t])
            torch.maximum(stay, forward, out=best)
            torch.gt(skip, best, out=skip_wins[t])
            torch.maximum(best, skip, out=best)
            score, best = best.add_(emissions[t]), score
        if t in ends_after:
            index = ends_after[t]
            final[index] = score[index]
    return final, forward_wins, skip_wins


def _sequences_ending_at(lengths: torch.Tensor, max_frames: int) -> dict[int, torch.Tensor]:
    """Frame index -> the batch entries whose last frame it is (sequences of length 0 never end)."""
    ends: dict[int, torch.Tensor] = {}
    for length in torch.unique(lengths).tolist():
        if 0 < length <= max_frames:
            ends[length - 1] = torch.nonzero(lengths == length).squeeze(1)
    return ends


def _best_end(final: torch.Tensor, graph: StateGraph) -> tuple[torch.Tensor, torch.Tensor]:
    """The best allowed end state per sequence (last state, or the one before if the last is optional)."""
    last = (graph.num_states - 1).clamp(min=0)
    before_last = (graph.num_states - 2).clamp(min=0)
    last_score = final.gather(1, last[:, None]).squeeze(1)
    before_score = final.gather(1, before_last[:, None]).squeeze(1)
    last_optional = graph.skippable.gather(1, last[:, None]).squeeze(1) & (graph.num_states >= 2)
    before_score = torch.where(last_optional, before_score, torch.full_like(before_score, float("-inf")))
    use_before = before_score > last_score
    return torch.where(use_before, before_last, last), torch.where(use_before, before_score, last_score)


def _backtrack(
    forward_wins: torch.Tensor,
    skip_wins: torch.Tensor,
    end_states: torch.Tensor,
    lengths: torch.Tensor,
    max_frames: int,
) -> torch.Tensor:
    """[B, T] state per frame, traced back from each sequence's own last frame; -1 on padded frames.

    Runs in numpy on the CPU: the loop over time does a few tiny indexing ops per frame, where numpy's
    per-op cost is a third of torch's. Infeasible sequences trace garbage, clamped to valid indices
    (the caller overwrites their path).
    """
    steps = np.where(skip_wins.cpu().numpy(), _SKIP, forward_wins.cpu().numpy().astype(np.int64))
    frames = lengths.cpu().numpy()
    state = end_states.cpu().numpy().astype(np.int64)
    batch_index = np.arange(state.shape[0])
    path = np.full((state.shape[0], max_frames), -1, dtype=np.int64)
    for t in range(max_frames - 1, -1, -1):
        inside = t < frames
        path[:, t] = np.where(inside, state, -1)
        if t > 0:
            state = np.maximum(state - steps[t, batch_index, state] * inside, 0)
    return torch.from_numpy(path).to(end_states.device)
