"""Prints RETURNN's own batches of epoch 1 for a data file, as JSON; runs in RETURNN's environment.

    RETURNN_PYTHON -m bench.anchor.returnn_batches FILE.hdf [--batch-size 5000] [--max-seqs 32]

Reads FILE with RETURNN's `HDFDataset` (so it also proves that RETURNN loads the files seqtrain's
`HDFWriter` writes), orders it with `seq_ordering="laplace:.100"` for epoch 1 and batches it with the
PyTorch backend's `BatchingIterDataPipe`, i.e. the code RETURNN trains with. Output: one JSON object
with the batches as lists of sequence tags and, per data key, a checksum of everything RETURNN read,
so the caller compares both with what seqtrain does. It is printed on one line after `MARKER`, because
RETURNN prints its own log lines to stdout too.
"""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np

MARKER = "RETURNN_BATCHES "


def returnn_epoch_batches(path: str, *, seq_ordering: str, batch_size: int, max_seqs: int) -> dict[str, object]:
    from returnn.datasets.hdf import HDFDataset
    from returnn.torch.data.pipeline import BatchingIterDataPipe
    from returnn.torch.data.returnn_dataset_wrapper import ReturnnDatasetIterDataPipe

    dataset = HDFDataset(files=[path], seq_ordering=seq_ordering, cache_byte_size=0)
    dataset.initialize()
    dataset.init_seq_order(epoch=1)
    pipe = BatchingIterDataPipe(ReturnnDatasetIterDataPipe(dataset), batch_size=batch_size, max_seqs=max_seqs)
    batches: list[list[str]] = []
    digests: dict[str, hashlib._Hash] = {}
    for batch in pipe:
        batches.append([str(seq["seq_tag"]) for seq in batch])
        for seq in batch:
            for key in dataset.get_data_keys():
                array = np.ascontiguousarray(seq[key])
                digest = digests.setdefault(key, hashlib.sha256())
                digest.update(f"{array.dtype}{array.shape}".encode())
                digest.update(array.tobytes())
    return {"batches": batches, "checksums": {k: d.hexdigest() for k, d in sorted(digests.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--seq-ordering", default="laplace:.100")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--max-seqs", type=int, default=32)
    args = parser.parse_args()
    result = returnn_epoch_batches(
        args.file, seq_ordering=args.seq_ordering, batch_size=args.batch_size, max_seqs=args.max_seqs
    )
    print(MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
