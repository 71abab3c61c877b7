"""Writes the anchor benchmark's synthetic data with seqtrain's `HDFWriter` (RETURNN's HDF layout).

    python -m bench.anchor.gen_data OUT_DIR [--num-seqs N]

OUT_DIR/train_ce.hdf:  "data" 40-dim float32 N(0,1) features, "classes" one int32 label in [0, 50) per frame
OUT_DIR/train_ctc.hdf: the same features, "classes" an int32 label sequence of length max(1, T // 4)

The random numbers are drawn in exactly the order of the RETURNN anchor's generator
(/work/shared/bench/gen_data.py: one RandomState(42), all 1000 lengths first, then per sequence the
features, the frame labels and the CTC labels), so the arrays are bit-identical to the ones RETURNN's
`SimpleHDFWriter` writes there, and the numbers measured here compare with the anchor's. `--num-seqs`
keeps a prefix of the same 1000 sequences (for quick checks).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqtrain.data.dataset import DataSpec
from seqtrain.data.hdf import HDFWriter

SEED = 42
NUM_SEQS = 1000
MIN_LEN, MAX_LEN = 50, 400  # inclusive, uniform
IN_DIM = 40
NUM_CLASSES = 50
LOSSES = ("ce", "ctc")


@dataclass(frozen=True)
class SyntheticSeq:
    features: np.ndarray  # [T, 40] float32
    frame_labels: np.ndarray  # [T] int32, the CE targets
    ctc_labels: np.ndarray  # [max(1, T // 4)] int32, the CTC targets


def generate(num_seqs: int = NUM_SEQS) -> list[SyntheticSeq]:
    """The first `num_seqs` of the 1000 sequences; the RNG call order must never change (see module doc)."""
    if not 1 <= num_seqs <= NUM_SEQS:
        raise ValueError(f"num_seqs must be in [1, {NUM_SEQS}], got {num_seqs}")
    rng = np.random.RandomState(SEED)
    lengths = rng.randint(MIN_LEN, MAX_LEN + 1, size=NUM_SEQS)
    seqs = []
    for t in lengths[:num_seqs]:
        features = rng.standard_normal((t, IN_DIM)).astype(np.float32)
        frame_labels = rng.randint(0, NUM_CLASSES, size=(t,)).astype(np.int32)
        ctc_labels = rng.randint(0, NUM_CLASSES, size=(max(1, t // 4),)).astype(np.int32)
        seqs.append(SyntheticSeq(features, frame_labels, ctc_labels))
    return seqs


def data_path(directory: Path, loss: str) -> Path:
    return Path(directory) / f"train_{loss}.hdf"


def write_hdf(path: Path, seqs: list[SyntheticSeq], loss: str) -> Path:
    """One file per loss: the targets under data key "classes", tags "seq-0", "seq-1", ... as in the anchor."""
    writer = HDFWriter(
        path,
        {
            "data": DataSpec(dim=IN_DIM, dtype="float32", feature_shape=(IN_DIM,)),
            "classes": DataSpec(dim=NUM_CLASSES, dtype="int32", sparse=True),
        },
    )
    for i, seq in enumerate(seqs):
        writer.add(f"seq-{i}", {"data": seq.features, "classes": seq.frame_labels if loss == "ce" else seq.ctc_labels})
    return writer.close()


def write_all(directory: Path, num_seqs: int = NUM_SEQS) -> dict[str, Path]:
    seqs = generate(num_seqs)
    return {loss: write_hdf(data_path(directory, loss), seqs, loss) for loss in LOSSES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--num-seqs", type=int, default=NUM_SEQS, help=f"a prefix of the {NUM_SEQS} sequences")
    args = parser.parse_args()
    if not 1 <= args.num_seqs <= NUM_SEQS:
        parser.error(f"--num-seqs must be in [1, {NUM_SEQS}]")
    seqs = generate(args.num_seqs)
    for loss in LOSSES:
        write_hdf(data_path(args.out_dir, loss), seqs, loss)
    frames = sum(len(s.frame_labels) for s in seqs)
    labels = sum(len(s.ctc_labels) for s in seqs)
    print(f"wrote {len(seqs)} seqs, {frames} frames, {labels} ctc labels to {args.out_dir}")


if __name__ == "__main__":
    main()
