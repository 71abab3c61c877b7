"""Which sequences are used: `seq_list_file` / `seq_list_filter_file` (by tag) and `epoch_wise_filter` (per epoch).

`seq_list_file` makes a dataset a view of the listed sequences, in the file's order (so "default"
ordering follows the list, as in RETURNN's MetaDataset); every listed tag must exist.
`seq_list_filter_file` (RETURNN's dataset option of that name) only removes: the dataset keeps its own
order and the sequences whose tags are listed; listed tags the dataset lacks are ignored (one list can
filter several corpora), but a filter that leaves nothing is an error. `epoch_wise_filter` is RETURNN's curriculum
option: `{(1, 2): {"max_mean_len": 200}}` keeps, in epochs 1 and 2, the shortest sequences whose mean
length is at most 200 (RETURNN's binary search may take one sequence more); `max_len` / `min_len` keep
only sequences up to / from a length. Lengths are those of the sort key ("data"); the epoch's order is kept.
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqtrain.data.dataset import Dataset, DataSpec
from seqtrain.data.vocab import Vocabulary
from seqtrain.errors import ConfigError, DataError

_FILTER_OPTIONS = ("max_mean_len", "max_len", "min_len")


@dataclass(frozen=True)
class EpochWiseFilter:
    """Per range of epochs (inclusive; None or -1 = open end), the filters of that range."""

    ranges: tuple[tuple[int, int, tuple[tuple[str, float], ...]], ...]

    @classmethod
    def parse(cls, value: Any, *, where: str) -> EpochWiseFilter | None:
        if value is None:
            return None
        if isinstance(value, EpochWiseFilter):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: epoch_wise_filter must be a dict {{(first, last): {{...}}}}, got {value!r}")
        ranges = []
        for epochs, opts in value.items():
            if not (isinstance(epochs, tuple) and len(epochs) == 2):
                raise ConfigError(f"{where}: epoch_wise_filter key {epochs!r} must be (first_epoch, last_epoch)")
            first = 1 if epochs[0] is None else int(epochs[0])
            last = sys.maxsize if epochs[1] in (None, -1) else int(epochs[1])
            if not 1 <= first <= last:
                raise ConfigError(f"{where}: epoch_wise_filter range {epochs!r} must have 1 <= first <= last")
            if not isinstance(opts, dict) or not opts:
                raise ConfigError(f"{where}: epoch_wise_filter[{epochs!r}] must be a non-empty dict of filters")
            unknown = sorted(set(opts) - set(_FILTER_OPTIONS))
            if unknown:
                raise ConfigError(
                    f"{where}: epoch_wise_filter[{epochs!r}] has unknown options {unknown}; known: {_FILTER_OPTIONS}"
                )
            ranges.append((first, last, tuple((k, float(opts[k])) for k in _FILTER_OPTIONS if k in opts)))
        return cls(tuple(sorted(ranges)))

    def apply(self, epoch: int, order: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The sequences of `order` (indices into `lengths`) this epoch keeps, in their order."""
        for first, last, opts in self.ranges:
            if first <= epoch <= last:
                for name, value in opts:
                    order = _FILTERS[name](order, lengths, value)
        return order


def _max_mean_len(order: np.ndarray, lengths: np.ndarray, value: float) -> np.ndarray:
    seq_lens = lengths[order]
    by_length = np.argsort(seq_lens, kind="stable")
    means = np.cumsum(seq_lens[by_length]) / np.arange(1, len(order) + 1)
    count = int(np.searchsorted(means, value, side="right"))  # means grow: longest prefix with mean <= value
    keep = np.zeros(len(order), dtype=bool)
    keep[by_length[:count]] = True
    return order[keep]


_FILTERS = {
    "max_mean_len": _max_mean_len,
    "max_len": lambda order, lengths, value: order[lengths[order] <= value],
    "min_len": lambda order, lengths, value: order[lengths[order] >= value],
}


def load_seq_list(path: str | Path, *, option: str = "seq_list_file") -> list[str]:
    """Sequence tags from a text file (one per line, optionally .gz) or a JSON list."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{option} {path} does not exist")
    try:
        if path.suffix == ".gz":
            text = gzip.decompress(path.read_bytes()).decode("utf8")
        else:
            text = path.read_text(encoding="utf8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{option} {path} cannot be read as UTF-8 text: {e}") from e
    if path.suffix == ".json":
        try:
            tags = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{option} {path}: invalid JSON ({e}); expected a list of sequence tags") from e
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise DataError(f"{option} {path}: expected a JSON list of sequence tags")
        return tags
    return [line.strip() for line in text.splitlines() if line.strip()]


class SubsetDataset(Dataset):
    """A view of some sequences of another dataset (by index), e.g. those of a `seq_list_file`."""

    def __init__(self, base: Dataset, indices: np.ndarray, *, name: str) -> None:
        self.name = name
        self.base = base
        self.indices = np.asarray(indices, dtype=np.int64)

    @classmethod
    def from_seq_list(cls, base: Dataset, path: str | Path, *, name: str) -> SubsetDataset:
        tags = load_seq_list(path)
        index = {base.seq_tag(i): i for i in range(base.num_seqs)}
        missing = [t for t in tags if t not in index]
        if missing:
            raise DataError(
                f"dataset {name!r}: seq_list_file {path} lists {len(missing)} tags the dataset does not have, "
                f"e.g. {missing[:3]} (the dataset has e.g. {[base.seq_tag(i) for i in range(min(3, base.num_seqs))]})"
            )
        return cls(base, np.array([index[t] for t in tags], dtype=np.int64), name=name)

    @classmethod
    def from_seq_filter(cls, base: Dataset, path: str | Path, *, name: str) -> SubsetDataset:
        wanted = set(load_seq_list(path, option="seq_list_filter_file"))
        kept = [i for i in range(base.num_seqs) if base.seq_tag(i) in wanted]
        if not kept:
            raise DataError(
                f"dataset {name!r}: seq_list_filter_file {path} keeps none of its {base.num_seqs} sequences: the file "
                f"lists e.g. {sorted(wanted)[:3]}, the dataset has e.g. "
                f"{[base.seq_tag(i) for i in range(min(3, base.num_seqs))]}"
            )
        return cls(base, np.array(kept, dtype=np.int64), name=name)

    def for_epoch(self, epoch: int, *, random_seed: int = 0) -> Dataset:
        inner = self.base.for_epoch(epoch, random_seed=random_seed)
        return self if inner is self.base else SubsetDataset(inner, self.indices, name=self.name)

    @property
    def num_seqs(self) -> int:
        return len(self.indices)

    def data_specs(self) -> dict[str, DataSpec]:
        return self.base.data_specs()

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return {k: v[self.indices] for k, v in self.base.seq_lengths().items()}

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        return self.base.get_seq(int(self.indices[idx]))

    def get_data(self, idx: int, key: str) -> np.ndarray:
        return self.base.get_data(int(self.indices[idx]), key)

    def seq_tag(self, idx: int) -> str:
        return self.base.seq_tag(int(self.indices[idx]))

    def labels(self, key: str) -> list[str] | None:
        return self.base.labels(key)

    def vocabulary(self, key: str) -> Vocabulary | None:
        return self.base.vocabulary(key)

    def describe_seq(self, idx: int) -> str:
        return self.base.describe_seq(int(self.indices[idx]))
