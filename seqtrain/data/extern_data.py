"""`extern_data`: the data keys the model sees, declared in the config or taken from the dataset.

Declared keys are checked against every dataset before training starts: a missing key or a different
dim/sparsity is an error naming both. Float data may be declared with a wider float dtype (e.g. data
stored as float16, model wants float32); it is converted when batches are padded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqtrain.data.dataset import DataSpec
from seqtrain.data.factory import DatasetSetup
from seqtrain.errors import ConfigError, DataError

_ALLOWED = {"dim", "dtype", "sparse", "shape", "time_axis", "vocab", "available_for_inference"}


def _spec_from_config(key: str, opts: dict[str, Any]) -> dict[str, Any]:
    unknown = set(opts) - _ALLOWED
    if "dims" in unknown or "dim_tags" in unknown:
        raise ConfigError(
            f"extern_data[{key!r}]: `dims` are RETURNN-frontend dimension objects, and RETURNN-frontend models are "
            "not supported by seqtrain; declare the key with 'dim' (and 'sparse': True for labels) and train a "
            "torch module (RETURNN's PyTorch style, as in its demo-torch)"
        )
    if unknown:
        raise ConfigError(f"extern_data[{key!r}]: unknown options {sorted(unknown)}; allowed: {sorted(_ALLOWED)}")
    return opts


def _kind(dtype: str) -> str:
    return np.dtype(dtype).kind


def resolve_extern_data(
    declared: dict[str, dict[str, Any]] | None, datasets: list[DatasetSetup]
) -> dict[str, DataSpec]:
    """The specs of the data keys every batch carries, checked against all datasets."""
    if not datasets:
        raise ConfigError("no dataset configured (set `train`, `dev` or `eval_datasets`)")
    reference = datasets[0]
    if declared is None:
        specs = reference.dataset.data_specs()
        for other in datasets[1:]:
            _check_against(specs, other, declared_by=f"dataset {reference.name!r}")
        return specs
    specs = {}
    for key, opts in declared.items():
        opts = _spec_from_config(key, dict(opts))
        have = reference.dataset.data_specs().get(key)
        if have is None:
            raise DataError(
                f"extern_data key {key!r} is not provided by dataset {reference.name!r} "
                f"(it has {sorted(reference.dataset.data_specs())})"
            )
        sparse = bool(opts.get("sparse", have.sparse))
        dtype = str(opts.get("dtype", "int32" if sparse and _kind(have.dtype) in "iu" else have.dtype))
        shape = tuple(opts["shape"]) if "shape" in opts else have.feature_shape
        specs[key] = DataSpec(
            dim=opts.get("dim", have.dim),
            dtype=dtype,
            sparse=sparse,
            feature_shape=shape,
            time_axis=bool(opts.get("time_axis", have.time_axis)),
            vocab=have.vocab,
        )
    for setup in datasets:
        _check_against(specs, setup, declared_by="extern_data")
    return specs


def _check_against(specs: dict[str, DataSpec], setup: DatasetSetup, *, declared_by: str) -> None:
    have_all = setup.dataset.data_specs()
    for key, want in specs.items():
        have = have_all.get(key)
        where = f"dataset {setup.name!r}, data key {key!r}"
        if have is None:
            raise DataError(f"{where}: missing (the dataset has {sorted(have_all)}); {declared_by} declares it")
        if want.sparse != have.sparse:
            raise DataError(f"{where}: {declared_by} says sparse={want.sparse}, the data is sparse={have.sparse}")
        if want.dim is not None and have.dim is not None and want.dim != have.dim:
            raise DataError(f"{where}: {declared_by} says dim={want.dim}, the data has dim={have.dim}")
        if not want.sparse and want.feature_shape and have.feature_shape and want.feature_shape != have.feature_shape:
            raise DataError(
                f"{where}: {declared_by} says shape {want.feature_shape}, the data has {have.feature_shape}"
            )
        if _kind(want.dtype) != _kind(have.dtype) and not (_kind(want.dtype) in "iu" and _kind(have.dtype) in "iu"):
            raise DataError(
                f"{where}: {declared_by} says dtype {want.dtype}, the data is {have.dtype}; only float->float and "
                "int->int conversions are done implicitly"
            )


# torch has no general arithmetic for these; RETURNN's PyTorch backend widens them the same way.
_TORCH_DTYPE = {"uint16": "int32", "uint32": "int64", "uint64": "int64"}


def collate_dtypes(specs: dict[str, DataSpec]) -> dict[str, str]:
    """The numpy dtype every data key is padded into (then shared with torch without a copy)."""
    return {k: _TORCH_DTYPE.get(s.dtype, s.dtype) for k, s in specs.items()}
