"""`seqtrain` with the benchmark's probe on its logger: `python -m bench.gpu.launch_seqtrain train CONFIG k=v ...`.

Starting seqtrain through this module instead of adding instrumentation to the configs keeps the configs as a
user writes them (the anchor's `seqtrain_bench.py` unchanged, the conformer as its recipe builds it) and
measures both model styles the same way. Works under torchrun too (`-m bench.gpu.launch_seqtrain`).
"""

from __future__ import annotations

import sys

from bench.gpu.probe import install_seqtrain_probe


def main(argv: list[str] | None = None) -> int:
    install_seqtrain_probe()
    from seqtrain.cli.main import main as seqtrain_main  # after the probe, before any epoch starts

    return seqtrain_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
