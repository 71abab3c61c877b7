"""Viterbi decoding of a frame-wise (hybrid HMM) model: the best state path through a loop of words.

`hmm_greedy` takes each frame's best state on its own, so one stray frame of another label inserts a
label, and state orders the model was never trained on go through. `hmm_viterbi` makes the path
follow the topology the model was trained on (the `align_*` keys): each label's states in order,
silence only where the alignment allows it, and, with a lexicon, only words from it with the word
separator (and optional silence) between them. That is the recognizer of an HMM system without a
language model: every word equally likely after every other, a word penalty against insertions.

The graph holds one chain of states per word (per label without a lexicon) and a few non-emitting
hubs that connect chain ends to chain starts, so the work per frame grows with the number of states,
not with their square: a few gathers over [B, states] per frame. Nothing is pruned, so this serves small
and medium vocabularies (`bench/hmm_decode_speed.py`: 211 words decode at 33k frames/s on one thread,
5,000 words at 1,100); the decisions kept for the backtrace take one byte per frame, sequence and state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqtrain.errors import ConfigError
from seqtrain.hmm.graph import TransitionScores
from seqtrain.hmm.topology import HmmTopology

_NEG_INF = float("-inf")


@dataclass(frozen=True)
class WordLoop:
    """The decoding graph. States 0..N-1 emit `classes`; the predecessors of a state index a vector of
    [state scores of the previous frame (N) | start (1) | never (1) | hubs (H)], a hub's sources the first
    N + 2 of them. `entry_unit[s]` is the unit (word, or the separator) whose labels a path emits when it
    enters state s from a hub."""

    classes: torch.Tensor  # [N] long
    preds: torch.Tensor  # [N, P] long
    pred_scores: torch.Tensor  # [N, P] float
    hub_sources: torch.Tensor  # [H, Q] long
    final: torch.Tensor  # [N] bool: a path may end here
    entry_unit: np.ndarray  # [N] int64, -1 where no unit starts
    units: list[list[int]]  # label sequence of each unit

    @property
    def num_states(self) -> int:
        return int(self.classes.shape[0])

    @property
    def start(self) -> int:
        return self.num_states


class _GraphBuilder:
    """Collects states, their predecessors and the hubs, in the index layout `WordLoop` describes."""

    def __init__(self) -> None:
        self.classes: list[int] = []
        self.preds: list[list[tuple[object, float]]] = []  # (state index, "start" or hub name; score)
        self.entry_unit: list[int] = []
        self.final: list[bool] = []
        self.hubs: dict[str, list[object]] = {}

    def add_state(self, cls: int) -> int:
        self.classes.append(cls)
        self.preds.append([])
        self.entry_unit.append(-1)
        self.final.append(False)
        return len(self.classes) - 1

    def hub(self, name: str, *sources: object) -> None:
        self.hubs.setdefault(name, []).extend(sources)

    def build(self, units: list[list[int]]) -> WordLoop:
        n = len(self.classes)
        hub_names = [name for name, sources in self.hubs.items() if sources]
        where = {"start": n, "never": n + 1} | {name: n + 2 + h for h, name in enumerate(hub_names)}

        def index(ref: object) -> int:
            return ref if isinstance(ref, int) else where.get(str(ref), n + 1)  # an empty hub: never

        width = max(len(p) for p in self.preds)
        preds = torch.full((n, width), n + 1, dtype=torch.long)
        pred_scores = torch.zeros((n, width))
        for s, entries in enumerate(self.preds):
            for j, (ref, score) in enumerate(entries):
                preds[s, j], pred_scores[s, j] = index(ref), score
        sources = max((len(self.hubs[name]) for name in hub_names), default=1)
        hub_sources = torch.full((max(len(hub_names), 1), sources), n + 1, dtype=torch.long)
        for h, name in enumerate(hub_names):
            for j, ref in enumerate(self.hubs[name]):
                hub_sources[h, j] = index(ref)
        return WordLoop(
            classes=torch.tensor(self.classes, dtype=torch.long),
            preds=preds,
            pred_scores=pred_scores,
            hub_sources=hub_sources,
            final=torch.tensor(self.final),
            entry_unit=np.array(self.entry_unit, dtype=np.int64),
            units=units,
        )


def build_word_loop(
    topology: HmmTopology,
    words: Sequence[Sequence[int]] | None = None,
    *,
    word_penalty: float = 0.0,
    transitions: TransitionScores | None = None,
) -> WordLoop:
    """The loop over `words` (label sequences), or over single labels when `words` is None, in `topology`.

    `word_penalty` is subtracted from a path's log score per word (per label without a lexicon);
    `transitions` are the `align_transition_scores` the alignments were made with.
    """
    transitions = transitions or TransitionScores()
    separator = topology.word_separator
    with_lexicon = words is not None
    units = [list(w) for w in words] if words is not None else [[u] for u in range(topology.num_labels)]
    if with_lexicon:
        for i, word in enumerate(units):
            if not word:
                raise ConfigError(f"recog_lexicon: word {i} has no labels")
            if any(not 0 <= label < topology.num_labels for label in word):
                raise ConfigError(f"recog_lexicon: word {i} has labels outside [0, {topology.num_labels}): {word}")
    else:
        units = [u for u in units if u[0] != separator]
    if separator is not None:
        units.append([separator])
    graph = _GraphBuilder()
    states = topology.states_per_label
    skippable_state = topology.skip_within_label and states > 1  # every state of a label but its last
    exits: list[int] = []  # last state of each word (not the separator)
    separator_exit = -1
    for u, unit in enumerate(units):
        is_separator = separator is not None and u == len(units) - 1
        chain = [graph.add_state(label * states + k) for label in unit for k in range(states)]
        for position, s in enumerate(chain):
            graph.preds[s].append((s, transitions.loop))
            if position > 0:
                graph.preds[s].append((chain[position - 1], transitions.forward))
            if position > 1 and skippable_state and (position - 1) % states != states - 1:
                graph.preds[s].append((chain[position - 2], transitions.skip))
        # Entering at the second state skips the first; as in alignment, a skip jumps over one state only, so it
        # must come from a state right before the unit, not across a skipped silence ("word/adjacent").
        hub = "separator" if is_separator else "word"
        penalty = 0.0 if is_separator else word_penalty
        graph.preds[chain[0]].append((hub, transitions.forward - penalty))
        graph.entry_unit[chain[0]] = u
        if skippable_state:
            graph.preds[chain[1]].append((f"{hub}/adjacent", transitions.skip - penalty))
            graph.entry_unit[chain[1]] = u
        if is_separator:
            separator_exit = chain[-1]
        else:
            exits.append(chain[-1])
    silence_class = topology.silence_index
    optional = topology.optional_silence

    def connect(hub: str, *sources: object, adjacent: bool) -> None:
        graph.hub(hub, *sources)
        if adjacent:
            graph.hub(f"{hub}/adjacent", *sources)

    if topology.silence:
        start_silence = graph.add_state(silence_class)
        graph.preds[start_silence] += [(start_silence, transitions.loop), ("start", 0.0)]
        graph.final[start_silence] = True  # all silence: nothing was said
        connect("word", start_silence, adjacent=True)
        end_silence = graph.add_state(silence_class)
        graph.preds[end_silence] += [(end_silence, transitions.loop), ("end", transitions.forward)]
        graph.final[end_silence] = True
        graph.hub("end", *exits)
    if not topology.silence or optional:
        connect("word", "start", adjacent=not topology.silence)
        for s in exits:
            graph.final[s] = True
    if separator is not None:
        connect("separator", *exits, adjacent=True)
        pause = graph.add_state(silence_class)  # the silence a word separator may be followed by
        graph.preds[pause] += [(pause, transitions.loop), (separator_exit, transitions.forward)]
        connect("word", pause, adjacent=True)
        if optional:
            graph.hub("word", separator_exit)  # over the pause: into the first state only
    if separator is None or not with_lexicon:
        connect("word", *exits, adjacent=True)  # words (labels) follow each other directly
    return graph.build(units)


def hmm_viterbi_decode(scores: torch.Tensor, lengths: torch.Tensor, loop: WordLoop) -> list[list[int]]:
    """`scores` [B, T, classes] (log domain) -> the labels along each sequence's best path through `loop`.

    A sequence too short for any complete path decodes to no labels.
    """
    batch, max_frames, _ = scores.shape
    n = loop.num_states
    device = scores.device
    classes, preds, pred_scores = (t.to(device) for t in (loop.classes, loop.preds, loop.pred_scores))
    hub_sources, final_mask = loop.hub_sources.to(device), loop.final.to(device)
    frame_scores = scores.float()  # each frame's state scores are gathered in the loop: no [B, T, N] copy
    previous = torch.full((batch, n + 2), _NEG_INF, device=device)
    previous[:, loop.start] = 0.0
    choices = torch.empty((max_frames, batch, n), dtype=torch.uint8, device=device)
    hub_choices = torch.empty((max_frames, batch, hub_sources.shape[0]), dtype=torch.int32, device=device)
    final = torch.full((batch, n), _NEG_INF, device=device)
    lengths = lengths.to(device=device, dtype=torch.long)
    for t in range(max_frames):
        hub_best, hub_arg = previous[:, hub_sources].max(dim=2)  # [B, H]
        hub_choices[t] = hub_arg
        everything = torch.cat([previous, hub_best], dim=1)
        # one [B, N] gather per predecessor column (2-3 of them) is cheaper than a max over a gathered [B, N, P]
        best = everything.index_select(1, preds[:, 0]).add_(pred_scores[:, 0])
        choices[t].zero_()
        for column in range(1, preds.shape[1]):
            candidate = everything.index_select(1, preds[:, column]).add_(pred_scores[:, column])
            better = candidate > best
            choices[t].masked_fill_(better, column)
            best = torch.maximum(best, candidate, out=best)
        previous[:, :n] = best.add_(frame_scores[:, t].index_select(1, classes))
        previous[:, loop.start] = _NEG_INF
        ending = lengths == t + 1
        if bool(ending.any()):
            final[ending] = previous[ending, :n].masked_fill(~final_mask, _NEG_INF)
    end_score, end_state = final.max(dim=1)
    feasible = torch.isfinite(end_score) & (lengths > 0)
    return _backtrack(loop, choices, hub_choices, end_state, lengths, feasible)


def _backtrack(
    loop: WordLoop,
    choices: torch.Tensor,
    hub_choices: torch.Tensor,
    end_state: torch.Tensor,
    lengths: torch.Tensor,
    feasible: torch.Tensor,
) -> list[list[int]]:
    """Follows the kept decisions back from each sequence's end; records which unit starts at which frame."""
    n = loop.num_states
    choice, hub_choice = choices.cpu().numpy(), hub_choices.cpu().numpy()
    preds, hub_sources = loop.preds.numpy(), loop.hub_sources.numpy()
    frames, ok = lengths.cpu().numpy(), feasible.cpu().numpy()
    state = end_state.cpu().numpy().astype(np.int64)
    rows = np.arange(state.shape[0])
    started = np.full((state.shape[0], choice.shape[0]), -1, dtype=np.int64)  # unit entered at frame t
    for t in range(choice.shape[0] - 1, -1, -1):
        active = ok & (t < frames)
        came_from = preds[state, choice[t, rows, state]]
        hub = came_from - (n + 2)
        via_hub = active & (hub >= 0)
        started[:, t] = np.where(via_hub, loop.entry_unit[state], -1)
        if via_hub.any():
            hub_index = np.where(via_hub, hub, 0)
            source = hub_sources[hub_index, hub_choice[t, rows, hub_index]]
            came_from = np.where(via_hub, source, came_from)
        state = np.where(active & (came_from < n), came_from, state)
    return [[label for u in started[b][started[b] >= 0] for label in loop.units[u]] for b in range(state.shape[0])]
