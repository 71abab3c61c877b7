"""Transducer decoding on models whose best outputs are known by construction."""

from __future__ import annotations

import math

import pytest
import torch

from seqtrain.nn.rnnt_loss import rnnt_loss
from seqtrain.recog.transducer import Hypothesis, transducer_beam_search, transducer_greedy_decode

BLANK, A, B = 0, 1, 2


class TableTransducer(torch.nn.Module):
    """A transducer whose joint output is a lookup table indexed by (frame, label prefix).

    Encoder frames are one-hot vectors of the frame index; the prediction state is the id of the label
    prefix emitted so far (prefixes up to `max_depth` labels are numbered; longer ones share the id of
    their truncation), and the prediction output is its one-hot vector. So
    joint(frame t, prefix p) = log_softmax(table[t, p]), any distribution we like.
    """

    def __init__(self, num_frames: int, vocab: int = 3, max_depth: int = 3, seed: int = 0) -> None:
        super().__init__()
        self.vocab = vocab
        self.prefixes: list[tuple[int, ...]] = [()]
        for depth in range(max_depth):
            self.prefixes += [(*p, k) for p in self.prefixes if len(p) == depth for k in range(1, vocab)]
        self.ids = {p: i for i, p in enumerate(self.prefixes)}
        generator = torch.Generator().manual_seed(seed)
        self.table = torch.randn(num_frames, len(self.prefixes), vocab, generator=generator, dtype=torch.float64)

    def set_probs(self, frame: int, prefix: tuple[int, ...], probs: list[float]) -> None:
        self.table[frame, self.ids[prefix]] = torch.tensor(probs, dtype=torch.float64).log()

    def encoder_out(self, lengths: list[int]) -> torch.Tensor:
        out = torch.zeros(len(lengths), self.table.shape[0], self.table.shape[0], dtype=torch.float64)
        for b, n in enumerate(lengths):
            out[b, :n] = torch.eye(self.table.shape[0], dtype=torch.float64)[:n]
        return out

    def initial_prediction_state(self, batch_size: int) -> torch.Tensor:
        return torch.full((batch_size,), -1, dtype=torch.long)

    def predict(self, labels: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        new_state = []
        for label, prefix_id in zip(labels.tolist(), state.tolist(), strict=True):
            if prefix_id < 0:  # the start step (label = blank)
                new_state.append(0)
                continue
            prefix = (*self.prefixes[prefix_id], label)
            while prefix not in self.ids:
                prefix = prefix[1:]
            new_state.append(self.ids[prefix])
        state = torch.tensor(new_state, dtype=torch.long)
        return torch.nn.functional.one_hot(state, len(self.prefixes)).double(), state

    def joint(self, encoder_frames: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ne,np,epv->nv", encoder_frames, prediction, self.table)

    def lattice_logits(self, labels: list[int], num_frames: int) -> torch.Tensor:
        """[1, T, U+1, V] joint outputs for a label sequence, as training would compute them."""
        enc = self.encoder_out([num_frames])[0, :num_frames]
        state = self.initial_prediction_state(1)
        pred, state = self.predict(torch.tensor([BLANK]), state)
        preds = [pred]
        for label in labels:
            pred, state = self.predict(torch.tensor([label]), state)
            preds.append(pred)
        rows = [[self.joint(enc[t : t + 1], p)[0] for p in preds] for t in range(num_frames)]
        return torch.stack([torch.stack(r) for r in rows])[None]


def greedy_fails_model() -> TableTransducer:
    """Greedy picks blank twice (output ""), but "a" is both the best path and the best label sequence.

    P("")  = 0.4 * 0.5 = 0.2
    P("a") = 0.35 * 0.95 * 0.95 (a at frame 0) + 0.4 * 0.3 * 0.95 (a at frame 1) = 0.429875
    """
    model = TableTransducer(num_frames=2)
    model.set_probs(0, (), [0.4, 0.35, 0.25])
    model.set_probs(1, (), [0.5, 0.3, 0.2])
    model.set_probs(0, (A,), [0.95, 0.03, 0.02])
    model.set_probs(1, (A,), [0.95, 0.03, 0.02])
    model.set_probs(0, (B,), [0.9, 0.05, 0.05])
    model.set_probs(1, (B,), [0.9, 0.05, 0.05])
    return model


def test_greedy_takes_the_locally_best_symbol() -> None:
    model = greedy_fails_model()
    [hyp] = transducer_greedy_decode(model, model.encoder_out([2]), torch.tensor([2]), blank=BLANK)
    assert hyp.labels == []
    assert hyp.score == pytest.approx(math.log(0.4 * 0.5))


def test_beam_finds_the_better_sequence_greedy_misses() -> None:
    model = greedy_fails_model()
    [nbest] = transducer_beam_search(model, model.encoder_out([2]), torch.tensor([2]), blank=BLANK, beam_size=2)
    assert nbest[0].labels == [A]
    assert nbest[0].score == pytest.approx(math.log(0.35 * 0.95 * 0.95 + 0.4 * 0.3 * 0.95))
    assert nbest[1].labels == []
    assert nbest[1].score == pytest.approx(math.log(0.2))


def test_greedy_batch_respects_lengths_and_equals_single_decoding() -> None:
    model = TableTransducer(num_frames=6, seed=3)
    lengths = [6, 2, 4]
    batched = transducer_greedy_decode(model, model.encoder_out(lengths), torch.tensor(lengths), blank=BLANK)
    for b, n in enumerate(lengths):
        [single] = transducer_greedy_decode(model, model.encoder_out([n]), torch.tensor([n]), blank=BLANK)
        assert batched[b].labels == single.labels
        assert batched[b].score == pytest.approx(single.score)
    [empty] = transducer_greedy_decode(model, model.encoder_out([0]), torch.tensor([0]), blank=BLANK)
    assert empty == Hypothesis([], 0.0)


def test_symbol_limit_per_frame_stops_a_model_that_never_emits_blank() -> None:
    model = TableTransducer(num_frames=3)
    model.table[:] = torch.tensor([0.01, 0.98, 0.01], dtype=torch.float64).log()
    [hyp] = transducer_greedy_decode(
        model, model.encoder_out([3]), torch.tensor([3]), blank=BLANK, max_symbols_per_frame=2
    )
    assert hyp.labels == [A] * 6
    assert hyp.score == pytest.approx(6 * math.log(0.98) + 3 * math.log(0.01))


def test_wide_beam_scores_equal_the_full_sum_rnnt_probability() -> None:
    """With a beam wider than all hypotheses, merging makes each score the sum over all its alignments.

    That is exactly -rnnt_loss for sequences no longer than the per-frame symbol limit (longer ones
    have alignments the limit excludes), so decoder and loss check each other.
    """
    model = TableTransducer(num_frames=3, seed=7)
    [nbest] = transducer_beam_search(
        model, model.encoder_out([3]), torch.tensor([3]), blank=BLANK, beam_size=1000, max_symbols_per_frame=2
    )
    short = [h for h in nbest if len(h.labels) <= 2]
    assert len(short) == 1 + 2 + 4  # every sequence over {a, b} of length <= 2
    for hyp in short:
        logits = model.lattice_logits(hyp.labels, 3)
        targets = torch.tensor([hyp.labels], dtype=torch.long).reshape(1, len(hyp.labels))
        nll = rnnt_loss(logits, targets, torch.tensor([3]), torch.tensor([len(hyp.labels)]), blank=BLANK)
        assert hyp.score == pytest.approx(-float(nll), abs=1e-9)
    assert [h.score for h in nbest] == sorted((h.score for h in nbest), reverse=True)


def test_beam_respects_lengths_in_a_padded_batch() -> None:
    model = TableTransducer(num_frames=5, seed=11)
    lengths = [5, 3]
    batched = transducer_beam_search(model, model.encoder_out(lengths), torch.tensor(lengths), blank=BLANK)
    for b, n in enumerate(lengths):
        [single] = transducer_beam_search(model, model.encoder_out([n]), torch.tensor([n]), blank=BLANK)
        assert batched[b] == single
    assert len(batched[0]) == 4  # beam_size hypotheses survive


def test_bad_arguments_are_rejected() -> None:
    model = TableTransducer(num_frames=2)
    with pytest.raises(ValueError, match="max_symbols_per_frame"):
        transducer_greedy_decode(model, model.encoder_out([2]), torch.tensor([2]), blank=0, max_symbols_per_frame=0)
    with pytest.raises(ValueError, match="beam_size"):
        transducer_beam_search(model, model.encoder_out([2]), torch.tensor([2]), blank=0, beam_size=0)
    with pytest.raises(ValueError, match="lengths"):
        transducer_greedy_decode(model, model.encoder_out([2]), torch.tensor([2, 2]), blank=0)


class LstmTransducer(torch.nn.Module):
    """A small random transducer as a recipe would write it: LSTM prediction net with an (h, c) tuple state."""

    def __init__(self, vocab: int = 4, dim: int = 8) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.embed = torch.nn.Embedding(vocab, dim)
        self.lstm = torch.nn.LSTM(dim, dim, batch_first=True)
        self.out = torch.nn.Linear(dim, vocab)

    def initial_prediction_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(batch_size, 1, 8), torch.zeros(batch_size, 1, 8)

    def predict(self, labels: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple]:
        h, c = (s.transpose(0, 1).contiguous() for s in state)  # hypotheses first -> LSTM's layers first
        out, (h, c) = self.lstm(self.embed(labels)[:, None], (h, c))
        return out[:, 0], (h.transpose(0, 1), c.transpose(0, 1))

    def joint(self, encoder_frames: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(encoder_frames + prediction))


def test_tuple_states_in_batched_greedy_and_beam() -> None:
    model = LstmTransducer().eval()
    encoder_out = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(1)) * 2
    lengths = torch.tensor([4, 3, 1])
    batched = transducer_greedy_decode(model, encoder_out, lengths, blank=BLANK, max_symbols_per_frame=3)
    nbests = transducer_beam_search(model, encoder_out, lengths, blank=BLANK, beam_size=50, max_symbols_per_frame=3)
    for b in range(3):
        n = int(lengths[b])
        alone = encoder_out[b : b + 1, :n]
        [single] = transducer_greedy_decode(model, alone, torch.tensor([n]), blank=BLANK, max_symbols_per_frame=3)
        assert batched[b].labels == single.labels
        assert batched[b].score == pytest.approx(single.score, abs=1e-5)
        [single_nbest] = transducer_beam_search(
            model, alone, torch.tensor([n]), blank=BLANK, beam_size=50, max_symbols_per_frame=3
        )
        assert [h.labels for h in nbests[b]] == [h.labels for h in single_nbest]
    # one frame, at most 3 labels: all 1 + 3 + 9 + 27 label sequences survive, each with its single
    # alignment, so the greedy result is among them with exactly the greedy path's score
    assert len(nbests[2]) == 40
    [same] = [h for h in nbests[2] if h.labels == batched[2].labels]
    assert same.score == pytest.approx(batched[2].score, abs=1e-5)
