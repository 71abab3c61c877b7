"""bench.distributed_scaling reads the speed of each run from seqtrain's epoch summary line."""

from __future__ import annotations

from bench.distributed_scaling import SUMMARY


def test_the_summary_line_is_parsed_with_and_without_eval_time_and_device_details() -> None:
    lines = [
        "epoch 1/1: train ctc 3.591 | lr 0.001 | 9.8 s (+0.0 s eval), 15 steps, 6177 frames/s, data wait 3.5%",
        "epoch 1/1: train ctc 3.591 | lr 0.001 | 9.8 s, 15 steps, 6177 frames/s, data wait 3.5%, peak GPU memory 1.5 G",
    ]
    for line in lines:
        match = SUMMARY.search(line)
        assert match is not None and match.groups() == ("9.8", "15", "6177")
