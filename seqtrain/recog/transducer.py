"""Greedy and beam-search decoding of a transducer (RNN-T) from its encoder outputs.

The decoder needs only three things from a model, the `Transducer` protocol: an initial
prediction-net state, one prediction step, and the joint network for one frame. The topology is the
standard RNN-T one that `seqtrain.nn.rnnt_loss` trains: a label keeps the frame, blank moves to the
next frame. The blank index doubles as the start symbol of the prediction net (as in torchaudio and
icefall), so a model needs no extra embedding.

Beam search is time-synchronous: per frame, each hypothesis may emit up to `max_symbols_per_frame`
labels before its blank; hypotheses with equal label sequences are merged by adding their
probabilities (the full sum over the alignments the beam kept), so with a wide enough beam a
hypothesis score is exactly -rnnt_loss of its label sequence.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Protocol

import torch

State = torch.Tensor | tuple[torch.Tensor, ...]


class Transducer(Protocol):
    """What decoding needs from a transducer; every state tensor has the hypothesis dimension first.

    (An LSTM's (h, c) of shape [layers, N, H] is returned transposed to [N, layers, H].)
    """

    def initial_prediction_state(self, batch_size: int) -> State:
        """The prediction net's state before any label."""
        ...

    def predict(self, labels: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One prediction step: previous labels [N] (blank = start) -> output [N, P] and the new state."""
        ...

    def joint(self, encoder_frames: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        """Encoder frames [N, E] and prediction outputs [N, P] -> scores [N, V] (logits or log-probs)."""
        ...


@dataclass(frozen=True)
class Hypothesis:
    """A decoded label sequence (blanks removed) and its log-probability under the model."""

    labels: list[int]
    score: float


def select_state(state: State, index: torch.Tensor) -> State:
    """The states of hypotheses `index` (a LongTensor), for any tensor or tuple-of-tensors state."""
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index)
    return tuple(s.index_select(0, index) for s in state)


def replace_state(state: State, index: torch.Tensor, new: State) -> State:
    """A copy of `state` where hypotheses `index` get the states `new`."""
    if isinstance(state, torch.Tensor):
        assert isinstance(new, torch.Tensor)
        return state.index_copy(0, index, new)
    return tuple(s.index_copy(0, index, n) for s, n in zip(state, new, strict=True))


def _check_encoder(encoder_out: torch.Tensor, lengths: torch.Tensor, max_symbols_per_frame: int) -> None:
    if encoder_out.dim() != 3:
        raise ValueError(f"encoder_out must be [batch, time, dim], got shape {tuple(encoder_out.shape)}")
    if lengths.shape != (encoder_out.shape[0],):
        raise ValueError(f"lengths must be [batch] = [{encoder_out.shape[0]}], got {tuple(lengths.shape)}")
    if max_symbols_per_frame < 1:
        raise ValueError(f"max_symbols_per_frame must be >= 1, got {max_symbols_per_frame}")


@torch.no_grad()
def transducer_greedy_decode(
    model: Transducer,
    encoder_out: torch.Tensor,
    lengths: torch.Tensor,
    *,
    blank: int,
    max_symbols_per_frame: int = 10,
) -> list[Hypothesis]:
    """Best symbol at every step, batched over sequences: labels until blank, then the next frame.

    `encoder_out` [B, T, E], `lengths` [B]. At most `max_symbols_per_frame` labels per frame, so a
    model that never predicts blank still terminates.
    """
    _check_encoder(encoder_out, lengths, max_symbols_per_frame)
    batch, max_frames, _ = encoder_out.shape
    device = encoder_out.device
    frames = lengths.to(device)
    state = model.initial_prediction_state(batch)
    prediction, state = model.predict(torch.full((batch,), blank, dtype=torch.long, device=device), state)
    labels: list[list[int]] = [[] for _ in range(batch)]
    scores = torch.zeros(batch, dtype=torch.float64, device=device)
    for t in range(max_frames):
        active = t < frames
        for _ in range(max_symbols_per_frame):
            log_probs = model.joint(encoder_out[:, t], prediction).log_softmax(-1)
            best_score, best = log_probs.max(dim=-1)
            emit = active & (best != blank)
            scores += torch.where(active, best_score.double(), 0.0)
            if not bool(emit.any()):
                break
            index = torch.nonzero(emit).squeeze(1)
            new_prediction, new_state = model.predict(best[index], select_state(state, index))
            prediction = prediction.index_copy(0, index, new_prediction)
            state = replace_state(state, index, new_state)
            for b, label in zip(index.tolist(), best[index].tolist(), strict=True):
                labels[b].append(label)
            active = emit
        else:  # the symbol limit was hit: the frame still ends with a blank
            log_probs = model.joint(encoder_out[:, t], prediction).log_softmax(-1)
            scores += torch.where(active, log_probs[:, blank].double(), 0.0)
    return [Hypothesis(labels[b], float(scores[b])) for b in range(batch)]


@dataclass
class _Beam:
    """Hypotheses at one point of a frame, batched: label sequences, scores, prediction outputs, states."""

    labels: list[tuple[int, ...]]
    scores: torch.Tensor  # [H] float64
    prediction: torch.Tensor  # [H, P]
    state: State


@dataclass
class _Ended:
    """A hypothesis that emitted its blank for this frame: summed score and where its prediction state lives."""

    score: float
    source: _Beam
    row: int


@torch.no_grad()
def transducer_beam_search(
    model: Transducer,
    encoder_out: torch.Tensor,
    lengths: torch.Tensor,
    *,
    blank: int,
    beam_size: int = 4,
    max_symbols_per_frame: int = 3,
) -> list[list[Hypothesis]]:
    """The `beam_size` best hypotheses of each sequence (best first); hypotheses of one sequence are batched.

    Per frame: every hypothesis ends the frame with blank (merged into the next frame's set by label
    sequence, probabilities added) or extends by a label; the best `beam_size` extensions continue,
    up to `max_symbols_per_frame` times.
    """
    _check_encoder(encoder_out, lengths, max_symbols_per_frame)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    return [
        _beam_search_one(model, encoder_out[b, : int(lengths[b])], blank, beam_size, max_symbols_per_frame)
        for b in range(encoder_out.shape[0])
    ]


def _beam_search_one(
    model: Transducer, frames: torch.Tensor, blank: int, beam_size: int, max_symbols: int
) -> list[Hypothesis]:
    device = frames.device
    state = model.initial_prediction_state(1)
    prediction, state = model.predict(torch.full((1,), blank, dtype=torch.long, device=device), state)
    hyps = _Beam([()], torch.zeros(1, dtype=torch.float64, device=device), prediction, state)
    for t in range(frames.shape[0]):
        ended: dict[tuple[int, ...], _Ended] = {}
        active: _Beam | None = hyps
        for step in range(max_symbols + 1):
            assert active is not None
            log_probs = model.joint(frames[t].expand(len(active.labels), -1), active.prediction)
            totals = active.scores[:, None] + log_probs.log_softmax(-1).double()
            _merge_ended(ended, active, totals[:, blank])
            if step == max_symbols:
                break
            active = _extend(model, active, totals, blank, beam_size, ended)
            if active is None:
                break
        hyps = _best_ended(ended, beam_size)
    order = torch.argsort(hyps.scores, descending=True, stable=True).tolist()
    return [Hypothesis(list(hyps.labels[i]), float(hyps.scores[i])) for i in order]


def _merge_ended(ended: dict[tuple[int, ...], _Ended], beam: _Beam, blank_totals: torch.Tensor) -> None:
    """Adds each hypothesis, ended with blank, to the frame's ended set; equal label sequences sum up.

    Scores are Python floats here: the bookkeeping is per hypothesis, where tensor ops cost 10x more.
    """
    for row, (labels, score) in enumerate(zip(beam.labels, blank_totals.tolist(), strict=True)):
        if labels in ended:
            entry = ended[labels]
            high, low = max(entry.score, score), min(entry.score, score)
            entry.score = high + math.log1p(math.exp(low - high)) if low > -math.inf else high
        else:
            ended[labels] = _Ended(score, beam, row)


def _threshold(ended: dict[tuple[int, ...], _Ended], beam_size: int) -> float:
    if len(ended) < beam_size:
        return -math.inf
    return heapq.nlargest(beam_size, (e.score for e in ended.values()))[-1]


def _extend(
    model: Transducer,
    beam: _Beam,
    totals: torch.Tensor,
    blank: int,
    beam_size: int,
    ended: dict[tuple[int, ...], _Ended],
) -> _Beam | None:
    """The best label extensions (at most `beam_size`), with one prediction step.

    An extension scoring below the `beam_size`-th ended hypothesis is dropped (more labels only
    lower it), unless its label sequence has ended already: then its mass adds to that hypothesis.
    """
    totals = totals.clone()
    totals[:, blank] = -math.inf
    vocab = totals.shape[1]
    top = totals.flatten().topk(min(beam_size, totals.numel()))
    threshold = _threshold(ended, beam_size)
    keep_labels, keep_scores, keep_rows, keep_symbols = [], [], [], []
    for score, flat in zip(top.values.tolist(), top.indices.tolist(), strict=True):
        row, symbol = divmod(flat, vocab)
        labels = (*beam.labels[row], symbol)
        if score > -math.inf and (score > threshold or labels in ended):
            keep_labels.append(labels)
            keep_scores.append(score)
            keep_rows.append(row)
            keep_symbols.append(symbol)
    if not keep_labels:
        return None
    device = totals.device
    rows = torch.tensor(keep_rows, dtype=torch.long, device=device)
    prediction, state = model.predict(
        torch.tensor(keep_symbols, dtype=torch.long, device=device), select_state(beam.state, rows)
    )
    return _Beam(keep_labels, torch.tensor(keep_scores, dtype=torch.float64, device=device), prediction, state)


def _best_ended(ended: dict[tuple[int, ...], _Ended], beam_size: int) -> _Beam:
    """The next frame's hypotheses: the best `beam_size` that ended this frame, batched again.

    Rows are gathered with one index_select per source beam (at most max_symbols_per_frame + 1).
    """
    best = heapq.nlargest(beam_size, ended.items(), key=lambda item: item[1].score)
    groups: dict[int, tuple[_Beam, list[tuple[tuple[int, ...], _Ended]]]] = {}
    for labels, entry in best:
        groups.setdefault(id(entry.source), (entry.source, []))[1].append((labels, entry))
    labels_out: list[tuple[int, ...]] = []
    scores: list[float] = []
    predictions, states = [], []
    for source, members in groups.values():
        rows = torch.tensor([e.row for _, e in members], dtype=torch.long, device=source.prediction.device)
        predictions.append(source.prediction.index_select(0, rows))
        states.append(select_state(source.state, rows))
        labels_out += [labels for labels, _ in members]
        scores += [e.score for _, e in members]
    if isinstance(states[0], torch.Tensor):
        state: State = torch.cat(states)  # type: ignore[arg-type]
    else:
        state = tuple(torch.cat(group) for group in zip(*states, strict=True))
    device = predictions[0].device
    return _Beam(labels_out, torch.tensor(scores, dtype=torch.float64, device=device), torch.cat(predictions), state)
