"""Word error rate via jiwer, and label sequences turned into text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jiwer


def labels_to_text(labels: Sequence[int], vocab: Sequence[str]) -> str:
    """Characters are concatenated (" " is the word separator); multi-character units are joined by spaces."""
    tokens = [vocab[i] for i in labels if 0 <= i < len(vocab)]
    if all(len(t) <= 1 for t in tokens):
        text = "".join(tokens)
    else:
        text = " ".join(tokens).replace("@@ ", "").replace("▁", " ")
    return " ".join(text.split())


@dataclass(frozen=True)
class WerResult:
    wer: float
    errors: int
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int
    num_seqs: int

    def __str__(self) -> str:
        return (
            f"WER {100 * self.wer:.2f}% ({self.errors}/{self.ref_words} words: {self.substitutions} sub, "
            f"{self.deletions} del, {self.insertions} ins; {self.num_seqs} seqs)"
        )


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> WerResult:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    # jiwer rejects empty references; an empty reference contributes its hypothesis words as insertions.
    pairs = [(r, h) for r, h in zip(references, hypotheses) if r.strip()]
    extra_ins = sum(len(h.split()) for r, h in zip(references, hypotheses) if not r.strip())
    if pairs:
        out = jiwer.process_words([r for r, _ in pairs], [h for _, h in pairs])
        sub, dele, ins, hits = out.substitutions, out.deletions, out.insertions + extra_ins, out.hits
    else:
        sub, dele, ins, hits = 0, 0, extra_ins, 0
    ref_words = sub + dele + hits
    errors = sub + dele + ins
    return WerResult(
        wer=errors / ref_words if ref_words else float(errors > 0),
        errors=errors,
        ref_words=ref_words,
        substitutions=sub,
        deletions=dele,
        insertions=ins,
        num_seqs=len(references),
    )
