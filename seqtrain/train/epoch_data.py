"""The config and the datasets of each epoch: datasets rebuilt when an epoch's config changes them.

An epoch's config is the run's config with what the model builder says for that epoch applied (a net
dict's `#config`, a pipeline stage's `config`). That may train on other data than the epoch before: an
alignment written by the previous pipeline stage, paired with the features by a MetaDataset. The
datasets are built again only when one of the keys that define them changed, so an ordinary run builds
them once.
"""

from __future__ import annotations

import logging
from typing import Any

from seqtrain.config import Config
from seqtrain.config.config import describe_value
from seqtrain.config.settings import DataSettings, PipelineSettings
from seqtrain.data.setup import DataSetup, build_data
from seqtrain.model.builder import ModelBuilder

log = logging.getLogger("seqtrain")

DATA_KEYS = ("train", "dev", "eval", "eval_datasets", "extern_data", "num_inputs", "num_outputs", "batching")


def data_definition(config: Config) -> tuple[str, ...]:
    """What the datasets are built from; equal definitions give equal datasets."""
    return tuple(_describe(config.get(key)) for key in DATA_KEYS)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    if callable(value) or not isinstance(value, (str, int, float, bool, type(None))):
        return f"<{describe_value(value)} at {id(value):#x}>"  # instances and functions: by identity
    return repr(value)


class EpochDatasets:
    """Holds the current datasets and the definition they were built from."""

    def __init__(self, config: Config | None = None, builder: ModelBuilder | None = None) -> None:
        self.config = config
        self.builder = builder
        self._definition: tuple[str, ...] | None = None
        self._data: DataSetup | None = None

    def initial(self) -> DataSetup | None:
        """The run config's datasets, built (and checked) before anything runs; None for a pipeline whose
        config has no `train` (its stages set it, from files that earlier stages may still write)."""
        assert self.config is not None
        config = self.config
        if PipelineSettings.from_config(config).pipeline is not None and DataSettings.from_config(config).train is None:
            return None
        return self.for_config(self.config)

    def prepare(self, epoch: int) -> tuple[Config, DataSetup]:
        """The config of `epoch` and its datasets."""
        assert self.config is not None and self.builder is not None
        config = self.config.with_values(self.builder.epoch_config(epoch))
        return config, self.for_config(config, epoch=epoch)

    def for_config(self, config: Config, *, epoch: int | None = None) -> DataSetup:
        definition = data_definition(config)
        if self._data is None or definition != self._definition:
            if self._data is not None:
                changed = [k for k, old, new in zip(DATA_KEYS, self._definition or (), definition) if old != new]
                log.info("epoch %s: %s changed, building the datasets again", epoch, ", ".join(changed))
            self._data = build_data(config, need_train=True)
            self._definition = definition
        return self._data
