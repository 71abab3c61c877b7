"""`StaticDataset`: sequences given inline in the config, with RETURNN's options (a `NumpyDataset` underneath).

    train = {"class": "StaticDataset", "output_dim": {"classes": (3, 1)},
             "data": [{"data": numpy.zeros((5, 2), "float32"), "classes": numpy.array([0, 2, 1, 1, 0])}, ...]}

Each sequence is a dict key -> array [time, ...]. A 1-d integer array is sparse, with its dim from `output_dim`
(RETURNN's int for the classes, or key -> dim or (dim, ndim)) or else the largest label + 1; anything else is
dense. Tags are RETURNN's "seq-<index>"; the keys are in RETURNN's order ("data" first, then by name), so
sorting orders use the same key as RETURNN.
"""

from __future__ import annotations

from typing import Any

from seqtrain.data.dataset import DATASETS
from seqtrain.data.numpy_ds import NumpyDataset
from seqtrain.errors import ConfigError


class StaticDataset(NumpyDataset):
    def __init__(
        self,
        data: list[dict[str, Any]],
        target_list: list[str] | None = None,
        input_dim: int | None = None,
        output_dim: int | dict[str, Any] | None = None,
        *,
        name: str = "static",
    ) -> None:
        where = f"dataset {name!r}"
        if not isinstance(data, (list, tuple)) or not data or not all(isinstance(s, dict) for s in data):
            raise ConfigError(f"{where}: data must be a non-empty list of dicts key -> array, one per sequence")
        keys = sorted(data[0], key=lambda k: (k != "data", k))
        for key in target_list or []:
            if key not in data[0]:
                raise ConfigError(f"{where}: target_list names {key!r}; the sequences have {keys}")
        seqs = [{k: seq[k] for k in keys if k in seq} | seq for seq in data]  # other keys: NumpyDataset's error
        dims = _dims(output_dim, input_dim, where)
        super().__init__(seqs, tags=[f"seq-{i}" for i in range(len(data))], dims=dims, name=name)
        for key, dim in dims.items():
            spec = self._specs.get(key)
            if spec is not None and not spec.sparse and spec.feature_shape and spec.feature_shape[-1] != dim:
                raise ConfigError(f"{where}: output_dim of {key!r} is {dim}, its feature shape {spec.feature_shape}")


def _dims(output_dim: Any, input_dim: Any, where: str) -> dict[str, int]:
    """RETURNN's output_dim (an int = the classes' dim; key -> dim or (dim, ndim)) and input_dim, as key -> dim."""
    if output_dim is None:
        output_dim = {}
    elif isinstance(output_dim, int):
        output_dim = {"classes": output_dim}
    if not isinstance(output_dim, dict):
        raise ConfigError(f"{where}: output_dim must be an int or a dict key -> dim or (dim, ndim), got {output_dim!r}")
    dims = {}
    for key, value in output_dim.items():
        dim = value[0] if isinstance(value, (tuple, list)) and value else value
        if not isinstance(dim, int):
            raise ConfigError(f"{where}: output_dim[{key!r}] must be a dim or (dim, ndim), got {value!r}")
        dims[key] = dim
    if input_dim is not None:
        dims.setdefault("data", input_dim)
    return dims


DATASETS.register("StaticDataset", StaticDataset)
