"""HDF files in RETURNN's `HDFDataset` layout (see `seqtrain.data.hdf_index`): a lazy reader and a writer.

Files RETURNN writes load here, and files written here load in RETURNN (tests run RETURNN's own reader
and writer). The reader keeps only lengths, offsets and tags in memory and reads one sequence at a time,
with one h5py handle per process: DataLoader workers open their own after fork. The writer streams to
`<path>.tmp` and renames on `close()`, so a crash never leaves a file that looks complete.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from seqtrain.data.dataset import DATASETS, Dataset, DataSpec
from seqtrain.data.hdf_index import INPUT_KEY, FileIndex, data_array
from seqtrain.errors import DataError

__all__ = ["INPUT_KEY", "HDFDataset", "HDFWriter"]


class HDFDataset(Dataset):
    """Sequences from one or more HDF files (RETURNN layout), read lazily; every data key of the files."""

    def __init__(self, files: str | Sequence[str], *, name: str = "hdf") -> None:
        self.name = name
        paths = [files] if isinstance(files, (str, Path)) else list(files)
        if not paths:
            raise DataError(f"dataset {name!r}: HDFDataset needs at least one file in 'files'")
        self._files = [FileIndex(str(p)) for p in paths]
        first = self._files[0]
        for other in self._files[1:]:
            if other.keys != first.keys or any(
                (other.specs[k].dim, other.specs[k].sparse, other.specs[k].feature_shape)
                != (first.specs[k].dim, first.specs[k].sparse, first.specs[k].feature_shape)
                for k in first.keys
            ):
                raise DataError(
                    f"HDF files {first.path} and {other.path} hold different data keys or dims: "
                    f"{ {k: s.describe() for k, s in first.specs.items()} } vs "
                    f"{ {k: s.describe() for k, s in other.specs.items()} }"
                )
        self._file_start = np.cumsum([0] + [len(f.tags) for f in self._files])
        self._lengths = {k: np.concatenate([f.lengths[k] for f in self._files]) for k in first.keys}
        self._handles: dict[int, tuple[h5py.File, dict[str, h5py.Dataset]]] = {}
        self._handles_pid = -1

    @property
    def num_seqs(self) -> int:
        return int(self._file_start[-1])

    def data_specs(self) -> dict[str, DataSpec]:
        return dict(self._files[0].specs)

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return dict(self._lengths)

    def _locate(self, idx: int) -> tuple[int, int]:
        if not 0 <= idx < self.num_seqs:
            raise DataError(f"dataset {self.name!r}: sequence index {idx} out of range [0, {self.num_seqs})")
        file_idx = int(np.searchsorted(self._file_start, idx, side="right") - 1)
        return file_idx, idx - int(self._file_start[file_idx])

    def seq_tag(self, idx: int) -> str:
        file_idx, local = self._locate(idx)
        return self._files[file_idx].tags[local]

    def describe_seq(self, idx: int) -> str:
        file_idx, local = self._locate(idx)
        index = self._files[file_idx]
        return f"sequence {index.tags[local]!r} (index {local}) of HDF file {index.path}"

    def _arrays(self, file_idx: int) -> dict[str, h5py.Dataset]:
        """The file's data arrays, opened once per process (h5py lookups by name are slow)."""
        if self._handles_pid != os.getpid():  # a forked worker must not use the parent's handles
            self._handles = {}
            self._handles_pid = os.getpid()
        if file_idx not in self._handles:
            index = self._files[file_idx]
            try:
                f = h5py.File(index.path, "r")
            except OSError as e:
                raise DataError(f"HDF file {index.path} cannot be opened anymore ({e}); was it moved?") from e
            self._handles[file_idx] = (f, {k: data_array(f, k) for k in index.keys})
        return self._handles[file_idx][1]

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        return {key: self.get_data(idx, key) for key in self._files[0].keys}

    def get_data(self, idx: int, key: str) -> np.ndarray:
        file_idx, local = self._locate(idx)
        index = self._files[file_idx]
        start, end = index.offsets[key][local], index.offsets[key][local + 1]
        try:
            return self._arrays(file_idx)[key][start:end]
        except Exception as e:
            raise DataError(
                f"HDF file {index.path}: cannot read data key {key!r} of sequence {index.tags[local]!r} "
                f"(index {local}): {e}"
            ) from e

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handles"] = {}
        state["_handles_pid"] = -1
        return state


class HDFWriter:
    """Writes sequences into a new HDF file in RETURNN's layout, readable by RETURNN and by `HDFDataset`.

    Streams: sequences are buffered up to ~`buffer_bytes` and appended, so writing a corpus needs little
    memory. Use as a context manager (an exception removes the temp file) or call `close()` at the end.
    """

    def __init__(
        self,
        path: str | Path,
        specs: dict[str, DataSpec],
        *,
        compression: str | None = None,
        buffer_bytes: int = 16 << 20,
    ) -> None:
        if not specs:
            raise DataError(f"HDFWriter {path}: no data keys to write")
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._specs = dict(specs)
        self._target_keys = sorted(k for k in specs if k != INPUT_KEY)
        self._keys = ([INPUT_KEY] if INPUT_KEY in specs else []) + self._target_keys
        self._compression = compression
        self._buffer_bytes = buffer_bytes
        self._pending: dict[str, list[np.ndarray]] = {k: [] for k in self._keys}
        self._pending_bytes = 0
        self._lengths: list[list[int]] = []
        self._tags: list[str] = []
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        self._file: h5py.File | None = h5py.File(self._tmp, "w")
        self._arrays = {k: self._create(k) for k in self._keys}

    def _create(self, key: str) -> h5py.Dataset:
        spec = self._specs[key]
        shape = () if spec.sparse else tuple(spec.feature_shape)
        row_bytes = np.dtype(spec.dtype).itemsize * max(1, math.prod(shape))
        chunk_rows = max(1, min(65536, (256 << 10) // row_bytes))
        assert self._file is not None
        name = "inputs" if key == INPUT_KEY else f"targets/data/{key}"
        return self._file.create_dataset(
            name, shape=(0, *shape), maxshape=(None, *shape), dtype=spec.dtype, chunks=(chunk_rows, *shape),
            compression=self._compression,
        )  # fmt: skip

    def _checked(self, tag: str, key: str, value: np.ndarray) -> np.ndarray:
        spec = self._specs[key]
        arr = np.asarray(value)
        where = f"HDFWriter {self.path}: sequence {tag!r}, data key {key!r}"
        want_shape = () if spec.sparse else tuple(spec.feature_shape)
        if arr.ndim < 1 or arr.shape[1:] != want_shape:
            raise DataError(f"{where}: shape {arr.shape}, expected [T{''.join(f', {d}' for d in want_shape)}]")
        if spec.sparse:
            if arr.dtype.kind not in "iub":
                raise DataError(f"{where}: sparse data must be integer labels, got dtype {arr.dtype}")
            if arr.size and spec.dim and (int(arr.min()) < 0 or int(arr.max()) >= spec.dim):
                raise DataError(f"{where}: label {int(arr.max())} or {int(arr.min())} outside [0, {spec.dim})")
        return arr.astype(spec.dtype, copy=False)

    def add(self, tag: str, seq: dict[str, np.ndarray]) -> None:
        if self._file is None:
            raise DataError(f"HDFWriter {self.path}: add() after close()")
        missing, extra = set(self._keys) - set(seq), set(seq) - set(self._keys)
        if missing or extra:
            raise DataError(
                f"HDFWriter {self.path}: sequence {tag!r} has data keys {sorted(seq)}, the file has {self._keys}"
            )
        arrays = {k: self._checked(tag, k, seq[k]) for k in self._keys}
        for k, arr in arrays.items():
            self._pending[k].append(arr)
            self._pending_bytes += arr.nbytes
        self._lengths.append([int(arrays[k].shape[0]) for k in self._keys])
        self._tags.append(str(tag))
        if self._pending_bytes >= self._buffer_bytes:
            self._flush()

    def _flush(self) -> None:
        for key, parts in self._pending.items():
            if not parts:
                continue
            data = np.concatenate(parts, axis=0)
            array = self._arrays[key]
            old = array.shape[0]
            array.resize(old + data.shape[0], axis=0)
            array[old:] = data
            parts.clear()
        self._pending_bytes = 0

    def close(self) -> Path:
        """Writes lengths, tags and metadata, then moves the file into place."""
        if self._file is None:
            return self.path
        self._flush()
        self._write_meta(self._file)
        self._file.close()
        self._file = None
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drops everything written so far; the target path is left untouched."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> HDFWriter:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _write_meta(self, f: h5py.File) -> None:
        in_spec = self._specs.get(INPUT_KEY)
        in_dim = (in_spec.dim or 1) if in_spec is not None else 1
        lengths = np.array(self._lengths, dtype=np.int32).reshape(-1, len(self._keys))
        if not self._target_keys:  # RETURNN expects a (dummy) target column in files without targets
            lengths = np.concatenate([lengths, np.zeros_like(lengths[:, :1])], axis=1)
        f.attrs["inputPattSize"] = in_dim
        f.attrs["numLabels"] = in_dim
        f.attrs["numDims"] = 1
        f.attrs["numSeqs"] = len(self._tags)
        f.attrs["numTimesteps"] = int(lengths[:, 0].sum()) if in_spec is not None else 0
        strings = h5py.string_dtype("utf-8")
        if in_spec is not None and in_spec.vocab:
            f.create_dataset("labels", data=np.array(in_spec.vocab, dtype=object), dtype=strings)
        else:
            f.create_dataset("labels", (0,), dtype="S5")
        f.create_dataset("seqLengths", data=lengths)
        f.create_dataset("seqTags", data=np.array(self._tags, dtype=object), dtype=strings)
        if not self._target_keys:
            return
        size = f.require_group("targets/size")
        labels = f.require_group("targets/labels")
        for k in self._target_keys:
            spec = self._specs[k]
            ndim = 1 if spec.sparse else 1 + len(spec.feature_shape)
            size.attrs[k] = np.array([spec.dim or 1, ndim], dtype=np.int64)
            vocab = spec.vocab or ("dummy-label",)  # RETURNN reads a label list for every target
            labels.create_dataset(k, data=np.array(vocab, dtype=object), dtype=strings)


DATASETS.register("HDFDataset", HDFDataset)
