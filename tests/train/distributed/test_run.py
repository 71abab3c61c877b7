"""Multi-process training under real torchrun (2 CPU processes, gloo), compared with single-process runs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.train.distributed.run import Launch, distributed_run
from seqtrain.train.optim.lr_file import read_scores
from tests.corpus import write_config
from tests.train.helpers import REPO, assert_bitwise_equal, model_params, run_cli

DIST_GLOBAL = "torch_distributed = {'batch_size_is_global': True}\n"
NO_DROPOUT = """
num_workers = 0  # saves a worker start per epoch and process; the loader's workers are tested elsewhere

def get_model(*, epoch, config):
    model = _Model()
    model.dropout.p = 0.0  # every rank draws its own dropout masks; without dropout, runs are comparable
    return model
"""


def _env() -> dict[str, str]:
    # One intra-op thread everywhere (torchrun's default per process), so CPU matmuls add up alike.
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _torchrun_cmd(config: Path, *overrides: str, nproc: int = 2) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--standalone",
        "-m", "seqtrain", "train", str(config), *overrides,
    ]  # fmt: skip


def torchrun(config: Path, *overrides: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        _torchrun_cmd(config, *overrides), env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def single_process(config: Path, *overrides: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "seqtrain", "train", str(config), *overrides]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120, check=False)


def _ok(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def _assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=f"parameter {name}")


def _config(directory: Path, corpus: dict, **kwargs: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return write_config(directory, corpus, **kwargs)  # type: ignore[arg-type]


def _scores(run_dir: Path) -> dict[int, dict[str, float]]:
    return {e: d.error for e, d in read_scores(run_dir / "out/model.learning_rates").items()}


# ---------------------------------------------------------------------------- without torchrun


def test_without_torchrun_one_process_trains_even_with_torch_distributed_set(tiny_corpus: dict, tmp_path: Path):
    config = write_config(tmp_path, tiny_corpus, num_epochs=1, extra="torch_distributed = {'reduce_type': 'grad'}\n")
    assert run_cli("train", config) == 0
    state = torch.load(tmp_path / "out/model.001.pt", weights_only=True)
    assert state["distributed"]["world_size"] == 1
    assert state["distributed"]["sharding"]["global_batches_done"] == state["data"]["num_batches"] == 11


def test_launch_environment() -> None:
    assert Launch.from_environ({}) == Launch()
    env = {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "h",
           "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "abc"}  # fmt: skip
    assert Launch.from_environ(env) == Launch(3, 4, 1, 2, "h", 29500, "abc/0")
    with pytest.raises(ConfigError, match=r"WORLD_SIZE=2 but \['MASTER_ADDR', 'MASTER_PORT'\] are not set"):
        Launch.from_environ({"WORLD_SIZE": "2", "RANK": "0"})


def test_bad_options_fail_before_any_process_group(tmp_path: Path) -> None:
    env = {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
    with pytest.raises(ConfigError, match="reduce_type 'param' needs param_sync_step"):  # noqa: SIM117
        with distributed_run({"reduce_type": "param"}, "cpu", environ=env):
            pass


# ---------------------------------------------------------------------------- torchrun: results


@pytest.fixture(scope="module")
def global_batch_run(tiny_corpus: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 processes, batch_size for both together, 2 epochs: the reference of the tests below."""
    directory = tmp_path_factory.mktemp("global2")
    extra = NO_DROPOUT + "torch_distributed = {'batch_size_is_global': True}\n"
    output = _ok(torchrun(write_config(directory, tiny_corpus, num_epochs=2, extra=extra)))
    assert "11 global batches -> 11 steps on 2 processes (batch_size global)" in output
    return directory


@pytest.mark.slow
def test_grad_allreduce_equals_one_process_on_the_same_global_batches(
    global_batch_run: Path, tiny_corpus: dict, tmp_path: Path
) -> None:
    config = write_config(tmp_path, tiny_corpus, num_epochs=2, extra=NO_DROPOUT)
    _ok(single_process(config))
    two, one = (torch.load(d / "out/model.002.pt", weights_only=True) for d in (global_batch_run, tmp_path))
    assert two["global_step"] == one["global_step"] == 22
    _assert_close(two["model"], one["model"])
    scores_two, scores_one = _scores(global_batch_run), _scores(tmp_path)
    assert scores_two.keys() == scores_one.keys() == {1, 2}
    for epoch in (1, 2):  # train scores summed over ranks, dev scores from both ranks' shares
        assert scores_two[epoch] == pytest.approx(scores_one[epoch], rel=1e-4)
    written = sorted(p.name for p in (global_batch_run / "out").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "out").iterdir())  # one log, one scores file: rank 0's


@pytest.mark.slow
def test_a_rank_without_data_changes_nothing(tiny_corpus: dict, tmp_path: Path) -> None:
    """max_seqs=1 with a global batch size: rank 1 has no data in any step; the result is bitwise one process's."""
    extra = "max_seqs = 1\nnum_workers = 0\ntrain = dict(train, partition_epoch=3)\n"  # 20 steps
    one = _config(tmp_path / "one", tiny_corpus, num_epochs=1, extra=extra)
    two = _config(tmp_path / "two", tiny_corpus, num_epochs=1, extra=extra + DIST_GLOBAL)
    _ok(single_process(one))
    output = _ok(torchrun(two))
    assert "20 global batches -> 20 steps on 2 processes (batch_size global); rank 0 has no data in 0" in output
    assert_bitwise_equal(
        model_params(tmp_path / "one/out/model.001.pt"), model_params(tmp_path / "two/out/model.001.pt")
    )
    assert _scores(tmp_path / "one") == _scores(tmp_path / "two")


@pytest.mark.slow
def test_ddp_follows_a_change_of_the_trainable_parameters_between_epochs(tiny_corpus: dict, tmp_path: Path) -> None:
    """Epoch 1 trains only `out`, epoch 2 everything: DDP is rebuilt for epoch 2, and the old one's gradient
    hooks are gone (SGD: a gradient reduced twice would double the update). DDP's bucketed sum during backward
    is bitwise the explicit sum after it (two ranks: one addition per element either way)."""
    extra = NO_DROPOUT + "optimizer = None\nlearning_rate = 0.01\nfrozen_params = {1: ['hidden.*'], 2: None}\n"
    ddp = "{'batch_size_is_global': True, 'options': {'gradient_as_bucket_view': True}}"
    explicit = "{'batch_size_is_global': True, 'reduce_type': 'grad_explicit'}"
    one = _config(tmp_path / "one", tiny_corpus, num_epochs=2, extra=extra)
    _ok(single_process(one))
    for name, options in (("ddp", ddp), ("explicit", explicit)):
        _ok(
            torchrun(
                _config(tmp_path / name, tiny_corpus, num_epochs=2, extra=extra + f"torch_distributed = {options}")
            )
        )
    first = model_params(tmp_path / "ddp/out/model.001.pt")
    assert torch.equal(first["hidden.weight"], model_params(tmp_path / "one/out/model.001.pt")["hidden.weight"])
    assert_bitwise_equal(
        model_params(tmp_path / "ddp/out/model.002.pt"), model_params(tmp_path / "explicit/out/model.002.pt")
    )
    last_one, last_ddp = (
        model_params(tmp_path / "one/out/model.002.pt"),
        model_params(tmp_path / "ddp/out/model.002.pt"),
    )
    for name in last_one:
        torch.testing.assert_close(last_one[name], last_ddp[name], rtol=1e-3, atol=1e-4, msg=f"parameter {name}")


@pytest.mark.slow
def test_float16_with_loss_scaling_keeps_the_ranks_equal(tiny_corpus: dict, tmp_path: Path) -> None:
    """Both ranks see the same reduced (scaled) gradients, so they skip the same overflowing updates and stay
    bitwise equal (checked at every epoch end: no "parameters differ" repair). Not compared with one process:
    where float16 overflows depends on the batch a process computes, so 1 and 2 processes skip other steps."""
    amp = "torch_amp = 'float16'\ngrad_scaler = {'init_scale': 2.0**20, 'growth_interval': 3}\n"
    output = _ok(torchrun(_config(tmp_path, tiny_corpus, num_epochs=2, extra=NO_DROPOUT + amp + DIST_GLOBAL)))
    assert "parameters differ between ranks" not in output
    assert "autocast float16 (GradScaler" in output
    assert re.search(r"epoch 1/2: .* [1-9]\d* updates skipped", output)
    assert torch.load(tmp_path / "out/model.002.pt", weights_only=True)["grad_scaler"]["scale"] < 2.0**20


@pytest.mark.slow
def test_param_averaging_every_step_with_sgd_equals_grad_allreduce_at_half_the_rate(tiny_corpus: dict, tmp_path: Path):
    """SGD: mean over 2 ranks of (p - 2*lr*g_r) = p - lr*(g_0 + g_1), the all-reduce update (also when rank 1
    has no batch in the last step: (p - 2*lr*g_0 + p) / 2)."""
    common = NO_DROPOUT + "optimizer = None\nlearning_rate = {lr}\ntorch_distributed = {opts}\n"
    param = _config(tmp_path / "param", tiny_corpus, num_epochs=1,
                         extra=common.format(lr=0.02, opts={"reduce_type": "param", "param_sync_step": 1}))  # fmt: skip
    grad = _config(tmp_path / "grad", tiny_corpus, num_epochs=1, extra=common.format(lr=0.01, opts={}))
    output = _ok(torchrun(param))
    assert "reduce_type param (param_sync_step 1)" in output
    assert "11 global batches -> 6 steps on 2 processes (batch_size per device)" in output
    _ok(torchrun(grad))
    _assert_close(model_params(tmp_path / "param/out/model.001.pt"), model_params(tmp_path / "grad/out/model.001.pt"))


CRASH_ON_RANK_0 = """
import os
num_workers = 0
_plain_train_step = train_step
torch_distributed = {{"reduce_type": "param", "param_sync_step": 3}}
checkpoint_interval_steps = 2
_FLAG = {flag!r}

def train_step(*, model, batch, ctx):
    if os.environ["RANK"] == "0" and ctx.step == 9 and os.path.exists(_FLAG):
        os.unlink(_FLAG)
        raise RuntimeError("simulated crash")
    _plain_train_step(model=model, batch=batch, ctx=ctx)
"""


@pytest.mark.slow
def test_param_averaging_run_crashed_and_resumed_is_bitwise_the_uninterrupted_one(tiny_corpus: dict, tmp_path: Path):
    """Checkpoints average parameters and optimizer moments of the ranks, so one file resumes them all exactly."""
    runs = {}
    for name in ("straight", "crashed"):
        flag = tmp_path / name / "crash.flag"
        runs[name] = _config(tmp_path / name, tiny_corpus, num_epochs=2, extra=CRASH_ON_RANK_0.format(flag=str(flag)))
    _ok(torchrun(runs["straight"]))
    (tmp_path / "crashed/crash.flag").touch()
    crashed = torchrun(runs["crashed"])
    assert crashed.returncode != 0 and "rank 0 failed: RuntimeError: simulated crash" in crashed.stdout + crashed.stderr
    assert [p.name for p in (tmp_path / "crashed/out").glob("*.step*.pt")] == ["model.002.step8.pt"]
    assert "resuming from" in _ok(torchrun(runs["crashed"]))
    straight, resumed = (model_params(tmp_path / n / "out/model.002.pt") for n in ("straight", "crashed"))
    assert_bitwise_equal(straight, resumed)
    assert _scores(tmp_path / "straight") == _scores(tmp_path / "crashed")


# ---------------------------------------------------------------------------- torchrun: failures


RAISE_ON_RANK_1 = """
import os
num_workers = 0
_plain_train_step = train_step
torch_distributed = {{"timeout_sec": 600}}

def train_step(*, model, batch, ctx):
    if os.environ["RANK"] == "1" and ctx.step == 2:
        {error}
    if os.environ["RANK"] == "0" and ctx.step == 2:
        time.sleep({rank0_sleep})  # busy elsewhere when rank 1 fails: no collective breaks for it
    _plain_train_step(model=model, batch=batch, ctx=ctx)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("error", "rank0_sleep", "message"),
    [
        ("raise ValueError('boom on rank 1')", 300, "ValueError: boom on rank 1"),
        ("raise seqtrain.errors.DataError('sequence x is broken')", 0, "sequence x is broken"),
    ],
)
def test_a_rank_that_raises_stops_all_ranks_within_seconds_with_its_message(
    error: str, rank0_sleep: float, message: str, tiny_corpus: dict, tmp_path: Path
) -> None:
    extra = "import seqtrain.errors\n" + RAISE_ON_RANK_1.format(error=error, rank0_sleep=rank0_sleep)
    config = write_config(tmp_path, tiny_corpus, num_epochs=1, extra=extra)
    start = time.monotonic()
    result = torchrun(config, timeout=100)
    seconds = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"rank 1 failed: {message} (rank 0 stopped because of it)" in output
    assert seconds < 45, f"took {seconds:.0f} s (the collective timeout is 600 s)"
    assert not list((tmp_path / "out").glob("*.pt"))


@pytest.mark.slow
def test_a_rank_killed_without_a_word_stops_the_others_with_a_clear_error(tiny_corpus: dict, tmp_path: Path) -> None:
    error = "import signal; os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does"
    config = write_config(tmp_path, tiny_corpus, num_epochs=1, extra=RAISE_ON_RANK_1.format(error=error, rank0_sleep=0))
    start = time.monotonic()
    result = torchrun(config, timeout=100)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "seqtrain train: error: rank 0: a collective operation failed (" in output
    assert "another rank probably died (killed, out of memory: see its log)" in output
    assert time.monotonic() - start < 45


@pytest.mark.slow
def test_ranks_that_see_different_data_stop_with_an_error_instead_of_waiting(tiny_corpus: dict, tmp_path: Path):
    extra = f"import os\ntrain = dict(train, files=[[{str(tiny_corpus['train'])!r}, {str(tiny_corpus['dev'])!r}]"
    extra += "[int(os.environ['RANK'])]])\ntorch_distributed = {}\nnum_workers = 0\n"
    result = torchrun(write_config(tmp_path, tiny_corpus, num_epochs=1, extra=extra), timeout=100)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "epoch 1: the ranks disagree (batches: " in output
    assert "All ranks must see the same config, data files" in output


# ---------------------------------------------------------------------------- torchrun: stop and resume


@pytest.mark.slow
def test_sigterm_stops_all_ranks_at_one_step_and_resume_is_exact_also_with_another_world_size(
    global_batch_run: Path, tiny_corpus: dict, tmp_path: Path
) -> None:
    extra = NO_DROPOUT + "torch_distributed = {'batch_size_is_global': True}\nnum_workers = 2\n"
    stopped = tmp_path / "stopped"
    config = _config(stopped, tiny_corpus, num_epochs=2, step_sleep=0.05, extra=extra)
    proc = subprocess.Popen(_torchrun_cmd(config), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 90
    while not (stopped / "out/model.001.meta.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # torchrun passes it on to the whole process group, DataLoader workers included
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert output.count("run the same command again to resume") == 2, output  # both ranks, the same step
    (mid,) = (stopped / "out").glob("model.002.step*.pt")
    batches_done = torch.load(mid, weights_only=True)["global_step"] - 11  # epoch 1 had 11 steps
    assert not (stopped / "out/model.002.pt").exists()

    # the same number of processes: bitwise the uninterrupted run
    same = tmp_path / "same"
    shutil.copytree(stopped, same)
    (same / "config.py").write_text((stopped / "config.py").read_text().replace(str(stopped), str(same)))
    output = _ok(torchrun(same / "config.py"))
    assert "resuming from" in output
    assert_bitwise_equal(model_params(global_batch_run / "out/model.002.pt"), model_params(same / "out/model.002.pt"))
    assert _scores(global_batch_run) == _scores(same)

    # one process: the rest of the epoch is dealt out anew, the global batches (and so the result) stay
    output = _ok(single_process(config))
    assert "resuming a 2-process checkpoint with 1 process(es)" in output
    assert f"dealt out from global batch {batches_done}" in output
    _assert_close(model_params(global_batch_run / "out/model.002.pt"), model_params(stopped / "out/model.002.pt"))


SIGNAL_GROUP_DURING_EVAL = """
import os
import signal
_plain_train_step = train_step
num_workers = 2
_FLAG = {flag!r}

def train_step(*, model, batch, ctx):
    if not ctx.train and os.path.exists(_FLAG):  # evaluation, its loader workers running: signal them all
        os.unlink(_FLAG)
        os.killpg(os.getpgid(0), signal.SIGTERM)
    _plain_train_step(model=model, batch=batch, ctx=ctx)
"""


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_stops_cleanly_at_a_step(tiny_corpus: dict, tmp_path: Path) -> None:
    """torchrun (and Ctrl-C) signal the trainer's whole process group: loader workers must not die of it first."""
    flag = tmp_path / "signal.flag"
    flag.touch()
    config = write_config(tmp_path, tiny_corpus, num_epochs=2, extra=SIGNAL_GROUP_DURING_EVAL.format(flag=str(flag)))
    cmd = [sys.executable, "-m", "seqtrain", "train", str(config)]
    result = subprocess.run(
        cmd, env=_env(), capture_output=True, text=True, timeout=120, start_new_session=True, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "stopped by signal 15 in epoch 2 after batch 1" in output and "worker" not in output
    assert _scores(tmp_path)[1].keys() == {"train_loss_ctc", "dev_loss_ctc"}  # the evaluation finished
    assert "resuming from" in _ok(single_process(config))
