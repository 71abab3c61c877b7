"""`seqtrain data`: what training sees, as JSON lines, from the same plan the engine trains on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seqtrain.cli.main import main
from seqtrain.config import load_config
from seqtrain.data.setup import build_data, plan_for
from tests.corpus import write_config


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_batches_are_the_training_plan(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus)
    assert main(["data", str(config), "--batches", "--epoch", "2"]) == 0
    rows = _lines(capsys)
    cfg = load_config(config, [])
    data = build_data(cfg, need_train=True)
    assert data.train is not None
    plan = plan_for(cfg, data.train, 2)
    lengths = data.train.dataset.seq_lengths()["data"]
    assert [r["seq_idx"] for r in rows[:-1]] == [list(b.seq_indices) for b in plan.batches]
    for row in rows[:-1]:
        seq_lens = lengths[row["seq_idx"]]
        assert row["chunks"] == [[0, int(n)] for n in seq_lens]
        assert (row["padded_frames"], row["real_frames"]) == (int(seq_lens.max()) * len(seq_lens), int(seq_lens.sum()))
        assert row["seq_tags"] == [data.train.dataset.seq_tag(i) for i in row["seq_idx"]]
    summary = rows[-1]
    padded = sum(r["padded_frames"] for r in rows[:-1])
    real = sum(r["real_frames"] for r in rows[:-1])
    assert summary["num_batches"] == len(rows) - 1 and summary["num_seqs"] == 60
    assert summary["padding_fraction"] == pytest.approx(1 - real / padded, abs=1e-6)


def test_chunks_with_an_override(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus)
    assert main(["data", str(config), "chunking={'data': 10}", "--batches"]) == 0
    rows = _lines(capsys)[:-1]
    windows = [w for r in rows for w in r["chunks"]]
    assert all(e - s <= 10 and s % 10 == 0 for s, e in windows)
    lengths = build_data(load_config(config, []), need_train=True).train.dataset.seq_lengths()["data"]
    assert len(windows) == int(np.sum(-(-lengths // 10)))


def test_seqs_in_epoch_order(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus)
    assert main(["data", str(config), "--seqs", "--dataset", "dev"]) == 0
    rows = _lines(capsys)
    assert [r["idx"] for r in rows] == list(range(20))  # dev: default order
    assert rows[3]["tag"] == "dev-3" and set(rows[3]["lengths"]) == {"data", "classes"}


def test_stats_and_plot(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus)
    assert main(["data", str(config), "--stats", "--plot", str(tmp_path / "stats.png")]) == 0
    corpus, data_key, classes_key = _lines(capsys)
    lengths = build_data(load_config(config, []), need_train=True).train.dataset.seq_lengths()
    assert corpus["num_seqs"] == 60 and corpus["frames"] == int(lengths["data"].sum())
    assert corpus["hours"] == round(corpus["frames"] * 0.01 / 3600, 4)
    assert data_key["key"] == "data" and sum(data_key["histogram"]["counts"]) == 60
    assert (data_key["min"], data_key["max"]) == (int(lengths["data"].min()), int(lengths["data"].max()))
    assert sum(classes_key["label_counts"].values()) == int(lengths["classes"].sum())
    assert list(classes_key["label_counts"]) == ["a", "b", "c", "d", " "]
    assert (tmp_path / "stats.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batches", "--dataset", "test"], "no dataset named 'test'; the config has ['train', 'dev']"),
        (["--batches", "--plot", "x.png"], "--plot draws the statistics; use it with --stats"),
        (["--seqs", "--epoch", "0"], "--epoch must be >= 1"),
        (["--batches", "--key", "phones"], "--key 'phones' is not a batched data key"),
        (["chunking='10:x'", "--batches"], "chunking '10:x': expected 'size' or 'size:step' with integers"),
    ],
)
def test_errors_are_one_line(tiny_corpus: dict, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    config = write_config(tmp_path, tiny_corpus)
    assert main(["data", str(config), *args]) == 1
    assert message in capsys.readouterr().err
