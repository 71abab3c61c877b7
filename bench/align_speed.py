"""CTC forced alignment speed: seqtrain's batched Viterbi vs a per-sequence numpy Viterbi, same inputs.

    python -m bench.align_speed [--batch 32 --frames 500 --vocab 28 --labels 60 --repeats 5 --threads 1]

Prints one JSON line: frames aligned per second by seqtrain (`ctc_forced_align`), by the baseline
(the straightforward implementation: one sequence at a time, numpy vectorized over the states, a
Python loop over frames), their ratio, and torch's CTC loss forward (full sum, C++) on the same
batch as a reference scale. Both aligners must return the same frame labels, or the numbers mean
nothing; the line says whether they did.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from bench.timing import fastest_and_median
from seqtrain.hmm.ctc_align import ctc_forced_align


def numpy_ctc_align(log_probs: np.ndarray, labels: np.ndarray, blank: int) -> np.ndarray:
    """Best CTC path of one sequence [T, V] -> frame labels [T] (the baseline)."""
    num_frames = log_probs.shape[0]
    states = np.full(2 * len(labels) + 1, blank, dtype=np.int64)
    states[1::2] = labels
    num_states = len(states)
    skip_ok = np.zeros(num_states, dtype=bool)
    skip_ok[2:] = (states[2:] != blank) & (states[2:] != states[:-2])
    emissions = log_probs[:, states]
    score = np.full(num_states, -np.inf)
    score[:2] = emissions[0, :2]
    backpointers = np.zeros((num_frames, num_states), dtype=np.int8)
    candidates = np.full((3, num_states), -np.inf)
    for t in range(1, num_frames):
        candidates[0] = score
        candidates[1, 1:] = score[:-1]
        candidates[2, 2:] = np.where(skip_ok[2:], score[:-2], -np.inf)
        backpointers[t] = candidates.argmax(axis=0)
        score = candidates.max(axis=0) + emissions[t]
    state = num_states - 1 if score[-1] >= score[-2] or num_states == 1 else num_states - 2
    path = np.empty(num_frames, dtype=np.int64)
    for t in range(num_frames - 1, -1, -1):
        path[t] = state
        state -= backpointers[t, state]
    return states[path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--vocab", type=int, default=28, help="labels + blank")
    parser.add_argument("--labels", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    blank = args.vocab - 1
    log_probs = (3 * torch.randn(args.batch, args.frames, args.vocab, generator=generator)).log_softmax(-1)
    # realistic padding: lengths between 60% and 100% of the longest, label counts in proportion
    frame_lengths = torch.randint(int(0.6 * args.frames), args.frames + 1, (args.batch,), generator=generator)
    frame_lengths[0] = args.frames
    label_lengths = (frame_lengths * args.labels // args.frames).clamp(min=1)
    labels = torch.randint(0, blank, (args.batch, args.labels), generator=generator)
    num_frames = int(frame_lengths.sum())

    def seqtrain_align() -> torch.Tensor:
        return ctc_forced_align(log_probs, frame_lengths, labels, label_lengths, blank=blank).frame_classes

    lp_np, labels_np = log_probs.double().numpy(), labels.numpy()

    def numpy_align() -> list[np.ndarray]:
        return [
            numpy_ctc_align(lp_np[b, : frame_lengths[b]], labels_np[b, : label_lengths[b]], blank)
            for b in range(args.batch)
        ]

    def ctc_loss_forward() -> torch.Tensor:
        return torch.nn.functional.ctc_loss(
            log_probs.transpose(0, 1), labels, frame_lengths, label_lengths, blank=blank, reduction="none"
        )

    ours, baseline = seqtrain_align(), numpy_align()
    equal = all(np.array_equal(ours[b, : frame_lengths[b]].numpy(), baseline[b]) for b in range(args.batch))
    ours_s, ours_median = fastest_and_median(seqtrain_align, args.repeats)
    base_s, _ = fastest_and_median(numpy_align, max(1, args.repeats // 2))
    ctc_s, _ = fastest_and_median(ctc_loss_forward, args.repeats)
    print(
        json.dumps(
            {
                "bench": "align_speed",
                "what": "CTC forced alignment (Viterbi), frames per second",
                "shape": {"B": args.batch, "T": args.frames, "V": args.vocab, "U": args.labels, "frames": num_frames},
                "threads": args.threads,
                "seqtrain_frames_per_s": round(num_frames / ours_s),
                "seqtrain_median_frames_per_s": round(num_frames / ours_median),
                "baseline_numpy_per_seq_frames_per_s": round(num_frames / base_s),
                "speedup_vs_baseline": round(base_s / ours_s, 2),
                "reference_torch_ctc_loss_forward_frames_per_s": round(num_frames / ctc_s),
                "same_alignment_as_baseline": equal,
            }
        )
    )


if __name__ == "__main__":
    main()
