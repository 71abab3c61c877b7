"""What one HDF file in RETURNN's `HDFDataset` layout holds: data keys, specs, per-sequence offsets, tags.

Layout (what RETURNN's `SimpleHDFWriter` writes and `HDFDataset` reads):
  attrs: inputPattSize (dim of sparse inputs), numLabels, numSeqs, numTimesteps, numDims
  inputs [sum_T, *dims] -> data key "data" (sparse if 1-D with an int dtype)
  seqLengths [num_seqs, 1 + K] int: column 0 = inputs, column i+1 = the i-th sorted target key
     (files without targets have a dummy second column; files without inputs have no first column)
  seqTags [num_seqs] str
  targets/data/<key> [sum_L, *dims], targets/size.attrs[<key>] = (dim, ndim), targets/labels/<key> [dim] str
  labels [dim] str: vocabulary of sparse inputs (optional)
A key is sparse when its dtype is an integer type and it has one axis (RETURNN's rule); its dim is unknown
(None: declare it in `extern_data`) when RETURNN's writer recorded only placeholders. Only lengths,
offsets and tags are kept in memory: about 30 bytes per sequence and key.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from seqtrain.data.dataset import DataSpec
from seqtrain.errors import DataError

INPUT_KEY = "data"
_PLACEHOLDER_VOCABS = {("dummy-label",)}  # what SimpleHDFWriter stores when it knows no labels


def decode_str(s: bytes | str) -> str:
    return (s.decode("utf8") if isinstance(s, bytes) else str(s)).split("\0")[0]


def data_array(f: h5py.File, key: str) -> h5py.Dataset:
    return f["inputs"] if key == INPUT_KEY else f["targets/data"][key]


class FileIndex:
    """Keys, specs, lengths, offsets and tags of one file; read once when the dataset is created."""

    def __init__(self, path: str) -> None:
        self.path = path
        if not os.path.isfile(path):
            raise DataError(f"HDF file {path} does not exist")
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise DataError(f"HDF file {path} cannot be opened ({e}); is it a complete HDF5 file?") from e
        with f:
            self._read(f)

    def _read(self, f: h5py.File) -> None:
        path = self.path
        for required in ("seqLengths", "seqTags"):
            if required not in f:
                raise DataError(
                    f"HDF file {path} lacks '{required}': not in RETURNN's HDFDataset layout "
                    "(write it with seqtrain.data.hdf.HDFWriter)"
                )
        self.has_inputs = "inputs" in f
        columns = [INPUT_KEY] if self.has_inputs else []
        if "targets" in f:
            names = set(f["targets/data"].keys()) if "targets/data" in f else set()
            if "targets/size" in f:
                names |= set(f["targets/size"].attrs.keys())
            columns += sorted(names)
        elif not self.has_inputs:
            raise DataError(f"HDF file {path} has neither 'inputs' nor 'targets': no data keys")
        lengths = np.asarray(f["seqLengths"][...], dtype=np.int64)
        if lengths.ndim == 1:
            lengths = np.repeat(lengths[:, None], len(columns), axis=1)
        if "targets" not in f and lengths.shape[1] == 2:
            lengths = lengths[:, :1]  # the dummy "classes" column of files without targets
        if lengths.shape[1] != len(columns):
            raise DataError(
                f"HDF file {path}: seqLengths has {lengths.shape[1]} columns but the file has "
                f"{len(columns)} data keys {columns}; the file is not in RETURNN's layout or is inconsistent"
            )
        self.tags = [decode_str(t) for t in f["seqTags"][...]]
        if len(self.tags) != len(lengths):
            raise DataError(f"HDF file {path}: {len(self.tags)} seqTags but {len(lengths)} seqLengths rows")
        for key in columns:
            if key != INPUT_KEY and ("targets/data" not in f or key not in f["targets/data"]):
                raise DataError(f"HDF file {path}: targets/size names data key {key!r} but targets/data lacks it")
        self.skipped = [k for k in columns if data_array(f, k).dtype.kind in "OSU"]  # strings: not batchable
        self.keys = [k for k in columns if k not in self.skipped]
        self.lengths = {k: lengths[:, columns.index(k)] for k in self.keys}
        if any(int(v.min(initial=0)) < 0 for v in self.lengths.values()):
            raise DataError(f"HDF file {path}: seqLengths holds negative lengths; the file is corrupt")
        self.offsets = {k: np.concatenate([[0], np.cumsum(v)]) for k, v in self.lengths.items()}
        self.specs = {k: self._spec(f, k) for k in self.keys}
        for k in self.keys:
            stored = data_array(f, k).shape[0]
            if stored < self.offsets[k][-1]:
                raise DataError(
                    f"HDF file {path}: data key {k!r} holds {stored} frames but seqLengths sum to "
                    f"{self.offsets[k][-1]}; the file is truncated or inconsistent"
                )

    def _spec(self, f: h5py.File, key: str) -> DataSpec:
        arr = data_array(f, key)
        is_int = arr.dtype.kind in "iub"
        vocab = None
        if key == INPUT_KEY:
            sparse = arr.ndim == 1 and is_int
            dim = int(f.attrs.get("inputPattSize", 0)) if sparse else int(arr.shape[-1]) if arr.ndim > 1 else 1
            if "labels" in f and len(f["labels"]) > 0:
                vocab = tuple(decode_str(s) for s in f["labels"][...])
        else:
            size = f["targets/size"].attrs.get(key) if "targets/size" in f else None
            if size is None:
                dim, ndim = (1 if arr.ndim == 1 else int(arr.shape[-1])), arr.ndim
            elif np.isscalar(size) or np.ndim(size) == 0:
                dim, ndim = int(size), arr.ndim
            else:
                dim, ndim = int(size[0]), int(size[1])
            sparse = ndim <= 1 and arr.ndim == 1 and is_int
            if "targets/labels" in f and key in f["targets/labels"]:
                vocab = tuple(decode_str(s) for s in f["targets/labels"][key][...])
        if vocab in _PLACEHOLDER_VOCABS:
            vocab = None
            if sparse and dim == 1:
                dim = None  # SimpleHDFWriter without extra_type: the number of classes is not recorded
        elif vocab is not None and sparse and len(vocab) != dim:
            vocab = None
        return DataSpec(
            dim=dim,
            dtype=str(arr.dtype),
            sparse=sparse,
            feature_shape=tuple(int(d) for d in arr.shape[1:]),
            vocab=vocab or None,
        )
