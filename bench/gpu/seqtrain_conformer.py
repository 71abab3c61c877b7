"""seqtrain config of the GPU benchmark's conformer: recipes/tts_digits/conformer_ctc.py on synthetic data.

    BENCH_DATA_DIR=DIR python -m seqtrain train bench/gpu/seqtrain_conformer.py [device=cuda torch_amp=bfloat16 ...]

Network, extern_data, batching, optimizer, learning rate and its per-step schedule, and clipping are the
recipe's own objects (imported, not copied), so the benchmark follows the recipe when it changes; only the data
(DIR/train_conformer.hdf, written by `bench.gpu.models.write_conformer_data`), one epoch, no checkpoints and
the thread count (`BENCH_THREADS`, default 2 as in the anchor) are the benchmark's.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from recipes.tts_digits import conformer_ctc as _recipe  # (after the repository root is importable)

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))

_DATA_DIR = os.environ.get("BENCH_DATA_DIR", "data")

train = {
    "class": "HDFDataset",
    "files": [os.path.abspath(os.path.join(_DATA_DIR, "train_conformer.hdf"))],
    "seq_ordering": _recipe.train["seq_ordering"],
}
extern_data = _recipe.extern_data
network = _recipe.network
batch_size = _recipe.batch_size
max_seqs = _recipe.max_seqs
optimizer = _recipe.optimizer
learning_rate = _recipe.learning_rate
learning_rate_step_schedule = _recipe.learning_rate_step_schedule
gradient_clip_global_norm = _recipe.gradient_clip_global_norm
num_epochs = 1
log_verbosity = 4
