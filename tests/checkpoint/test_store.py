from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from seqtrain.checkpoint import store as checkpoint
from seqtrain.checkpoint.run_files import RunFiles
from seqtrain.checkpoint.store import (
    checkpoints_to_delete,
    latest_usable_checkpoint,
    load_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from seqtrain.errors import CheckpointError
from tests.corpus import write_config
from tests.train.helpers import run_cli


def test_save_writes_checkpoint_then_meta_and_no_temp_files(tmp_path: Path) -> None:
    files = RunFiles(tmp_path / "model")
    path = files.epoch_checkpoint(1)
    save_checkpoint(path, {"epoch": 1, "w": torch.arange(4.0)}, summary={"epoch": 1})
    meta = json.loads(RunFiles.meta_of(path).read_text())
    assert meta["size"] == path.stat().st_size and len(meta["sha256"]) == 64 and meta["epoch"] == 1
    assert verify_checkpoint(path) is None
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(4.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.001.meta.json", "model.001.pt"]


def test_load_rejects_non_seqtrain_file_with_hint(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="preload_from_files"):
        load_checkpoint(path, verify=False)


def test_checkpoint_order_puts_mid_epoch_between_epochs(tmp_path: Path) -> None:
    files = RunFiles(tmp_path / "model")
    for path in (
        files.epoch_checkpoint(2),
        files.mid_checkpoint(3, 250),
        files.epoch_checkpoint(10),
        files.mid_checkpoint(3, 120),
        files.epoch_checkpoint(3),
    ):
        save_checkpoint(path, {"x": 1})
    (tmp_path / "model.004.pt.tmp").write_bytes(b"partial")  # an interrupted write is not a checkpoint
    names = [r.path.name for r in files.checkpoints()]
    assert names == ["model.002.pt", "model.003.step120.pt", "model.003.step250.pt", "model.003.pt", "model.010.pt"]


def test_latest_usable_skips_broken_ones(tmp_path: Path) -> None:
    files = RunFiles(tmp_path / "model")
    for epoch in (1, 2, 3):
        save_checkpoint(files.epoch_checkpoint(epoch), {"epoch": epoch})
    files.epoch_checkpoint(3).write_bytes(b"garbage")
    RunFiles.meta_of(files.epoch_checkpoint(2)).unlink()
    ref, state = latest_usable_checkpoint(files)
    assert ref.epoch == 1 and state["epoch"] == 1


@pytest.mark.parametrize(
    ("kwargs", "deleted"),
    [
        (dict(keep_last_n=2, keep_best_n=1, keep=[]), [1, 2, 4, 5, 6]),  # keeps 7, 8 (last) and 3 (best)
        (dict(keep_last_n=1, keep_best_n=2, keep=[5]), [1, 2, 4, 6, 7]),  # 8 (last), 3 + 5 (best), 5 (listed)
        (dict(keep_last_n=0, keep_best_n=0, keep=[]), [1, 2, 4, 5, 6, 7]),  # never the newest nor the best
    ],
)
def test_cleanup_policy(kwargs: dict, deleted: list[int]) -> None:
    scores = {1: 0.9, 2: 0.8, 3: 0.3, 4: 0.7, 5: 0.35, 6: 0.6, 7: 0.5, 8: 0.4}
    assert checkpoints_to_delete(list(range(1, 9)), scores=scores, **kwargs) == deleted


def test_cleanup_in_training_keeps_last_and_best(tiny_corpus: dict, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, tiny_corpus, num_epochs=4, extra="cleanup_old_models = {'keep_last_n': 1, 'keep_best_n': 1}\n"
    )
    assert run_cli("train", config) == 0
    out = tmp_path / "out"
    kept = sorted(p.name for p in out.glob("model.*.pt"))
    from seqtrain.train.optim.lr_file import read_scores

    scores = {e: d.error["dev_loss_ctc"] for e, d in read_scores(out / "model.learning_rates").items()}
    best = min(scores, key=scores.get)
    assert kept == sorted({f"model.{best:03d}.pt", "model.004.pt"})
    assert sorted(p.name for p in out.glob("model.*.meta.json")) == [k.replace(".pt", ".meta.json") for k in kept]


def test_cleanup_policy_typo_fails_before_training(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, tiny_corpus, extra="cleanup_old_models = {'keep_lats_n': 1}\n")
    assert run_cli("train", config) == 1
    assert "cleanup_old_models: unknown options ['keep_lats_n']" in capsys.readouterr().err
    assert not (tmp_path / "out" / "model.001.pt").exists()


def test_a_model_directory_that_cannot_be_created_is_a_clear_error(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    (tmp_path / "a_file").write_text("")
    config = write_config(tmp_path, tiny_corpus, num_epochs=1)
    assert run_cli("train", config, f"model={str(tmp_path / 'a_file/exp/model')!r}") == 1
    error = capsys.readouterr().err
    assert "seqtrain train: error: cannot write the log file (in the `model` directory)" in error
    assert "a_file/exp: Not a directory" in error


def test_a_checkpoint_that_cannot_be_written_leaves_the_previous_one_as_the_resume_point(
    tiny_corpus: dict, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=2)
    assert run_cli("train", config, "num_epochs=1") == 0
    real_save = torch.save

    def disk_full(obj: object, f: Any) -> None:
        real_save(obj, f)  # a partial file, as when the disk fills up during the write
        raise OSError(errno.ENOSPC, "No space left on device", str(f.name))

    monkeypatch.setattr(checkpoint.torch, "save", disk_full)
    assert run_cli("train", config) == 1
    error = capsys.readouterr().err
    assert "cannot write the checkpoint " in error and "model.002.pt.tmp: No space left on device" in error
    assert "files written before are intact, and rerunning the command resumes" in error
    assert sorted(p.name for p in (tmp_path / "out").glob("*.pt*")) == ["model.001.pt"]
    monkeypatch.setattr(checkpoint.torch, "save", real_save)
    assert run_cli("train", config) == 0
    assert checkpoint.verify_checkpoint(tmp_path / "out/model.002.pt") is None
