"""`openmp_wait_policy`: `seqtrain train` restarts itself once with OMP_WAIT_POLICY set, and only when needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqtrain.cli.main import main
from seqtrain.cli.openmp_policy import needs_restart
from tests.corpus import write_config
from tests.train.helpers import REPO

# the config notes the OMP_WAIT_POLICY of every process that loads it: one line per load
_RECORD = """
import os as _os
with open({record!r}, "a") as _f:
    _f.write(_os.environ.get("OMP_WAIT_POLICY", "<unset>") + " " + str(_os.getpid()) + "\\n")
openmp_wait_policy = {policy!r}
"""


def _config(tmp_path: Path, corpus: dict, policy: str | None) -> tuple[Path, Path]:
    record = tmp_path / "loads.txt"
    extra = _RECORD.format(record=str(record), policy=policy)
    return write_config(tmp_path, corpus, num_epochs=1, extra=extra), record


def _run_command(config: Path, env_policy: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(REPO)
    if env_policy is not None:
        env["OMP_WAIT_POLICY"] = env_policy
    return subprocess.run(
        [sys.executable, "-m", "seqtrain", "train", str(config)], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.parametrize(
    ("policy", "environ", "expected"),
    [
        (None, {}, False),
        (None, {"OMP_WAIT_POLICY": "ACTIVE"}, False),
        ("passive", {}, True),
        ("passive", {"OMP_WAIT_POLICY": "ACTIVE"}, True),
        ("passive", {"OMP_WAIT_POLICY": "PASSIVE"}, False),
        ("active", {"OMP_WAIT_POLICY": "active"}, False),
    ],
)
def test_restart_only_when_the_environment_differs(policy: str | None, environ: dict, expected: bool) -> None:
    assert needs_restart(policy, environ) is expected


def test_train_command_restarts_once_with_the_policy(tiny_corpus: dict, tmp_path: Path) -> None:
    config, record = _config(tmp_path, tiny_corpus, "passive")
    proc = _run_command(config)
    assert proc.returncode == 0, proc.stderr
    assert "openmp_wait_policy='passive': restarting with OMP_WAIT_POLICY=PASSIVE" in proc.stderr
    loads = [line.split() for line in record.read_text().splitlines()]
    # the first process loaded the config without the policy, the restarted one (same pid: execve) with it, and
    # trained: one checkpoint
    assert [policy for policy, _ in loads] == ["<unset>", "PASSIVE"]
    assert loads[0][1] == loads[1][1]
    assert (tmp_path / "out" / "model.001.pt").is_file()


def test_no_restart_when_the_environment_has_the_policy(tiny_corpus: dict, tmp_path: Path) -> None:
    config, record = _config(tmp_path, tiny_corpus, "passive")
    proc = _run_command(config, env_policy="PASSIVE")
    assert proc.returncode == 0, proc.stderr
    assert "restarting" not in proc.stderr
    assert [line.split()[0] for line in record.read_text().splitlines()] == ["PASSIVE"]


def test_no_restart_without_the_key(tiny_corpus: dict, tmp_path: Path) -> None:
    config, record = _config(tmp_path, tiny_corpus, None)
    proc = _run_command(config)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in record.read_text().splitlines()] == ["<unset>"]


def test_in_process_call_warns_and_trains_without_restarting(
    tiny_corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    config, record = _config(tmp_path, tiny_corpus, "passive")
    assert main(["train", str(config)]) == 0
    err = capsys.readouterr().err
    assert "openmp_wait_policy='passive' applies when seqtrain runs as its own command" in err
    assert "this process keeps OMP_WAIT_POLICY=<unset>" in err
    assert len(record.read_text().splitlines()) == 1
    assert (tmp_path / "out" / "model.001.pt").is_file()


def test_unknown_policy_names_the_key(tiny_corpus: dict, tmp_path: Path, capsys) -> None:
    config, _ = _config(tmp_path, tiny_corpus, "spin")
    assert main(["train", str(config)]) == 1
    err = capsys.readouterr().err
    assert "openmp_wait_policy" in err and "spin" in err
    assert not (tmp_path / "out" / "model.001.pt").exists()
