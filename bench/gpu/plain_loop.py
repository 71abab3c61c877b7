"""The plain PyTorch training loop of the GPU benchmark: one epoch on any device, in any precision, compiled or not.

    python -m bench.gpu.plain_loop --model anchor|conformer --data FILE [--device cuda] [--precision bfloat16]
                                   [--compile] [--batch-size N] [--max-seqs N] [--threads 2]

As a user would write it: the data read into memory (as `bench/anchor/plain_torch.py` does), each batch padded on
the CPU, pinned and copied with `non_blocking`; forward and loss under `torch.autocast(device, dtype)` for AMP, a
`torch.amp.GradScaler` for float16 only (bfloat16 has float32's range); `model.compile()` for compile. Prints one
"GPUBENCH {json}" line at the end (`bench.gpu.probe`).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import torch
from torch import nn

from bench.anchor import plain_torch, proc_stats
from bench.gpu import models
from bench.gpu.probe import StepClock, device_info, emit

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def make_batch(
    feats: list[torch.Tensor], tgts: list[torch.Tensor], seqs: list[int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded data and targets on the device; their lengths stay on the CPU (packing and CTC want them there)."""
    x = nn.utils.rnn.pad_sequence([feats[i] for i in seqs], batch_first=True)
    y = nn.utils.rnn.pad_sequence([tgts[i] for i in seqs], batch_first=True)
    x_lens = torch.tensor([len(feats[i]) for i in seqs], dtype=torch.int32)
    y_lens = torch.tensor([len(tgts[i]) for i in seqs], dtype=torch.int32)
    if device.type == "cuda":
        x, y = x.pin_memory(), y.pin_memory()
    return x.to(device, non_blocking=True), x_lens, y.to(device, non_blocking=True), y_lens


def update(plain: models.PlainModel, objective: torch.Tensor, scaler: torch.amp.GradScaler | None) -> bool:
    """Backward, (unscale,) clip if the model's recipe clips, optimizer step; False if the scaler skipped it."""
    plain.optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        objective.backward()
    else:
        scaler.scale(objective).backward()
        scaler.unscale_(plain.optimizer)
    if plain.clip_norm:
        nn.utils.clip_grad_norm_(plain.model.parameters(), plain.clip_norm)
    if scaler is None:
        plain.optimizer.step()
        return True
    scale = scaler.get_scale()
    scaler.step(plain.optimizer)
    scaler.update()
    return scaler.get_scale() >= scale  # update() lowers the scale exactly when it skipped the step


def train_epoch(args: argparse.Namespace) -> dict[str, object]:
    device = torch.device(args.device)
    dtype = PRECISIONS[args.precision]
    feats, tgts, in_lens, tgt_lens = plain_torch.load_hdf(str(args.data))
    batches = models.plain_batches(in_lens, tgt_lens, batch_size=args.batch_size, max_seqs=args.max_seqs)
    plain = models.plain_model(args.model, device)
    if args.compile:
        plain.model.compile()
    plain.model.train()
    scaler = torch.amp.GradScaler(device.type) if args.precision == "float16" else None
    clock = StepClock(len(batches))
    frames: list[int] = []
    report_sum = report_count = 0.0
    skipped = 0
    for step, seqs in enumerate(batches):
        x, x_lens, y, y_lens = make_batch(feats, tgts, seqs, device)
        plain.set_learning_rate(step)
        with contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype):
            loss = plain.loss(step, x, x_lens, y, y_lens)
        skipped += not update(plain, loss.objective, scaler)
        report_sum += loss.report_sum.item()  # a host sync per step, as plain_torch.py's loss.item()
        report_count += float(loss.report_count)
        frames.append(int(x_lens.sum()))
        clock.step_done()
    return {
        "impl": "plain",
        "step_end_s": clock.step_end_s,
        "step_frames": frames,
        "loss": report_sum / report_count,
        "skipped_updates": skipped,
        "compiled_graphs": compiled_graphs() if args.compile else None,
        **device_info(),
    }


def compiled_graphs() -> int:
    """Graphs torch.compile produced in this process (seqtrain's summary reports the same count)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["anchor", "conformer"], default="anchor")
    parser.add_argument("--data", type=Path, required=True, help="the model's HDF file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=list(PRECISIONS), default="float32")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--batch-size", type=int, default=None, help="padded frames (default: the model's)")
    parser.add_argument("--max-seqs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the anchor: 2)")
    args = parser.parse_args(argv)
    spec = models.model_specs()[args.model]
    args.batch_size = args.batch_size or spec.batch_size
    args.max_seqs = args.max_seqs or spec.max_seqs
    torch.set_num_threads(args.threads)
    result = train_epoch(args)
    result["loop_end_s"] = round(proc_stats.seconds_since_process_start(), 6)
    emit(result)


if __name__ == "__main__":
    main()
