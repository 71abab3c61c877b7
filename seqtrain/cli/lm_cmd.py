"""`seqtrain lm --text TRAIN.jsonl --lexicon LEXICON --order 3 --out lm.arpa`: a word n-gram LM for ctc_beam."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqtrain.recog.ngram_lm import build_word_lm, read_texts


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lm", help="estimate a word n-gram LM (KenLM's lmplz) for decoding with recog_lm")
    p.add_argument(
        "--text",
        type=Path,
        nargs="+",
        required=True,
        help='training sentences: .jsonl manifests (each line\'s "text") or text files (one sentence per line)',
    )
    p.add_argument("--lexicon", type=Path, default=None, help="words (one per line) that all get a unigram")
    p.add_argument("--order", type=int, default=3, help="n-gram order, 2 or more (default 3)")
    p.add_argument("--out", type=Path, required=True, help="the ARPA file to write")
    p.add_argument("--lmplz", type=Path, default=None, help="lmplz program (default: .venv/bin/lmplz, then PATH)")
    p.add_argument(
        "--memory", default=None, help="lmplz's sorting memory, e.g. 2G or 20%% (default: 128M + 16 x the text's size)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    texts = [text for path in args.text for text in read_texts(path)]
    words = [w for line in read_texts(args.lexicon) for w in line.split()] if args.lexicon else None
    lm = build_word_lm(
        texts, order=args.order, out_path=args.out, lexicon_words=words, lmplz=args.lmplz, memory=args.memory
    )
    print(f"wrote {lm} from {len(texts)} sentences")
    return 0
