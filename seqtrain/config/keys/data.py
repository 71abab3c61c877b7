"""Keys of the data pipeline: datasets, data keys, batching, loading."""

from typing import Any

from seqtrain.config.registry import declare

G = "data"
declare(
    "train", Any, None, "train dataset: {'class': 'HDFDataset', 'files': [...], ...} or a Dataset instance", group=G
)
declare("dev", Any, None, "dev dataset, evaluated after every epoch (scores 'dev_loss_<name>')", group=G)
declare("eval_datasets", dict[str, Any] | None, None, "more datasets to evaluate after every epoch, by name", group=G)
declare(
    "extern_data",
    dict[str, dict[str, Any]] | None,
    None,
    "data keys: {'data': {'dim': 80}, 'classes': {'dim': 27, 'sparse': True}}; None = from the dataset",
    group=G,
)
declare(
    "batch_size",
    int | dict[str, int],
    5000,
    "max padded frames per batch (max length x number of seqs) for every data key, or per key {'data': 20000}",
    schedulable=True,
    group=G,
)
declare("max_seqs", int, -1, "max sequences per batch; -1 = no limit", schedulable=True, group=G)
declare(
    "max_seq_length",
    int | dict[str, int] | None,
    None,
    "skip sequences longer than this (int, or per data key); None = no limit",
    schedulable=True,
    group=G,
)
declare(
    "min_seq_length",
    int | dict[str, int] | None,
    None,
    "skip sequences shorter than this (int, or per data key); None = no limit",
    schedulable=True,
    group=G,
)
declare(
    "chunking",
    str | int | tuple | dict[str, int] | None,
    None,
    "train on windows: 'size:step', size, (size, step) or per data key ({'data': 100}, {'data': 50}); None = off",
    group=G,
)
declare(
    "min_chunk_size",
    int | dict[str, int],
    0,
    "with chunking: drop windows shorter than this (int, or per data key)",
    group=G,
)
declare("num_workers", int, 1, "DataLoader worker processes that load and pad batches; 0 = main process", group=G)
declare(
    "data_loader_timeout",
    float,
    1800.0,
    "seconds to wait for one batch from the workers before a hung worker is an error naming the batch; 0 = forever",
    group=G,
)
