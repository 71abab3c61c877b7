"""Keys of the data pipeline: datasets, data keys, batching, loading."""

from typing import Any, Literal

from seqtrain.config.registry import at_least, declare

G = "data"
declare(
    "train",
    Any,
    None,
    "train dataset: {'class': 'HDFDataset', 'files': [...], ...} or a Dataset instance",
    group=G,
    returnn=True,
)
declare("dev", Any, None, "dev dataset, evaluated after every epoch (scores 'dev_loss_<name>')", group=G, returnn=True)
declare(
    "eval_datasets",
    dict[str, Any] | None,
    None,
    "more datasets to evaluate after every epoch, by name",
    group=G,
    returnn=True,
)
declare(
    "test_datasets",
    dict[str, Any] | None,
    None,
    "test sets by name, never evaluated in training: only `seqtrain recog/forward --data NAME`, `data --dataset NAME`",
    group=G,
)
declare(
    "extern_data",
    dict[str, dict[str, Any]] | None,
    None,
    "data keys: {'data': {'dim': 80}, 'classes': {'dim': 27, 'sparse': True}}; None = from the dataset",
    group=G,
    returnn=True,
)
declare(
    "batch_size",
    int | dict[str, int],
    5000,
    "max padded frames per batch (max length x number of seqs) for every data key, or per key {'data': 20000}",
    schedulable=True,
    group=G,
    returnn=True,
)
declare("max_seqs", int, -1, "max sequences per batch; -1 = no limit", schedulable=True, group=G, returnn=True)
declare(
    "max_seq_length",
    int | dict[str, int] | None,
    None,
    "skip sequences longer than this (int, or per data key); None = no limit",
    schedulable=True,
    group=G,
    returnn=True,
)
declare(
    "min_seq_length",
    int | dict[str, int] | None,
    None,
    "skip sequences shorter than this (int, or per data key); None = no limit",
    schedulable=True,
    group=G,
    returnn=True,
)
declare(
    "chunking",
    str | int | tuple | dict[str, int] | None,
    None,
    "train on windows: 'size:step', size, (size, step) or per data key ({'data': 100}, {'data': 50}); None = off",
    group=G,
    returnn=True,
)
declare(
    "min_chunk_size",
    int | dict[str, int],
    0,
    "with chunking: drop windows shorter than this (int, or per data key)",
    group=G,
    returnn=True,
)
declare("num_workers", int, 1, "DataLoader worker processes that load and pad batches; 0 = main process", group=G)
declare(
    "openmp_wait_policy",
    Literal["passive", "active"] | None,
    None,
    "'passive': the trainer's OpenMP threads sleep between ops, leaving the cores to busy loader workers (audio "
    "augmentation: 1.25-1.3x faster on 2 cores; light loading: 7-10 % slower); None = OMP_WAIT_POLICY of the "
    "environment. `seqtrain train` restarts itself once to apply it",
    group=G,
)
declare(
    "data_loader_timeout",
    float,
    1800.0,
    "seconds to wait for one batch from the workers before a hung worker is an error naming the batch; 0 = forever",
    group=G,
)
declare(
    "eval",
    Any,
    None,
    "RETURNN's `eval` dataset: evaluated after every epoch like `dev` (scores 'eval_loss_<name>')",
    group=G,
    returnn=True,
)
declare(
    "batching",
    str | None,
    None,
    "RETURNN's default `seq_ordering` of the train dataset ('random', 'laplace:.100', ...) when its dict sets none",
    group=G,
    returnn=True,
)
declare(
    "num_inputs",
    int | None,
    None,
    "RETURNN's legacy data declaration: feature dim of 'data' (dense); `extern_data` wins when both are set",
    group=G,
    check=at_least(1),
    returnn=True,
)
declare(
    "num_outputs",
    int | dict[str, Any] | None,
    None,
    "RETURNN's legacy data declaration: classes dim (int, sparse 'classes') or {key: [dim, ndim] or extern_data "
    "options}; ndim 1 = sparse labels, 2 = dense features",
    group=G,
    returnn=True,
)
