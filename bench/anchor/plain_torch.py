"""Plain PyTorch training loop, no framework: the limit that seqtrain and RETURNN are measured against.

    python -m bench.anchor.plain_torch --data-dir DIR --loss ce|ctc

This project's copy of the RETURNN anchor's `plain_torch.py` (/work/shared/bench), with the same
behaviour: the same `nn.Module` (character for character, same init seed), the HDF file read with h5py
into memory before the epoch, RETURNN's batching re-implemented ("laplace:.100" order with RETURNN's
seed for epoch 1, then greedy batches with max_len * num_seqs <= 5000 for every data key and at most
32 seqs), padded with `pad_sequence`, packed, Adam lr 1e-3, summed loss (RETURNN's default for
`mark_as_loss`), one epoch, 2 threads (`--threads`).

At the end one line "BENCH {json}" is printed with timestamps in seconds since the process started.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

import h5py
import numpy as np
import torch
from torch import nn

from bench.anchor.proc_stats import cpu_seconds, process_info, seconds_since_process_start

IN_DIM = 40
HIDDEN = 256
NUM_CLASSES = 50  # CTC adds one blank label, index 50
BATCH_SIZE = 5000  # padded frames
MAX_SEQS = 32
LAPLACE_SEQS_PER_BIN = 100
LR = 1e-3


class Model(nn.Module):
    def __init__(self, num_out: int):
        super().__init__()
        self.lstm = nn.LSTM(IN_DIM, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)
        self.out = nn.Linear(2 * HIDDEN, num_out)

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> nn.utils.rnn.PackedSequence:
        """x: [B,T,40] padded, lens: [B] (CPU int). Returns packed logits."""
        packed = nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        return h._replace(data=self.out(h.data))  # linear only on the real (non-padded) frames


def load_hdf(filename: str) -> tuple[list[torch.Tensor], list[torch.Tensor], np.ndarray, np.ndarray]:
    """RETURNN HDF layout: inputs [sum T, 40], targets/data/classes [sum S], seqLengths [N, 2] = (T, S)."""
    with h5py.File(filename, "r") as f:
        inputs = f["inputs"][...]
        targets = f["targets/data/classes"][...]
        seq_lens = f["seqLengths"][...]
    in_lens, tgt_lens = seq_lens[:, 0].astype(np.int64), seq_lens[:, 1].astype(np.int64)
    in_off = np.concatenate([[0], np.cumsum(in_lens)])
    tgt_off = np.concatenate([[0], np.cumsum(tgt_lens)])
    feats = [torch.from_numpy(inputs[in_off[i] : in_off[i + 1]]) for i in range(len(in_lens))]
    tgts = [torch.from_numpy(targets[tgt_off[i] : tgt_off[i + 1]]) for i in range(len(in_lens))]
    return feats, tgts, in_lens, tgt_lens


def laplace_order(seq_lens: np.ndarray, *, seqs_per_bin: int, seed: int) -> np.ndarray:
    """RETURNN's seq_ordering "laplace:.N": shuffle, cut into bins, sort bins alternately up/down."""
    num_seqs = len(seq_lens)
    bins = max(num_seqs // seqs_per_bin, 2)
    seq_index = np.random.RandomState(seed).permutation(num_seqs)
    out = []
    for i in range(bins):
        part = seq_index[i * num_seqs // bins : (i + 1) * num_seqs // bins]
        lens = seq_lens[part]
        if i % 2 == 1:
            lens = -lens
        out.append(part[np.argsort(lens, kind="stable")])
    return np.concatenate(out)


def make_batches(
    order: np.ndarray, len_per_key: Sequence[np.ndarray], *, batch_size: int, max_seqs: int
) -> list[list[int]]:
    """Greedy, in order: close a batch when it has max_seqs seqs or when adding the next seq
    would make max_len * num_seqs > batch_size for any key (padding included)."""
    batches: list[list[int]] = []
    cur: list[int] = []
    cur_max = [0] * len(len_per_key)
    for idx in order:
        if len(cur) >= max_seqs:
            batches.append(cur)
            cur, cur_max = [], [0] * len(len_per_key)
        new_max = [max(m, int(lens[idx])) for m, lens in zip(cur_max, len_per_key)]
        if cur and any(m * (len(cur) + 1) > batch_size for m in new_max):
            batches.append(cur)
            cur, cur_max = [int(idx)], [int(lens[idx]) for lens in len_per_key]
        else:
            cur.append(int(idx))
            cur_max = new_max
    if cur:
        batches.append(cur)
    return batches


def epoch_batches(in_lens: np.ndarray, tgt_lens: np.ndarray) -> list[list[int]]:
    """The batches of epoch 1, in order, as RETURNN makes them."""
    order = laplace_order(in_lens, seqs_per_bin=LAPLACE_SEQS_PER_BIN, seed=1)  # RETURNN's seed for epoch 1
    return make_batches(order, [in_lens, tgt_lens], batch_size=BATCH_SIZE, max_seqs=MAX_SEQS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--loss", choices=["ce", "ctc"], default="ce")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the anchor: 2, the machine's cores)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    res: dict[str, object] = {"impl": "plain", "loss": args.loss}
    feats, tgts, in_lens, tgt_lens = load_hdf(os.path.join(args.data_dir, f"train_{args.loss}.hdf"))
    res["data_loaded"] = seconds_since_process_start()

    torch.manual_seed(42)  # same init as the seqtrain and RETURNN configs
    model = Model(NUM_CLASSES + (1 if args.loss == "ctc" else 0))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    batches = epoch_batches(in_lens, tgt_lens)

    res["epoch_start"] = seconds_since_process_start()
    res["epoch_start_cpu"] = cpu_seconds()
    frames = target_frames = 0
    loss_sum = 0.0
    for step, batch in enumerate(batches):
        if step == 0:
            res["first_step_start"] = seconds_since_process_start()
        x = nn.utils.rnn.pad_sequence([feats[i] for i in batch], batch_first=True)
        y = nn.utils.rnn.pad_sequence([tgts[i] for i in batch], batch_first=True)
        lens = torch.tensor([in_lens[i] for i in batch], dtype=torch.int32)
        logits = model(x, lens)
        if args.loss == "ce":
            tgt = nn.utils.rnn.pack_padded_sequence(y, lens, batch_first=True, enforce_sorted=False)
            loss = nn.functional.cross_entropy(logits.data, tgt.data.long(), reduction="sum")
            num_tgt = int(lens.sum())
        else:
            y_lens = torch.tensor([tgt_lens[i] for i in batch], dtype=torch.int32)
            log_probs, _ = nn.utils.rnn.pad_packed_sequence(logits, batch_first=False)  # [T,B,51]
            log_probs = log_probs.log_softmax(-1)
            loss = nn.functional.ctc_loss(
                log_probs, y.long(), lens, y_lens, blank=NUM_CLASSES, reduction="sum", zero_infinity=True
            )
            num_tgt = int(y_lens.sum())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.item()
        frames += int(lens.sum())
        target_frames += num_tgt
    res["epoch_end"] = seconds_since_process_start()
    res["epoch_end_cpu"] = cpu_seconds()
    res.update(frames=frames, target_frames=target_frames, steps=len(batches), loss_per_frame=loss_sum / target_frames)
    res["main_proc"] = process_info()
    print("BENCH " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
