"""The anchor data: the RETURNN anchor's numbers, a stable prefix, and files seqtrain reads back bit for bit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.anchor import gen_data
from seqtrain.data.hdf import HDFDataset

REPO = Path(__file__).resolve().parents[3]


def test_full_data_has_the_anchor_sizes() -> None:
    seqs = gen_data.generate()
    lengths = np.array([len(s.frame_labels) for s in seqs])
    assert len(seqs) == 1000
    assert int(lengths.sum()) == 225_619  # /work/shared/bench/README.md
    assert sum(len(s.ctc_labels) for s in seqs) == 56_024  # printed by the anchor's gen_data.py
    assert lengths.min() >= 50 and lengths.max() <= 400
    assert all(len(s.ctc_labels) == max(1, len(s.frame_labels) // 4) for s in seqs)
    first = seqs[0]
    assert first.features.dtype == np.float32 and first.features.shape == (lengths[0], 40)
    assert first.frame_labels.dtype == np.int32 and first.ctc_labels.dtype == np.int32
    assert min(s.frame_labels.min() for s in seqs) == 0 and max(s.frame_labels.max() for s in seqs) == 49


def test_fewer_seqs_are_a_bitwise_prefix() -> None:
    full, prefix = gen_data.generate(), gen_data.generate(7)
    assert len(prefix) == 7
    for a, b in zip(full, prefix, strict=False):
        assert np.array_equal(a.features, b.features)
        assert np.array_equal(a.frame_labels, b.frame_labels)
        assert np.array_equal(a.ctc_labels, b.ctc_labels)


def test_files_read_back_bitwise_in_seqtrain(tmp_path: Path) -> None:
    paths = gen_data.write_all(tmp_path, 12)
    seqs = gen_data.generate(12)
    for loss, targets in (("ce", [s.frame_labels for s in seqs]), ("ctc", [s.ctc_labels for s in seqs])):
        dataset = HDFDataset([str(paths[loss])])
        assert dataset.num_seqs == 12
        specs = dataset.data_specs()
        assert (specs["data"].dim, specs["data"].dtype) == (40, "float32")
        assert (specs["classes"].dim, specs["classes"].sparse) == (50, True)
        for i, seq in enumerate(seqs):
            loaded = dataset.get_seq(i)
            assert dataset.seq_tag(i) == f"seq-{i}"
            assert np.array_equal(loaded["data"], seq.features)
            assert loaded["classes"].dtype == np.int32 and np.array_equal(loaded["classes"], targets[i])


def test_bad_num_seqs() -> None:
    with pytest.raises(ValueError, match=r"num_seqs must be in \[1, 1000\]"):
        gen_data.generate(1001)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.anchor.gen_data", "out", "--num-seqs", "0"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "--num-seqs must be in [1, 1000]" in proc.stderr


def _returnn_python() -> str | None:
    from bench.anchor.run import find_returnn_python

    return find_returnn_python(None)[0]


ANCHOR_GENERATOR = Path("/work/shared/bench/gen_data.py")


@pytest.mark.slow
@pytest.mark.skipif(not ANCHOR_GENERATOR.exists(), reason="the RETURNN anchor's generator is not on this machine")
def test_arrays_are_bit_identical_to_the_returnn_anchors_files(tmp_path: Path) -> None:
    """The anchor writes with RETURNN's SimpleHDFWriter; only where RETURNN runs can we compare."""
    returnn_python = _returnn_python()
    if returnn_python is None:
        pytest.skip("no Python with RETURNN")
    subprocess.run([returnn_python, str(ANCHOR_GENERATOR), str(tmp_path / "returnn")], check=True, capture_output=True)
    gen_data.write_all(tmp_path / "seqtrain")
    import h5py

    for loss in gen_data.LOSSES:
        with (
            h5py.File(tmp_path / "returnn" / f"train_{loss}.hdf") as theirs,
            h5py.File(tmp_path / "seqtrain" / f"train_{loss}.hdf") as ours,
        ):
            for name in ("inputs", "targets/data/classes", "seqLengths"):
                assert theirs[name].dtype == ours[name].dtype, name
                assert np.array_equal(theirs[name][...], ours[name][...]), name
            assert list(theirs["seqTags"].asstr()[...]) == list(ours["seqTags"].asstr()[...])
            assert dict(theirs.attrs) == dict(ours.attrs)
