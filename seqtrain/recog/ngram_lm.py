"""A word n-gram LM for `ctc_beam`, estimated by KenLM's lmplz (modified Kneser-Ney) from transcripts.

lmplz is C++ that PyPI ships only as source; scripts/build_kenlm.sh builds it into the virtual environment's bin/
(setup_env.sh runs it). It gets `--discount_fallback` because transcripts of small corpora lack the counts of
counts that Kneser-Ney's discounts are estimated from. Lexicon words the text lacks are added as unigrams that
share `<unk>`'s probability (seqtrain.recog.arpa says why not as extra sentences). The ARPA file is written to a
temporary name in its directory and renamed, so a failed or interrupted build never leaves a half file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from seqtrain.data.manifest_row import manifest_row
from seqtrain.errors import ConfigError, DataError
from seqtrain.recog.arpa import add_unigrams

BUILD_SCRIPT = "scripts/build_kenlm.sh"
MIN_ORDER = 2  # KenLM (and so flashlight) loads only models of bigrams or more


@dataclass(frozen=True)
class WordLm:
    """What was built: the ARPA file, its n-gram counts by order, lexicon words added as unigrams."""

    path: Path
    counts: list[int]
    added_words: int

    def __str__(self) -> str:
        counts = ", ".join(f"{n + 1}-grams {c}" for n, c in enumerate(self.counts))
        added = f"{self.added_words} lexicon word{'' if self.added_words == 1 else 's'} added"
        return f"{self.path}: {len(self.counts)}-gram LM ({counts}; {added})"


def find_lmplz(lmplz: str | Path | None = None) -> Path:
    """`lmplz` when given, else the one in this Python's environment (.venv/bin), else the one on PATH."""
    if lmplz is not None:
        if not Path(lmplz).is_file():
            raise ConfigError(f"lmplz {lmplz} does not exist; build it with {BUILD_SCRIPT}")
        return Path(lmplz)
    beside_python = Path(sys.prefix) / "bin" / "lmplz"
    if beside_python.is_file():
        return beside_python
    on_path = shutil.which("lmplz")
    if on_path is None:
        raise ConfigError(
            f"KenLM's lmplz is not installed (looked in {beside_python.parent} and on PATH); build it with "
            f"{BUILD_SCRIPT} (scripts/setup_env.sh runs it)"
        )
    return Path(on_path)


def build_word_lm(
    texts: Iterable[str],
    *,
    order: int,
    out_path: Path,
    lexicon_words: Sequence[str] | None = None,
    lmplz: str | Path | None = None,
    memory: str | None = None,
) -> WordLm:
    """Estimates an `order`-gram LM on `texts` (one sentence each, words separated by spaces) into the ARPA file
    `out_path`; every word of `lexicon_words` gets a unigram. `memory` is lmplz's sorting memory (-S, e.g. "2G");
    None = 128 MB + 16 times the text's size (lmplz's own default, 80 % of the machine, is no neighbour to others)."""
    if order < MIN_ORDER:
        raise ConfigError(f"LM order {order}: KenLM loads only n-gram models of order {MIN_ORDER} or more")
    program = find_lmplz(lmplz)
    text = "".join(f"{line}\n" for line in (t.strip() for t in texts) if line)
    if not text:
        raise DataError("the LM training text is empty: give transcripts with at least one word")
    memory = memory or f"{128 + 16 * len(text.encode()) // 2**20}M"
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_path.name}.", dir=out_path.parent) as tmp:
        estimated, final = Path(tmp) / "lmplz.arpa", Path(tmp) / "final.arpa"
        command = [str(program), "-o", str(order), "--discount_fallback", "-S", memory, "-T", f"{tmp}/"]
        proc = subprocess.run(
            [*command, "--arpa", str(estimated)], input=text.encode(), capture_output=True, check=False
        )
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.decode(errors="replace").strip().splitlines()[-2:])
            raise DataError(f"lmplz failed (exit {proc.returncode}) on the text for {out_path}: {tail}")
        added = add_unigrams(estimated, final, lexicon_words or [])
        with open(final, "rb") as f:
            os.fsync(f.fileno())
        os.replace(final, out_path)
    return WordLm(out_path, _ngram_counts(out_path), added)


def read_texts(path: Path) -> list[str]:
    """The sentences of a JSON-lines manifest (each line's "text") or of a text file (each non-empty line)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from e
    if Path(path).suffix != ".jsonl":
        return [line for line in lines if line.strip()]
    texts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        texts.append(manifest_row(line, "text", f"{path}, line {number}", hint=" (the transcript)")["text"])
    return texts


def _ngram_counts(path: Path) -> list[int]:
    counts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("ngram "):
                counts.append(int(line.split("=", 1)[1]))
            elif line.startswith("\\1-grams:"):
                break
    return counts
