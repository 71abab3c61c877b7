"""seqtrain config of the anchor benchmark: the RETURNN anchor's model, data and batching, trained by seqtrain.

    BENCH_DATA_DIR=DIR BENCH_LOSS=ce|ctc python -m seqtrain train bench/anchor/seqtrain_bench.py

Model: 2-layer BLSTM (256 per direction) on 40-dim features, linear to 50 classes (+1 blank for CTC);
the `nn.Module` is imported from plain_torch.py, so all three implementations train the very same class.
Data: seqtrain's `HDFDataset` over the files of gen_data.py. Batching: seqtrain's own
("laplace:.100", batch_size 5000 padded frames, max_seqs 32), which must give RETURNN's batches.
Everything else is seqtrain's default, as a user gets it (one forked DataLoader worker, per-step
seeding, score accumulation, gradient-norm logging); `BENCH_NUM_WORKERS` overrides `num_workers` for
diagnosis, `BENCH_MODEL_DIR` sets a `model` path so the checkpoint write is measured too, `BENCH_THREADS`
the number of torch threads (default 2, as in the anchor).

At the end of the epoch one line "BENCH {json}" is printed with timestamps in seconds since the process
started, like the RETURNN config's. seqtrain has no `epoch_start`/`epoch_end` config hooks, so the two
epoch timestamps are taken from seqtrain's own log records (the "epoch N: ... batches" line just before
the epoch's data loader starts, the epoch summary line after its last step), by a filter on the
`seqtrain` logger; `first_step_start` is taken in `train_step`, as in the RETURNN config.
"""

import json
import logging
import os
import re
import sys

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook as _register_optimizer_step_post_hook

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from bench.anchor import proc_stats as _proc_stats  # (after the repository root is importable)
from bench.anchor.plain_torch import NUM_CLASSES as _NUM_CLASSES
from bench.anchor.plain_torch import Model  # (the very class plain_torch.py trains)

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))  # the anchor: 2, the machine's cores

_BENCH_LOSS = os.environ.get("BENCH_LOSS", "ce")
if _BENCH_LOSS not in ("ce", "ctc"):
    raise ValueError(f"BENCH_LOSS must be 'ce' or 'ctc', got {_BENCH_LOSS!r}")
_BENCH_DATA_DIR = os.environ.get("BENCH_DATA_DIR", "data")

train = {
    "class": "HDFDataset",
    "files": [os.path.abspath(os.path.join(_BENCH_DATA_DIR, f"train_{_BENCH_LOSS}.hdf"))],
    "seq_ordering": "laplace:.100",
}
extern_data = {
    "data": {"dim": 40},
    "classes": {"dim": _NUM_CLASSES, "sparse": True},
}
batch_size = 5000  # padded frames, i.e. max_len_in_batch * num_seqs <= 5000
max_seqs = 32
num_epochs = 1
optimizer = {"class": "adam"}  # torch.optim.Adam defaults (betas 0.9/0.999, eps 1e-8)
learning_rate = 1e-3
log_verbosity = 4
if os.environ.get("BENCH_MODEL_DIR"):  # else no checkpoint is written, as in plain_torch.py and RETURNN's config
    model = os.path.join(os.environ["BENCH_MODEL_DIR"], "model")
if os.environ.get("BENCH_NUM_WORKERS"):  # diagnostic only; unset = seqtrain's default
    num_workers = int(os.environ["BENCH_NUM_WORKERS"])


def get_model(*, epoch, step, **_kwargs):
    torch.manual_seed(42)  # same init as plain_torch.py
    return Model(_NUM_CLASSES + (1 if _BENCH_LOSS == "ctc" else 0))


# ---- timing instrumentation (seconds since process start)
_bench = {"impl": "seqtrain", "loss": _BENCH_LOSS, "frames": 0, "target_frames": 0, "steps": 0, "loss_sum": 0.0}


def train_step(*, model, batch, ctx, **_kwargs):
    if _bench["steps"] == 0:
        _bench["first_step_start"] = _proc_stats.seconds_since_process_start()
    lens = batch.lengths["data"]  # CPU int32 [B]
    logits = model(batch["data"], lens)
    if _BENCH_LOSS == "ce":
        tgt = nn.utils.rnn.pack_padded_sequence(batch["classes"], lens, batch_first=True, enforce_sorted=False)
        loss = nn.functional.cross_entropy(logits.data, tgt.data.long(), reduction="none")  # [sum(lens)]
        num_tgt = int(lens.sum())
        ctx.mark_as_loss(_BENCH_LOSS, loss)  # optimizes the sum; reports per frame
    else:
        tgt_lens = batch.lengths["classes"]
        log_probs, _ = nn.utils.rnn.pad_packed_sequence(logits, batch_first=False)  # [T,B,51]
        log_probs = log_probs.log_softmax(-1)
        loss = nn.functional.ctc_loss(
            log_probs, batch["classes"].long(), lens, tgt_lens, blank=_NUM_CLASSES, reduction="none", zero_infinity=True
        )  # [B]
        num_tgt = int(tgt_lens.sum())
        ctx.mark_as_loss(_BENCH_LOSS, loss, custom_inv_norm_factor=tgt_lens.sum())  # reports per target label
    _bench["steps"] += 1
    _bench["frames"] += int(lens.sum())
    _bench["target_frames"] += num_tgt
    _bench["loss_sum"] += float(loss.detach().sum())


def _update_end_hook(_optimizer, _args, _kwargs):
    """After every optimizer step: the last one marks the end of the epoch's arithmetic."""
    _bench["last_update_end"] = _proc_stats.seconds_since_process_start()


_register_optimizer_step_post_hook(_update_end_hook)


class _EpochTimes(logging.Filter):
    """Takes epoch start/end times from seqtrain's log records (seqtrain has no epoch hooks)."""

    def filter(self, record):
        msg = record.msg if isinstance(record.msg, str) else ""
        if msg.startswith("epoch %d: %d batches"):
            _bench["epoch_start"] = _proc_stats.seconds_since_process_start()
            _bench["epoch_start_cpu"] = _proc_stats.cpu_seconds()
        elif msg.startswith("saved %s"):
            _bench["checkpoint_saved"] = _proc_stats.seconds_since_process_start()
        elif msg.startswith("epoch %d/%d: "):
            _bench["epoch_end"] = _proc_stats.seconds_since_process_start()
            _bench["epoch_end_cpu"] = _proc_stats.cpu_seconds()
            own = re.search(r"\| ([\d.]+) s, \d+ steps, .* data wait ([\d.]+)%", record.getMessage())
            if own:  # seqtrain's own measurement of the epoch, for cross-checking
                _bench["seqtrain_epoch_seconds"] = float(own.group(1))
                _bench["seqtrain_data_wait_percent"] = float(own.group(2))
            _report()
        return True


def _report():
    _bench["loss_per_frame"] = _bench.pop("loss_sum") / _bench["target_frames"]
    _bench["main_proc"] = _proc_stats.process_info()
    _bench["child_procs"] = _proc_stats.live_children_info()
    _bench["exited_children"] = _proc_stats.exited_children_info()  # e.g. the DataLoader worker, joined by now
    print("BENCH " + json.dumps(_bench), flush=True)


logging.getLogger("seqtrain").addFilter(_EpochTimes())
