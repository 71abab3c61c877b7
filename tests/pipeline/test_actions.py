"""A pipeline through the real engine: linear alignment -> CE -> Viterbi realignment -> recog -> bigger net on it.

Resuming is like resuming epochs: a finished action is never redone (its marker stays, its output file
too), a crash inside an action redoes only that action, a crash inside a training stage resumes inside
it; every interrupted run ends bitwise where the uninterrupted one ends.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from seqtrain.config import load_config
from seqtrain.pipeline.report import format_status, pipeline_status
from seqtrain.train.optim.lr_file import read_scores
from tests.train.distributed.test_run import _ok, torchrun
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli, start_subprocess
from tests.train.net_configs import write_net_config
from tests.train.test_resume import _wait_for

PIPELINE = """
num_workers = 0
align_word_separator = " "
recog_decoder = "hmm_greedy"
_EXTERN = {**extern_data, "align": {"dim": 6, "sparse": True}}  # 5 labels x 1 state + silence


def _ali(name, split):
    return f"{_DIR}/{name}.{split}.hdf"


def _data(split, ali):
    return {"class": "MetaDataset",
            "datasets": {"f": {"class": "HDFDataset", "files": [f"{_DIR}/../corpus/{split}.hdf"]},
                         "a": {"class": "HDFDataset", "files": [_ali(ali, split)]}},
            "data_map": {"data": ("f", "data"), "classes": ("f", "classes"), "align": ("a", "classes")}}


def _net(layers):
    net, source = {"slow": {"class": "eval", "from": "data", "eval": _slow}}, "slow"
    for i in range(layers):
        net[f"lstm{i}"] = {"class": "blstm", "from": source, "n_out": 6}
        source = f"lstm{i}"
    net["output"] = {"class": "softmax", "from": source, "n_out": 6, "loss": "ce", "target": "align"}
    return net


def _count(*, epoch, directory):
    calls = directory / "calls.txt"
    calls.write_text((calls.read_text() if calls.exists() else "") + f"{epoch}\\n")
    if os.environ.get("SEQTRAIN_TEST_FAIL_ACTION") and calls.read_text().count("\\n") == 1:
        raise RuntimeError("simulated crash inside an action")
    return {"calls": calls.read_text().count("\\n")}


def _ce(name, epochs, ali, layers):
    return {"name": name, "epochs": epochs, "config": {"train": _data("train", ali), "dev": _data("dev", ali),
                                                       "extern_data": _EXTERN, "network": _net(layers)}}


pipeline = [
    {"name": "ali0", "action": "align", "mode": "linear", "data": {s: _ali("ali0", s) for s in ("train", "dev")}},
    _ce("ce1", 2, "ali0", 1),
    {"name": "ali1", "action": "align", "mode": "hmm", "data": {s: _ali("ali1", s) for s in ("train", "dev")},
     "compare_to": {s: _ali("ali0", s) for s in ("train", "dev")}},
    {"name": "count", "action": _count},
    {"name": "recog1", "action": "recog", "data": "dev"},
    _ce("ce2", 1, "ali1", 2),
]
"""


def _write(directory: Path, corpus: dict[str, Path]) -> Path:
    assert corpus["train"].parent.name.startswith("corpus")
    link = directory.parent / "corpus"  # the MetaDataset reads the corpus from _DIR/../corpus
    if not link.exists():
        link.symlink_to(corpus["train"].parent)
    return write_net_config(directory, corpus, PIPELINE)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Two threads on a busy 2-core machine are many times slower than one; results are per thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def reference(tiny_corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("reference") / "run"
    directory.mkdir()
    assert run_cli("train", _write(directory, tiny_corpus)) == 0
    return directory


def _markers(directory: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((directory / "out/model.pipeline").glob("*.done.json"))}


def test_every_stage_ran_once_and_is_reported(reference: Path) -> None:
    assert list(_markers(reference)) == [
        "00.ali0.done.json",
        "02.ali1.done.json",
        "03.count.done.json",
        "04.recog1.done.json",
    ]
    assert (reference / "out/model.pipeline/calls.txt").read_text() == "2\n"  # the action got the model epoch before it
    ali1 = json.loads((reference / "out/model.pipeline/02.ali1.done.json").read_text())
    assert ali1["model_epoch"] == 2 and ali1["report"]["train"]["num_seqs"] == 60
    assert 0 < ali1["report"]["train"]["changed_frames"] <= ali1["report"]["train"]["compared_frames"]
    assert {k.split(".")[0] for k in model_params(reference / "out/model.003.pt")} == {"lstm0", "lstm1", "output"}
    scores = read_scores(reference / "out/model.learning_rates")
    assert sorted(scores) == [1, 2, 3] and "dev_loss_output_error" in scores[3].error  # frame error rate
    rows = {r.name: r for r in pipeline_status(load_config(reference / "config.py"))}
    assert [r.status for r in rows.values()] == ["done"] * 6
    assert rows["ali1"].results["train frames changed"].endswith(f"/{ali1['report']['train']['compared_frames']})")
    assert rows["recog1"].results["dev WER"].endswith("%") and rows["count"].results == {"calls": 1}
    assert rows["ce2"].results["dev_loss_output_error"] == scores[3].error["dev_loss_output_error"]
    assert format_status(list(rows.values()))[0].split() == ["stage", "kind", "epochs", "status", "results"]


def test_finished_stages_are_not_redone(reference: Path, tiny_corpus: dict, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    config = _write(tmp_path / "run", tiny_corpus)
    assert run_cli("train", config, "num_epochs=2") == 0  # stage ce1 and the actions after it
    before = _markers(tmp_path / "run")
    assert list(before) == list(_markers(reference))
    ali1 = (tmp_path / "run/ali1.train.hdf").stat().st_mtime_ns
    assert run_cli("train", config) == 0
    assert _markers(tmp_path / "run") == before
    assert (tmp_path / "run/ali1.train.hdf").stat().st_mtime_ns == ali1
    assert (tmp_path / "run/out/model.pipeline/calls.txt").read_text() == "2\n"
    assert_bitwise_equal(model_params(reference / "out/model.003.pt"), model_params(tmp_path / "run/out/model.003.pt"))
    (tmp_path / "run/ali0.dev.hdf").unlink()  # an output deleted by hand: its action runs again, no other
    assert run_cli("train", config) == 0
    changed = {k for k, v in _markers(tmp_path / "run").items() if v != before[k]}
    assert changed == {"00.ali0.done.json"} and (tmp_path / "run/ali0.dev.hdf").is_file()


def test_crash_inside_an_action_redoes_only_that_action(
    reference: Path, tiny_corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "run").mkdir()
    config = _write(tmp_path / "run", tiny_corpus)
    monkeypatch.setenv("SEQTRAIN_TEST_FAIL_ACTION", "1")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_cli("train", config)
    assert list(_markers(tmp_path / "run")) == ["00.ali0.done.json", "02.ali1.done.json"]
    ali1 = _markers(tmp_path / "run")["02.ali1.done.json"]
    monkeypatch.delenv("SEQTRAIN_TEST_FAIL_ACTION")
    assert run_cli("train", config) == 0
    assert _markers(tmp_path / "run")["02.ali1.done.json"] == ali1
    assert (tmp_path / "run/out/model.pipeline/calls.txt").read_text() == "2\n2\n"
    assert_bitwise_equal(model_params(reference / "out/model.003.pt"), model_params(tmp_path / "run/out/model.003.pt"))


@pytest.mark.slow
def test_kill_9_inside_the_second_stage(
    reference: Path, tiny_corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "run").mkdir()
    config = _write(tmp_path / "run", tiny_corpus)
    monkeypatch.setenv("SEQTRAIN_TEST_STEP_SLEEP", "0.05")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as this process: bitwise equality needs the same thread count
    proc = start_subprocess("train", config, "checkpoint_interval_steps=2")
    try:
        _wait_for("model.003.step*.meta.json", tmp_path / "run/out", proc, timeout=120)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    monkeypatch.delenv("SEQTRAIN_TEST_STEP_SLEEP")
    assert run_cli("train", config) == 0
    assert (tmp_path / "run/out/model.pipeline/calls.txt").read_text() == "2\n"
    assert_bitwise_equal(model_params(reference / "out/model.003.pt"), model_params(tmp_path / "run/out/model.003.pt"))
    assert read_scores(reference / "out/model.learning_rates") == read_scores(tmp_path / "run/out/model.learning_rates")


@pytest.mark.slow
def test_two_processes_run_the_pipeline_once(reference: Path, tiny_corpus: dict, tmp_path: Path) -> None:
    """Under torchrun only rank 0 runs the actions; the other rank waits, then both read the new alignment."""
    (tmp_path / "run").mkdir()
    config = _write(tmp_path / "run", tiny_corpus)
    output = _ok(torchrun(config, "num_workers=0"))
    assert list(_markers(tmp_path / "run")) == list(_markers(reference))
    assert (tmp_path / "run/out/model.pipeline/calls.txt").read_text() == "2\n"  # one process ran it, once
    assert output.count("pipeline: running align 'ali1'") == 1
    ranks = model_params(tmp_path / "run/out/model.003.pt")
    assert {k.split(".")[0] for k in ranks} == {"lstm0", "lstm1", "output"}
