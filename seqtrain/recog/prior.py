"""Class priors for hybrid decoding: a frame-wise model gives p(state | x), the HMM wants p(x | state).

By Bayes, p(x | s) is proportional to p(s | x) / p(s), so `hmm_greedy` and `hmm_viterbi` subtract
`recog_prior_scale * log p(s)` from the model's log-probs (a scale below 1 is the usual tuned
compromise). Without it, frequent states (silence above all) win frames they should not, and rare
ones are cut short. The prior comes from `recog_prior_file`: a text file of per-class log priors
(RETURNN's format: whitespace-separated numbers), or an alignment HDF (what `seqtrain align` wrote
for the training data), whose relative class frequencies are the prior.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seqtrain.data.hdf import HDFDataset
from seqtrain.errors import ConfigError, DataError

_FLOOR = 1e-8  # a class the alignment never uses gets this probability instead of log(0)


def load_log_prior(path: str, num_classes: int, *, key: str = "classes") -> torch.Tensor:
    """[num_classes] log prior from a text file of log priors or from the class counts of an alignment HDF."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"recog_prior_file {path!r} does not exist (a text file of log priors or an alignment HDF)")
    if file.suffix in (".hdf", ".h5"):
        prior = np.log(np.maximum(_class_frequencies(path, key, num_classes), _FLOOR))
    else:
        try:
            prior = np.array(file.read_text().split(), dtype=np.float64)
        except ValueError as e:
            raise ConfigError(f"recog_prior_file {path!r}: not a list of numbers ({e})") from e
        if not np.all(np.isfinite(prior)) or np.any(prior > 1e-6):
            raise ConfigError(f"recog_prior_file {path!r}: log priors must be finite and <= 0 (log-probabilities)")
    if prior.shape[0] != num_classes:
        raise ConfigError(
            f"recog_prior_file {path!r} has a prior for {prior.shape[0]} classes, the model outputs {num_classes}"
        )
    return torch.from_numpy(prior).float()


def _class_frequencies(path: str, key: str, num_classes: int) -> np.ndarray:
    dataset = HDFDataset([path], name="recog_prior_file")
    if key not in dataset.data_specs():
        raise DataError(f"recog_prior_file {path}: no data key {key!r} (it has {sorted(dataset.data_specs())})")
    dim = dataset.data_specs()[key].dim or num_classes  # the file's number of classes; checked by the caller
    counts = np.zeros(dim, dtype=np.int64)
    for i in range(dataset.num_seqs):
        classes = dataset.get_data(i, key).reshape(-1).astype(np.int64)
        if classes.size and (classes.min() < 0 or classes.max() >= dim):
            raise DataError(
                f"recog_prior_file {path}: sequence {dataset.seq_tag(i)!r} has class {int(classes.max())} "
                f"outside [0, {dim}): an alignment of another topology?"
            )
        counts += np.bincount(classes, minlength=dim)
    if counts.sum() == 0:
        raise DataError(f"recog_prior_file {path}: the alignment has no frames")
    return counts / counts.sum()
