"""Datasets per epoch: built again only when an epoch's config changes what defines them."""

from __future__ import annotations

from pathlib import Path

from seqtrain.config import Config
from seqtrain.train.epoch_data import EpochDatasets


def _config(corpus: dict[str, Path], **values: object) -> Config:
    return Config.from_dict(
        {
            "train": {"class": "HDFDataset", "files": [str(corpus["train"])]},
            "dev": {"class": "HDFDataset", "files": [str(corpus["dev"])]},
            **values,
        }
    )


def test_rebuilt_only_when_the_data_keys_change(tiny_corpus: dict[str, Path]) -> None:
    datasets = EpochDatasets()
    first = datasets.for_config(_config(tiny_corpus))
    assert datasets.for_config(_config(tiny_corpus, gradient_clip=1.0, batch_size=7)) is first  # other keys: kept
    swapped = {"dev": {"class": "HDFDataset", "files": [str(tiny_corpus["train"])]}}
    second = datasets.for_config(_config(tiny_corpus, **swapped))
    assert second is not first and second.evals["dev"].dataset.num_seqs == 60
    assert datasets.for_config(_config(tiny_corpus)) is not second  # back again: built again
    assert EpochDatasets(Config.from_dict({"pipeline": [{"name": "a", "epochs": 1}]})).initial() is None
