"""Chunking: RETURNN's window semantics, aligned targets cut with the inputs, errors before training."""

from __future__ import annotations

import numpy as np
import pytest

from seqtrain.data.batching import make_batches
from seqtrain.data.chunking import Chunking, chunk_items, num_windows, parse_chunking
from seqtrain.data.collate import collate
from seqtrain.data.numpy_ds import NumpyDataset
from seqtrain.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, None),
        ("0", None),
        (100, Chunking(100, 100)),
        ("100", Chunking(100, 100)),
        ("100:50", Chunking(100, 50)),
        ((100, 50), Chunking(100, 50)),
        ((100, None), Chunking(100, 100)),
        ({"data": 100}, Chunking({"data": 100}, {"data": 100})),
        (
            ({"data": 100, "align": 25}, {"data": 50, "align": 12}),
            Chunking({"data": 100, "align": 25}, {"data": 50, "align": 12}),
        ),
    ],
)
def test_parse_returnn_forms(value: object, expected: Chunking | None) -> None:
    assert parse_chunking(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("100:x", "expected 'size' or 'size:step' with integers"),
        ("1:2:3", "expected 'size' or 'size:step'"),
        ((100, -5), "must be > 0"),
        (({"data": 10}, {"classes": 5}), "must name the same data keys"),
        (({"data": 10}, 5), "must name the same data keys"),
        (2.5, "must be an int or a dict"),
    ],
)
def test_parse_errors(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_chunking(value)


def test_windows_of_one_sequence_as_returnn_cuts_them() -> None:
    # RETURNN: [data[s:s + 6] for s in range(0, 10, 3)] -> [0:6], [3:9], [6:10], [9:10]
    items, skipped = chunk_items(np.array([0]), {"data": np.array([10])}, Chunking(6, 3))
    starts = items.starts["data"].tolist()
    ends = (items.starts["data"] + items.lengths["data"]).tolist()
    assert list(zip(starts, ends)) == [(0, 6), (3, 9), (6, 10), (9, 10)] and skipped == 0


def test_min_chunk_size_drops_short_tails_and_skips_short_sequences() -> None:
    items, skipped = chunk_items(np.array([0, 1]), {"data": np.array([10, 3])}, Chunking(6, 3, min_chunk_size=4))
    assert items.seq_indices.tolist() == [0, 0, 0] and items.lengths["data"].tolist() == [6, 6, 4]  # tail 1 < 4
    assert skipped == 1  # length 3 < 4: no window at all


@pytest.mark.parametrize("minimum", [0, 1, 3, 6, 7])
@pytest.mark.parametrize("size_step", [(6, 3), (5, 5), (4, 7)])
def test_num_windows_matches_a_literal_loop(minimum: int, size_step: tuple[int, int]) -> None:
    size, step = size_step
    lengths = np.arange(0, 30)
    expected = [len([s for s in range(0, n, step) if min(size, n - s) >= minimum]) for n in lengths]
    assert num_windows(lengths, size, step, minimum).tolist() == expected


def test_per_key_sizes_for_subsampled_alignments_and_whole_other_keys() -> None:
    lengths = {"data": np.array([8]), "align": np.array([2]), "speaker": np.array([1])}
    items, _ = chunk_items(np.array([0]), lengths, Chunking({"data": 4, "align": 1}, {"data": 4, "align": 1}))
    spec = make_batches(items, batch_size=1000)[0]
    assert spec.chunks == ({"data": (0, 4), "align": (0, 1)}, {"data": (4, 8), "align": (1, 2)})
    assert spec.window(0, "speaker") is None  # not chunked: given whole with every window


def test_different_window_counts_name_the_sequence() -> None:
    lengths = {"data": np.array([20, 20]), "classes": np.array([20, 5])}
    with pytest.raises(DataError, match=r"sequence 'utt-b' \(index 1\) gives 2 windows for data key 'data'"):
        chunk_items(np.array([0, 1]), lengths, Chunking(10, 10), seq_tag=lambda i: "utt-" + "ab"[i])


def test_chunked_key_not_batched_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"chunking names data keys \['feats'\]"):
        chunk_items(np.array([0]), {"data": np.array([5])}, Chunking({"feats": 2}, {"feats": 2}))


def test_frame_aligned_targets_are_cut_with_the_inputs() -> None:
    """Each frame carries its own index in the features and in the labels, so a misaligned cut shows."""
    seqs = []
    for n in (7, 11):
        frames = np.arange(n)
        seqs.append({"data": np.stack([frames, 100 + frames], axis=1).astype("float32"), "classes": frames % 50})
    dataset = NumpyDataset(seqs, dims={"classes": 50})
    items, _ = chunk_items(np.array([0, 1]), dataset.seq_lengths(), parse_chunking("4:3"))
    batches = make_batches(items, batch_size=12)
    seen = []
    for spec in batches:
        batch = collate(dataset, spec, {"data": "float32", "classes": "int64"})
        for i in range(batch.num_seqs):
            n = int(batch.lengths["data"][i])
            assert int(batch.lengths["classes"][i]) == n
            labels = batch["classes"][i, :n].tolist()
            assert batch["data"][i, :n, 0].tolist() == labels and batch["data"][i, :n, 1].tolist() == [
                100 + x for x in labels
            ]
            seen.append((spec.seq_indices[i], labels[0], labels[-1] + 1))
    # starts 0, 3, 6 (, 9) of each sequence, the tails shorter
    assert seen == [(0, 0, 4), (0, 3, 7), (0, 6, 7), (1, 0, 4), (1, 3, 7), (1, 6, 10), (1, 9, 11)]
