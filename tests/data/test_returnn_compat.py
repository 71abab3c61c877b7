"""Interop with RETURNN itself (a dev dependency): its HDF files load here, ours load there, and the same
order and options give the same batches as its PyTorch backend (LenFilter -> Chunking -> Batching)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import returnn.datasets.hdf as returnn_hdf  # a dev dependency: these tests must run, never be skipped

from seqtrain.data.batching import LengthFilter
from seqtrain.data.chunking import parse_chunking
from seqtrain.data.dataset import DataSpec
from seqtrain.data.epoch import plan_epoch
from seqtrain.data.factory import make_dataset
from seqtrain.data.hdf import HDFDataset, HDFWriter


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """57 sequences, lengths 1..59, written by seqtrain: float16 features [T, 3], sparse labels, a dense target."""
    rng = np.random.RandomState(0)
    path = tmp_path_factory.mktemp("compat") / "ours.hdf"
    specs = {
        "data": DataSpec(dim=3, dtype="float16", feature_shape=(3,)),
        "classes": DataSpec(dim=5, dtype="int32", sparse=True, vocab=("a", "b", "c", "d", "e")),
        "energy": DataSpec(dim=2, dtype="float32", feature_shape=(2,)),
    }
    with HDFWriter(path, specs) as writer:
        for i in range(57):
            frames = int(rng.randint(1, 60))
            writer.add(
                f"seq-{i}",
                {
                    "data": rng.randn(frames, 3),
                    "classes": rng.randint(0, 5, size=frames),
                    "energy": rng.rand(frames, 2),
                },
            )
    return path


def test_returnn_reads_what_seqtrain_writes(ours: Path) -> None:
    theirs = returnn_hdf.HDFDataset(files=[str(ours)], cache_byte_size=0)
    theirs.initialize()
    theirs.init_seq_order(epoch=1)
    mine = HDFDataset([str(ours)])
    assert theirs.num_seqs == mine.num_seqs == 57
    assert theirs.labels["classes"] == ["a", "b", "c", "d", "e"]
    assert theirs.num_outputs == {"data": [3, 2], "classes": (5, 1), "energy": (2, 2)}
    assert theirs.is_data_sparse("classes") and not theirs.is_data_sparse("energy")
    for idx in (0, 13, 56):
        theirs.load_seqs(idx, idx + 1)
        assert theirs.get_tag(idx) == mine.seq_tag(idx)
        for key in ("data", "classes", "energy"):
            got = theirs.get_data(idx, key)
            assert got.dtype == mine.get_seq(idx)[key].dtype
            assert np.array_equal(got, mine.get_seq(idx)[key])


def test_seqtrain_reads_what_returnn_writes(tmp_path: Path) -> None:
    rng = np.random.RandomState(1)
    path = tmp_path / "returnn.hdf"
    writer = returnn_hdf.SimpleHDFWriter(str(path), dim=4, ndim=2)
    written = []
    for i in range(5):
        frames = 3 + i
        seq = {
            "data": rng.randn(frames, 4).astype("float16"),
            "classes": rng.randint(0, 7, size=2 + i).astype("int32"),
            "align": rng.rand(frames, 2).astype("float32"),
        }
        written.append(seq)
        writer.insert_batch(
            seq["data"][None], seq_len=[frames], seq_tag=[f"utt/{i}"],
            extra={"classes": seq["classes"][None], "align": seq["align"][None]},
        )  # fmt: skip
    writer.close()
    mine = HDFDataset([str(path)])
    specs = mine.data_specs()
    assert (specs["data"].dtype, specs["data"].dim, specs["data"].sparse) == ("float16", 4, False)
    assert (specs["classes"].sparse, specs["classes"].dim) == (True, None)  # RETURNN's writer records no dim here
    assert (specs["align"].sparse, specs["align"].feature_shape) == (False, (2,))
    assert [mine.seq_tag(i) for i in range(5)] == [f"utt/{i}" for i in range(5)]
    assert mine.seq_lengths()["classes"].tolist() == [2, 3, 4, 5, 6]
    for i, seq in enumerate(written):
        got = mine.get_seq(i)
        for key, value in seq.items():
            assert got[key].dtype == value.dtype and np.array_equal(got[key], value)


def _returnn_batches(path: Path, epoch: int, options: dict, *, batch_size, max_seqs, chunking, max_len, min_len):
    from returnn.torch.data.pipeline import BatchingIterDataPipe, ChunkingIterDataPipe, LenFilterDataPipe
    from returnn.torch.data.returnn_dataset_wrapper import ReturnnDatasetIterDataPipe

    dataset = returnn_hdf.HDFDataset(files=[str(path)], cache_byte_size=0, **options)
    dataset.initialize()
    pipe = ReturnnDatasetIterDataPipe(dataset, reset_callback=lambda: dataset.init_seq_order(epoch=epoch))
    if max_len or min_len:
        pipe = LenFilterDataPipe(pipe, min_seq_length=min_len, max_seq_length=max_len)
    if chunking:
        pipe = ChunkingIterDataPipe(pipe, chunking)
    pipe = BatchingIterDataPipe(pipe, batch_size=batch_size, max_seqs=max_seqs)
    return [[(str(s["seq_tag"]), len(s["data"]), len(s["classes"])) for s in batch] for batch in pipe]


def _our_batches(path: Path, epoch: int, options: dict, *, batch_size, max_seqs, chunking, max_len, min_len):
    setup = make_dataset({"class": "HDFDataset", "files": [str(path)], **options}, name="train")
    setup.data_keys = ("data", "classes")  # extern_data as in the RETURNN pipeline above
    lengths = setup.dataset.seq_lengths()
    plan = plan_epoch(
        setup, epoch, random_seed=42, batch_size=batch_size, max_seqs=max_seqs,
        length_filter=LengthFilter(max_len, min_len) if max_len or min_len else None,
        chunking=parse_chunking(chunking),
    )  # fmt: skip
    out = []
    for batch in plan.batches:
        row = []
        for i, idx in enumerate(batch.seq_indices):
            sizes = [(w[1] - w[0]) if (w := batch.window(i, k)) else int(lengths[k][idx]) for k in ("data", "classes")]
            row.append((setup.dataset.seq_tag(idx), *sizes))
        out.append(row)
    return out


CASES = [
    ("default", 1, {}, 200, -1, None, None, None),
    ("random", 3, {}, 200, 8, None, None, None),
    ("random:2", 2, {}, 120, -1, None, None, None),
    ("sorted", 1, {}, 150, -1, None, None, None),
    ("sorted_reverse", 2, {}, 300, 5, None, None, None),
    ("reverse", 1, {}, 50, 3, None, None, None),
    ("laplace:.10", 1, {}, 200, -1, None, None, None),
    ("laplace:4", 2, {}, {"data": 200, "classes": 100}, 6, None, None, None),
    ("sort_bin_shuffle:.10", 1, {}, 200, -1, None, None, None),
    ("sort_bin_shuffle_x2:3", 5, {}, 200, -1, None, None, None),
    ("random", 2, {"partition_epoch": 2}, 200, -1, None, None, None),
    ("random", 3, {"partition_epoch": 3}, 200, -1, None, None, None),
    ("laplace:.10", 4, {"random_seed_offset": 7}, 200, -1, None, None, None),
    ("random", 1, {}, 200, -1, "20:10", None, None),
    ("laplace:.10", 1, {}, 200, -1, (10, 4), None, None),
    ("laplace:.10", 1, {}, 100, -1, ({"data": 10}, {"data": 5}), None, None),
    ("random", 1, {}, 200, -1, None, 40, 5),
    ("random", 1, {}, 200, -1, None, {"classes": 30}, None),
]


@pytest.mark.parametrize(
    ("ordering", "epoch", "options", "batch_size", "max_seqs", "chunking", "max_len", "min_len"), CASES
)
def test_same_batches_as_returnn(
    ours: Path, ordering: str, epoch: int, options: dict, batch_size, max_seqs, chunking, max_len, min_len
) -> None:
    kwargs = {"batch_size": batch_size, "max_seqs": max_seqs, "chunking": chunking, "max_len": max_len,
              "min_len": min_len}  # fmt: skip
    options = {"seq_ordering": ordering, **options}
    theirs = _returnn_batches(ours, epoch, options, **kwargs)
    assert len(theirs) > 3
    assert _our_batches(ours, epoch, options, **kwargs) == theirs
