"""HDF round trips (every key kind, several files) and every error a broken file can cause."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from seqtrain.data.dataset import DataSpec
from seqtrain.data.hdf import HDFDataset, HDFWriter
from seqtrain.errors import DataError

SPECS = {
    "data": DataSpec(dim=3, dtype="float16", feature_shape=(3,)),
    "classes": DataSpec(dim=4, dtype="int32", sparse=True, vocab=("a", "b", "c", "d")),
    "image": DataSpec(dim=3, dtype="uint8", feature_shape=(2, 3)),
    "weights": DataSpec(dim=1, dtype="float64"),
}


def _seq(rng: np.random.RandomState, frames: int) -> dict[str, np.ndarray]:
    return {
        "data": rng.randn(frames, 3).astype("float16"),
        "classes": rng.randint(0, 4, size=max(1, frames // 2)).astype("int32"),
        "image": rng.randint(0, 255, size=(frames + 1, 2, 3)).astype("uint8"),
        "weights": rng.rand(frames),
    }


def _write(path: Path, seqs: list[dict[str, np.ndarray]], *, prefix: str, **kwargs) -> Path:
    with HDFWriter(path, SPECS, **kwargs) as writer:
        for i, seq in enumerate(seqs):
            writer.add(f"{prefix}-{i}", seq)
    return path


@pytest.mark.parametrize("buffer_bytes", [1, 16 << 20])
def test_round_trip_every_key_kind_over_two_files(tmp_path: Path, buffer_bytes: int) -> None:
    rng = np.random.RandomState(3)
    first = [_seq(rng, n) for n in (5, 1, 9)]
    second = [_seq(rng, n) for n in (4, 7)]
    files = [
        _write(tmp_path / "a.hdf", first, prefix="a", buffer_bytes=buffer_bytes),
        _write(tmp_path / "b.hdf", second, prefix="b", compression="gzip"),
    ]
    dataset = HDFDataset([str(f) for f in files])
    assert dataset.num_seqs == 5
    assert [dataset.seq_tag(i) for i in range(5)] == ["a-0", "a-1", "a-2", "b-0", "b-1"]
    specs = dataset.data_specs()
    assert specs["classes"] == SPECS["classes"] and specs["classes"].vocab == ("a", "b", "c", "d")
    assert (specs["image"].dtype, specs["image"].feature_shape, specs["image"].sparse) == ("uint8", (2, 3), False)
    assert (specs["weights"].dtype, specs["weights"].sparse, specs["weights"].dim) == ("float64", False, 1)
    lengths = dataset.seq_lengths()
    assert lengths["data"].tolist() == [5, 1, 9, 4, 7] and lengths["image"].tolist() == [6, 2, 10, 5, 8]
    assert lengths["classes"].tolist() == [2, 1, 4, 2, 3]
    for i, seq in enumerate(first + second):
        got = dataset.get_seq(i)
        for key, value in seq.items():
            assert got[key].dtype == np.dtype(SPECS[key].dtype) and np.array_equal(got[key], value), key
    assert not list(tmp_path.glob("*.tmp"))


def test_only_input_features(tmp_path: Path) -> None:
    spec = {"data": DataSpec(dim=2, feature_shape=(2,))}
    with HDFWriter(tmp_path / "x.hdf", spec) as writer:
        writer.add("x", {"data": np.ones((3, 2), dtype="float32")})
    dataset = HDFDataset(str(tmp_path / "x.hdf"))
    assert list(dataset.data_specs()) == ["data"] and dataset.seq_lengths()["data"].tolist() == [3]
    with h5py.File(tmp_path / "x.hdf") as f:
        assert f["seqLengths"].shape == (1, 2)  # RETURNN's dummy target column


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.hdf"
    path.write_bytes(b"previous")
    with pytest.raises(RuntimeError), HDFWriter(path, SPECS) as writer:
        writer.add("ok", _seq(np.random.RandomState(0), 3))
        raise RuntimeError("crash while writing")
    assert path.read_bytes() == b"previous" and not (tmp_path / "out.hdf.tmp").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("weights"), r"has data keys \['classes', 'data', 'image'\]"),
        (lambda s: s.update(data=np.zeros((2, 4))), r"shape \(2, 4\), expected \[T, 3\]"),
        (lambda s: s.update(classes=np.array([0, 4])), r"label 4 or 0 outside \[0, 4\)"),
        (lambda s: s.update(classes=np.array([0.5])), "sparse data must be integer labels"),
    ],
)
def test_writer_refuses_bad_sequences(tmp_path: Path, change, message: str) -> None:
    seq = _seq(np.random.RandomState(0), 3)
    change(seq)
    writer = HDFWriter(tmp_path / "w.hdf", SPECS)
    with pytest.raises(DataError, match=rf"HDFWriter .*w\.hdf: sequence 'bad'.*{message}"):
        writer.add("bad", seq)
    writer.abort()


def _broken(tmp_path: Path, damage) -> Path:
    path = _write(tmp_path / "broken.hdf", [_seq(np.random.RandomState(0), n) for n in (4, 6)], prefix="s")
    with h5py.File(path, "r+") as f:
        damage(f)
    return path


def _truncate_inputs(f: h5py.File) -> None:
    data = f["inputs"][:5]
    del f["inputs"]
    f["inputs"] = data


def _drop_column(f: h5py.File) -> None:
    lengths = f["seqLengths"][:, :2]
    del f["seqLengths"]
    f["seqLengths"] = lengths


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: f.__delitem__("seqLengths"), "lacks 'seqLengths': not in RETURNN's HDFDataset layout"),
        (lambda f: f.__delitem__("seqTags"), "lacks 'seqTags'"),
        (_truncate_inputs, "data key 'data' holds 5 frames but seqLengths sum to 10; the file is truncated"),
        (_drop_column, r"seqLengths has 2 columns but the file has 4 data keys"),
        (lambda f: f["targets/data"].__delitem__("image"), "targets/size names data key 'image' but targets/data"),
    ],
)
def test_broken_layouts_are_clear_errors(tmp_path: Path, damage, message: str) -> None:
    path = _broken(tmp_path, damage)
    with pytest.raises(DataError, match=rf"HDF file .*broken\.hdf.*{message}"):
        HDFDataset(str(path))


def test_missing_and_non_hdf_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"HDF file .*nope\.hdf does not exist"):
        HDFDataset(str(tmp_path / "nope.hdf"))
    (tmp_path / "text.hdf").write_text("not hdf")
    with pytest.raises(DataError, match=r"text\.hdf cannot be opened .*is it a complete HDF5 file"):
        HDFDataset(str(tmp_path / "text.hdf"))
    with pytest.raises(DataError, match="needs at least one file"):
        HDFDataset([])


def test_files_with_different_keys_cannot_be_combined(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.hdf", [_seq(np.random.RandomState(0), 3)], prefix="a")
    b = tmp_path / "b.hdf"
    with HDFWriter(b, {"data": SPECS["data"]}) as writer:
        writer.add("b", {"data": np.zeros((2, 3))})
    with pytest.raises(DataError, match=r"HDF files .*a\.hdf and .*b\.hdf hold different data keys or dims"):
        HDFDataset([str(a), str(b)])


def test_workers_open_their_own_handle(tmp_path: Path) -> None:
    import pickle

    path = _write(tmp_path / "a.hdf", [_seq(np.random.RandomState(0), 3)], prefix="a")
    dataset = HDFDataset(str(path))
    dataset.get_seq(0)
    assert dataset._handles  # opened lazily in this process
    clone = pickle.loads(pickle.dumps(dataset))  # what a spawned worker receives
    assert clone._handles == {} and np.array_equal(clone.get_seq(0)["data"], dataset.get_seq(0)["data"])
