"""hmm_viterbi decoding speed by lexicon size, against hmm_greedy on the same scores.

    python -m bench.hmm_decode_speed [--batch 32 --frames 300 --words 0,211,5000 --repeats 3 --threads 1]

The tts_digits HMM (27 characters x 2 states + silence, " " as word separator) over random log-probs;
lexicons of random 3-8 letter words (0 = a free loop of characters). Prints one JSON line: per lexicon
size the number of graph states, decoded frames per second and the ratio to greedy decoding (the
cheapest possible decoder: one argmax per frame), plus the memory the backtrace decisions take.
"""

from __future__ import annotations

import argparse
import json

import torch

from bench.timing import fastest_and_median
from seqtrain.hmm.topology import HmmTopology
from seqtrain.recog.decoders import hmm_greedy_decode
from seqtrain.recog.word_loop import build_word_loop, hmm_viterbi_decode

LETTERS = 26  # labels 1..26; 0 is the space


def random_words(count: int, generator: torch.Generator) -> list[list[int]]:
    lengths = torch.randint(3, 9, (count,), generator=generator).tolist()
    return [torch.randint(1, LETTERS + 1, (n,), generator=generator).tolist() for n in lengths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--words", default="0,211,5000", help="lexicon sizes; 0 = no lexicon")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    topology = HmmTopology(num_labels=LETTERS + 1, states_per_label=2, word_separator=0)
    scores = (3 * torch.randn(args.batch, args.frames, topology.num_classes, generator=generator)).log_softmax(-1)
    lengths = torch.randint(int(0.6 * args.frames), args.frames + 1, (args.batch,), generator=generator)
    lengths[0] = args.frames
    num_frames = int(lengths.sum())
    greedy, _ = fastest_and_median(lambda: hmm_greedy_decode(scores, lengths, topology), args.repeats)
    result: dict[str, object] = {
        "bench": "hmm_decode_speed",
        "batch": args.batch,
        "frames": args.frames,
        "threads": args.threads,
        "greedy_frames_per_s": round(num_frames / greedy),
    }
    for count in (int(w) for w in args.words.split(",")):
        loop = build_word_loop(topology, random_words(count, generator) if count else None)
        seconds, _ = fastest_and_median(lambda loop=loop: hmm_viterbi_decode(scores, lengths, loop), args.repeats)
        result[f"viterbi_{count}_words"] = {
            "states": loop.num_states,
            "frames_per_s": round(num_frames / seconds),
            "vs_greedy": round(greedy / seconds, 3),
            "decision_mb": round(args.frames * args.batch * loop.num_states / 2**20, 1),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
