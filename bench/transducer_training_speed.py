"""Transducer training on an alignment (CE along one lattice path) vs the full-sum RNN-T loss; decoding speed.

    python -m bench.transducer_training_speed [--batch 24 --frames 52 --labels 23 --dim 256 --repeats 5 --threads 1]

The `transducer` layer (`seqtrain.nn.layers.transducer`) on random encoder frames, sizes as in the
tts_digits recipe (40 ms frames: ~52 per utterance, ~23 characters, 28 classes, 256-dim prediction net and
joint). Times one training step (layer forward, loss, backward) of both settings, interleaved, and greedy
vs beam-4 decoding of the same batch. Prints one JSON line: seconds per step / per utterance and ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from seqtrain.nn.layers.transducer import TransducerLayer, rnnt_alignment_ce_loss, rnnt_full_sum_loss
from seqtrain.nn.seq import Seq, SeqInfo
from seqtrain.recog.transducer import transducer_beam_search, transducer_greedy_decode

VOCAB = 28
BLANK = 27


def _batch(batch: int, frames: int, labels: int, dim: int, seed: int) -> tuple[Seq, Seq, Seq]:
    """Encoder frames, label sequences, and a CTC-style frame alignment of them (labels spread over frames)."""
    gen = torch.Generator().manual_seed(seed)
    frame_lengths = torch.randint(frames // 2, frames + 1, (batch,), generator=gen)
    frame_lengths[0] = frames
    label_lengths = torch.minimum(torch.randint(labels // 2, labels + 1, (batch,), generator=gen), frame_lengths // 2)
    targets = torch.randint(0, BLANK, (batch, int(label_lengths.max())), generator=gen)
    alignment = torch.full((batch, frames), BLANK, dtype=torch.long)
    for b in range(batch):
        positions = torch.linspace(0, int(frame_lengths[b]) - 1, int(label_lengths[b])).long()
        alignment[b, positions] = targets[b, : int(label_lengths[b])]
    encoder = Seq(torch.randn(batch, frames, dim, generator=gen), frame_lengths)
    return encoder, Seq(targets, label_lengths), Seq(alignment, frame_lengths)


def _step(layer: TransducerLayer, encoder: Seq, labels: Seq, loss: Callable[..., tuple[torch.Tensor, float]]) -> None:
    layer.zero_grad(set_to_none=True)
    output = layer([encoder, labels], {})
    values, _ = loss(output=output, target=labels)
    values.sum().backward()


def _seconds(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--frames", type=int, default=52)
    parser.add_argument("--labels", type=int, default=23)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sizes = {"n_out": VOCAB, "embed_dim": 64, "pred_dim": args.dim, "joint_dim": args.dim}
    full = TransducerLayer([SeqInfo.dense(args.dim), SeqInfo.classes(BLANK)], **sizes)
    aligned = TransducerLayer([SeqInfo.dense(args.dim), SeqInfo.classes(VOCAB)], alignment=True, **sizes)
    aligned.load_state_dict(full.state_dict())
    encoder, labels, alignment = _batch(args.batch, args.frames, args.labels, args.dim, seed=1)
    ce_times, full_times = [], []
    for _ in range(args.repeats + 1):  # interleaved; the first round warms up
        ce_times.append(_seconds(lambda: _step(aligned, encoder, alignment, rnnt_alignment_ce_loss)))
        full_times.append(_seconds(lambda: _step(full, encoder, labels, rnnt_full_sum_loss)))
    ce, full_sum = statistics.median(ce_times[1:]), statistics.median(full_times[1:])
    with torch.no_grad():
        frames, lengths = encoder.tensor, encoder.lengths
        greedy = _seconds(lambda: transducer_greedy_decode(full, frames, lengths, blank=BLANK, max_symbols_per_frame=3))
        beam = _seconds(lambda: transducer_beam_search(full, frames, lengths, blank=BLANK, beam_size=4))
    result = {
        "bench": "transducer_training_speed",
        "batch": args.batch,
        "frames": args.frames,
        "labels": args.labels,
        "dim": args.dim,
        "threads": args.threads,
        "alignment_ce_step_s": round(ce, 4),
        "full_sum_step_s": round(full_sum, 4),
        "full_sum_over_alignment_ce": round(full_sum / ce, 2),
        "greedy_decode_s_per_utt": round(greedy / args.batch, 4),
        "beam4_decode_s_per_utt": round(beam / args.batch, 4),
        "beam4_over_greedy": round(beam / greedy, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
