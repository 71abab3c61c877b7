"""HDF files in RETURNN's `HDFDataset` layout: a lazy reader and a writer.

Layout (what RETURNN's `SimpleHDFWriter` writes and `HDFDataset` reads):
  attrs: inputPattSize, numLabels, numSeqs, numTimesteps, numDims
  inputs [sum_T, dim] (dense) or [sum_T] (sparse)     -> data key "data"
  seqLengths [num_seqs, 1 + K] int: column 0 = inputs, column i+1 = the i-th sorted target key
  seqTags [num_seqs] str
  targets/data/<key> [sum_L, ...], targets/size.attrs[<key>] = (dim, ndim), targets/labels/<key> [dim] str

The reader keeps only lengths and offsets in memory; features are read per sequence, with one
h5py handle per process (DataLoader workers open their own after fork).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from seqtrain.data.dataset import Dataset, DataSpec
from seqtrain.errors import DataError

INPUT_KEY = "data"


def _decode(s: bytes | str) -> str:
    return (s.decode("utf8") if isinstance(s, bytes) else str(s)).split("\0")[0]


class _FileIndex:
    """What one HDF file holds, read once at start: keys, specs, per-sequence offsets and tags."""

    def __init__(self, path: str) -> None:
        self.path = path
        if not os.path.isfile(path):
            raise DataError(f"HDF file {path} does not exist")
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise DataError(f"HDF file {path} cannot be opened ({e}); is it a complete HDF5 file?") from e
        with f:
            for required in ("seqLengths", "seqTags"):
                if required not in f:
                    raise DataError(
                        f"HDF file {path} lacks '{required}': not in RETURNN's HDFDataset layout "
                        "(write it with seqtrain.data.hdf.HDFWriter)"
                    )
            self.target_keys: list[str] = []
            if "targets" in f:
                names = set(f["targets/data"].keys()) if "targets/data" in f else set()
                if "targets/size" in f:
                    names |= set(f["targets/size"].attrs.keys())
                self.target_keys = sorted(names)
            elif "inputs" not in f:
                raise DataError(f"HDF file {path} has neither 'inputs' nor 'targets': no data keys")
            self.has_inputs = "inputs" in f
            lengths = np.asarray(f["seqLengths"][...], dtype=np.int64)
            if lengths.ndim == 1:
                lengths = lengths[:, None]
            if not self.target_keys and lengths.shape[1] == 2:
                lengths = lengths[:, :1]  # old files count a dummy "classes" column
            self.keys = ([INPUT_KEY] if self.has_inputs else []) + self.target_keys
            if lengths.shape[1] != len(self.keys):
                raise DataError(
                    f"HDF file {path}: seqLengths has {lengths.shape[1]} columns but the file has "
                    f"{len(self.keys)} data keys {self.keys}"
                )
            self.lengths = {k: lengths[:, i] for i, k in enumerate(self.keys)}
            self.offsets = {k: np.concatenate([[0], np.cumsum(v)]) for k, v in self.lengths.items()}
            self.tags = [_decode(t) for t in f["seqTags"][...]]
            if len(self.tags) != len(lengths):
                raise DataError(f"HDF file {path}: {len(self.tags)} seqTags but {len(lengths)} seqLengths rows")
            self.specs = {k: self._spec(f, k) for k in self.keys}
            for k in self.keys:
                stored = self._array(f, k).shape[0]
                if stored < self.offsets[k][-1]:
                    raise DataError(
                        f"HDF file {path}: data key {k!r} holds {stored} frames but seqLengths sum to "
                        f"{self.offsets[k][-1]}; the file is truncated or inconsistent"
                    )

    @staticmethod
    def _array(f: h5py.File, key: str) -> h5py.Dataset:
        return f["inputs"] if key == INPUT_KEY else f["targets/data"][key]

    def _spec(self, f: h5py.File, key: str) -> DataSpec:
        arr = self._array(f, key)
        vocab = None
        if key == INPUT_KEY:
            sparse = arr.ndim == 1
            dim = int(f.attrs.get("inputPattSize", 0)) if sparse else int(arr.shape[1])
            if "labels" in f and len(f["labels"]) > 0:
                vocab = tuple(_decode(s) for s in f["labels"][...])
        else:
            size = f["targets/size"].attrs.get(key) if "targets/size" in f else None
            if size is None:
                dim, ndim = (1 if arr.ndim == 1 else int(arr.shape[-1])), arr.ndim
            elif np.isscalar(size):
                dim, ndim = int(size), arr.ndim
            else:
                dim, ndim = int(size[0]), int(size[1])
            sparse = ndim == 1
            if "targets/labels" in f and key in f["targets/labels"]:
                vocab = tuple(_decode(s) for s in f["targets/labels"][key][...])
        return DataSpec(
            dim=dim, dtype=str(arr.dtype), sparse=sparse, feature_shape=tuple(int(d) for d in arr.shape[1:]),
            vocab=vocab or None,
        )


class HDFDataset(Dataset):
    """Sequences from one or more HDF files (RETURNN layout), read lazily."""

    def __init__(self, files: str | Sequence[str], *, name: str = "hdf") -> None:
        self.name = name
        paths = [files] if isinstance(files, (str, Path)) else list(files)
        if not paths:
            raise DataError(f"dataset {name!r}: HDFDataset needs at least one file in 'files'")
        self._files = [_FileIndex(str(p)) for p in paths]
        first = self._files[0]
        for other in self._files[1:]:
            if other.keys != first.keys or any(
                (other.specs[k].dim, other.specs[k].sparse) != (first.specs[k].dim, first.specs[k].sparse)
                for k in first.keys
            ):
                raise DataError(
                    f"HDF files {first.path} and {other.path} hold different data keys or dims: "
                    f"{ {k: s.describe() for k, s in first.specs.items()} } vs "
                    f"{ {k: s.describe() for k, s in other.specs.items()} }"
                )
        self._file_start = np.cumsum([0] + [len(f.tags) for f in self._files])
        self._handles: dict[int, h5py.File] = {}
        self._handles_pid = -1

    @property
    def num_seqs(self) -> int:
        return int(self._file_start[-1])

    def data_specs(self) -> dict[str, DataSpec]:
        return dict(self._files[0].specs)

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([f.lengths[k] for f in self._files]) for k in self._files[0].keys}

    def _locate(self, idx: int) -> tuple[int, int]:
        if not 0 <= idx < self.num_seqs:
            raise DataError(f"dataset {self.name!r}: sequence index {idx} out of range [0, {self.num_seqs})")
        file_idx = int(np.searchsorted(self._file_start, idx, side="right") - 1)
        return file_idx, idx - int(self._file_start[file_idx])

    def seq_tag(self, idx: int) -> str:
        file_idx, local = self._locate(idx)
        return self._files[file_idx].tags[local]

    def _handle(self, file_idx: int) -> h5py.File:
        if self._handles_pid != os.getpid():  # a forked worker must not share the parent's handles
            self._handles = {}
            self._handles_pid = os.getpid()
        if file_idx not in self._handles:
            self._handles[file_idx] = h5py.File(self._files[file_idx].path, "r")
        return self._handles[file_idx]

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        file_idx, local = self._locate(idx)
        index = self._files[file_idx]
        f = self._handle(file_idx)
        out = {}
        for key in index.keys:
            start, end = index.offsets[key][local], index.offsets[key][local + 1]
            try:
                out[key] = index._array(f, key)[start:end]
            except Exception as e:
                raise DataError(
                    f"HDF file {index.path}: cannot read data key {key!r} of sequence {index.tags[local]!r} "
                    f"(index {idx}): {e}"
                ) from e
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handles"] = {}
        state["_handles_pid"] = -1
        return state


class HDFWriter:
    """Writes sequences into a new HDF file in RETURNN's layout, readable by RETURNN and by `HDFDataset`.

    The file is written to `<path>.tmp` and renamed on `close()`, so a crash never leaves a file that
    looks complete.
    """

    def __init__(
        self,
        path: str | Path,
        specs: dict[str, DataSpec],
        *,
        compression: str | None = None,
    ) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._specs = dict(specs)
        self._target_keys = sorted(k for k in specs if k != INPUT_KEY)
        self._keys = ([INPUT_KEY] if INPUT_KEY in specs else []) + self._target_keys
        self._chunks: dict[str, list[np.ndarray]] = {k: [] for k in self._keys}
        self._lengths: list[list[int]] = []
        self._tags: list[str] = []
        self._compression = compression

    def add(self, tag: str, seq: dict[str, np.ndarray]) -> None:
        missing = set(self._keys) - set(seq)
        if missing:
            raise DataError(f"HDFWriter {self.path}: sequence {tag!r} lacks data keys {sorted(missing)}")
        row = []
        for k in self._keys:
            arr = np.asarray(seq[k], dtype=self._specs[k].dtype)
            self._chunks[k].append(arr)
            row.append(int(arr.shape[0]))
        self._lengths.append(row)
        self._tags.append(tag)

    def close(self) -> Path:
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(self._tmp, "w") as f:
            num_frames = sum(r[0] for r in self._lengths) if self._keys else 0
            in_spec = self._specs.get(INPUT_KEY)
            in_dim = (in_spec.dim or 1) if in_spec is not None else 1
            f.attrs["inputPattSize"] = in_dim
            f.attrs["numLabels"] = in_dim
            f.attrs["numDims"] = 1
            f.attrs["numSeqs"] = len(self._tags)
            f.attrs["numTimesteps"] = num_frames
            f.create_dataset("labels", (0,), dtype="S5")
            f.create_dataset("seqLengths", data=np.array(self._lengths, dtype=np.int32).reshape(-1, len(self._keys)))
            f.create_dataset("seqTags", data=np.array(self._tags, dtype=object), dtype=h5py.string_dtype("utf-8"))
            for k in self._keys:
                spec = self._specs[k]
                data = self._concat(k, spec)
                if k == INPUT_KEY:
                    f.create_dataset("inputs", data=data, compression=self._compression)
                    if spec.vocab:
                        del f["labels"]
                        f.create_dataset("labels", data=np.array(spec.vocab, dtype=object),
                                         dtype=h5py.string_dtype("utf-8"))
                else:
                    f.create_dataset(f"targets/data/{k}", data=data, compression=self._compression)
                    ndim = 1 if spec.sparse else 1 + len(spec.feature_shape)
                    if "targets/size" not in f:
                        f.create_group("targets/size")
                    f["targets/size"].attrs[k] = np.array([spec.dim or 1, ndim], dtype=np.int64)
                    if spec.vocab:
                        f.create_dataset(f"targets/labels/{k}", data=np.array(spec.vocab, dtype=object),
                                         dtype=h5py.string_dtype("utf-8"))
            if self._target_keys and "targets/labels" not in f:
                f.create_group("targets/labels")
        os.replace(self._tmp, self.path)
        return self.path

    def _concat(self, key: str, spec: DataSpec) -> np.ndarray:
        if self._chunks[key]:
            return np.concatenate(self._chunks[key], axis=0)
        return np.zeros((0, *spec.feature_shape), dtype=spec.dtype)
