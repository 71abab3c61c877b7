"""All datasets of a run, built and checked against `extern_data` before the first batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqtrain.config import Config
from seqtrain.config.settings import DataSettings, RunSettings
from seqtrain.data.batching import LengthFilter
from seqtrain.data.chunking import parse_chunking
from seqtrain.data.dataset import DataSpec
from seqtrain.data.epoch import EpochPlan, plan_epoch
from seqtrain.data.extern_data import collate_dtypes, resolve_extern_data
from seqtrain.data.factory import DatasetSetup, make_dataset
from seqtrain.errors import ConfigError


@dataclass
class DataSetup:
    """The run's datasets. `tests` (test_datasets) are built and checked like the others so that a bad spec
    fails early, but only a command that names one uses it: training evaluates `evals` and nothing else."""

    train: DatasetSetup | None
    evals: dict[str, DatasetSetup]  # "dev" first, then eval_datasets in config order
    specs: dict[str, DataSpec]
    tests: dict[str, DatasetSetup] = field(default_factory=dict)  # test_datasets in config order

    @property
    def dtypes(self) -> dict[str, str]:
        return collate_dtypes(self.specs)

    def by_name(self, name: str) -> DatasetSetup:
        if name == "train" and self.train is not None:
            return self.train
        for group in (self.evals, self.tests):
            if name in group:
                return group[name]
        known = (["train"] if self.train else []) + list(self.evals) + list(self.tests)
        raise ConfigError(f"no dataset named {name!r}; the config has {known}")


def build_data(config: Config, *, need_train: bool) -> DataSetup:
    data = DataSettings.from_config(config)
    train = make_dataset(data.train, name="train", default_ordering=data.batching) if data.train is not None else None
    if need_train and train is None:
        raise ConfigError("training needs a `train` dataset")
    evals: dict[str, DatasetSetup] = {}
    if data.dev is not None:
        evals["dev"] = make_dataset(data.dev, name="dev")
    for name, spec in (data.eval_datasets or {}).items():
        if name in evals or name == "train":
            raise ConfigError(f"eval_datasets: name {name!r} is already used; pick another name")
        evals[name] = make_dataset(spec, name=name)
    tests: dict[str, DatasetSetup] = {}
    for name, spec in (data.test_datasets or {}).items():
        if name in evals or name == "train":
            raise ConfigError(
                f"test_datasets: name {name!r} is already used by train/dev/eval_datasets; pick another name"
            )
        tests[name] = make_dataset(spec, name=name)
    all_sets = ([train] if train else []) + list(evals.values()) + list(tests.values())
    specs = resolve_extern_data(data.extern_data, all_sets)
    batched = tuple(k for k, s in specs.items() if s.time_axis)  # RETURNN bounds every key the batches carry
    for setup in all_sets:
        setup.data_keys = batched
    parse_chunking(data.chunking, min_chunk_size=data.min_chunk_size)  # fail early
    return DataSetup(train=train, evals=evals, specs=specs, tests=tests)


def plan_for(config: Config, setup: DatasetSetup, epoch: int, *, step: int = 0, chunking: bool = True) -> EpochPlan:
    """The epoch's batch list with the batching keys as scheduled for this epoch.

    `chunking=False` for forwarding/recognition, which want whole sequences even when training uses windows.
    """
    data = DataSettings.from_config(config)
    max_len = data.max_seq_length.at(epoch, step)
    min_len = data.min_seq_length.at(epoch, step)
    return plan_epoch(
        setup,
        epoch,
        random_seed=RunSettings.from_config(config).random_seed,
        batch_size=data.batch_size.at(epoch, step),
        max_seqs=data.max_seqs.at(epoch, step),
        length_filter=LengthFilter(max_len=max_len or None, min_len=min_len or None) if max_len or min_len else None,
        chunking=parse_chunking(data.chunking, min_chunk_size=data.min_chunk_size) if chunking else None,
    )
