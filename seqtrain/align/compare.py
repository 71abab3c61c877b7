"""How much an alignment changed against an earlier one: the realignment loop's convergence measure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqtrain.data.hdf import HDFDataset
from seqtrain.errors import DataError


@dataclass(frozen=True)
class AlignmentChange:
    """Frames whose label differs between two alignments of the same sequences (matched by tag).

    Sequences missing from the old file, or whose length differs (other frame rate?), are counted
    apart and not in `num_frames`.
    """

    num_seqs: int
    num_frames: int
    changed_frames: int
    missing_seqs: int
    length_mismatches: int

    @property
    def changed_fraction(self) -> float:
        return self.changed_frames / self.num_frames if self.num_frames else 0.0

    def __str__(self) -> str:
        text = (
            f"{100 * self.changed_fraction:.2f}% of frames changed label "
            f"({self.changed_frames}/{self.num_frames} frames, {self.num_seqs} seqs)"
        )
        if self.missing_seqs:
            text += f"; {self.missing_seqs} seqs not in the old alignment"
        if self.length_mismatches:
            text += f"; {self.length_mismatches} seqs with a different length"
        return text


def compare_alignments(new: Mapping[str, np.ndarray], old_path: Path, key: str) -> AlignmentChange:
    """Compares frame labels by sequence tag; `key` is the data key of the alignment in `old_path`."""
    old = HDFDataset([str(old_path)], name=str(old_path))
    if key not in old.data_specs():
        raise DataError(f"alignment file {old_path} has no data key {key!r} (it has {sorted(old.data_specs())})")
    index = {old.seq_tag(i): i for i in range(old.num_seqs)}
    num_seqs = num_frames = changed = missing = mismatched = 0
    for tag, labels in new.items():
        if tag not in index:
            missing += 1
            continue
        previous = np.asarray(old.get_seq(index[tag])[key])
        if previous.shape != labels.shape:
            mismatched += 1
            continue
        num_seqs += 1
        num_frames += int(labels.shape[0])
        changed += int(np.count_nonzero(previous != labels))
    return AlignmentChange(num_seqs, num_frames, changed, missing, mismatched)
