"""The epoch summary line: every score, the learning rate (and a per-step schedule's range), time and speed."""

from __future__ import annotations

import logging

import pytest

from seqtrain.train.epoch_log import describe_learning_rate, log_epoch_summary
from seqtrain.train.epoch_stats import EpochStats
from seqtrain.train.tensorboard import ScalarLog


def test_the_learning_rate_shows_the_step_range_only_when_a_schedule_moved_it() -> None:
    assert describe_learning_rate(0.001, None) == "0.001"
    assert describe_learning_rate(0.001, (0.001, 0.001)) == "0.001"
    assert describe_learning_rate(0.0015, (0.00012, 0.00075)) == "0.0015 (steps 0.00012 -> 0.00075)"


def test_the_summary_names_every_dataset_score_the_lr_range_and_the_eval_time(caplog: pytest.LogCaptureFixture) -> None:
    train = EpochStats(
        scores={"ctc": 0.52}, steps=10, frames=2000, seconds=4.0, data_wait_seconds=0.2, step_lr_range=(1e-4, 5e-4)
    )
    dev = EpochStats(scores={"ctc": 0.61, "wer": 0.12}, seconds=1.5)
    with caplog.at_level(logging.INFO, logger="seqtrain"):
        log_epoch_summary(3, 10, 1e-3, train, {"dev": dev}, ScalarLog(None))
    line = caplog.records[-1].getMessage()
    assert line == (
        "epoch 3/10: train ctc 0.52 | dev ctc 0.61 wer 0.12 | lr 0.001 (steps 0.0001 -> 0.0005) | "
        "4.0 s (+1.5 s eval), 10 steps, 500 frames/s, data wait 5.0%"
    )


def test_the_summary_adds_gpu_memory_skipped_updates_and_compilations_only_when_there_are_any(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plain = EpochStats(scores={"ce": 1.0}, steps=2, frames=10, seconds=1.0)
    device = EpochStats(
        scores={"ce": 1.0}, steps=2, frames=10, seconds=1.0, skipped_updates=3, peak_memory_bytes=3 * 2**29,
        compiled_graphs=2,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="seqtrain"):
        log_epoch_summary(1, 1, 1.0, plain, {}, ScalarLog(None))
        log_epoch_summary(1, 1, 1.0, device, {}, ScalarLog(None))
    assert caplog.records[-2].getMessage().endswith("data wait 0.0%")
    assert (
        caplog.records[-1]
        .getMessage()
        .endswith(
            "data wait 0.0%, peak GPU memory 1.50 GiB, 3 updates skipped (inf/nan gradients, GradScaler), "
            "torch.compile: 2 graphs compiled"
        )
    )
