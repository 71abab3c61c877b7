"""`openmp_wait_policy`: the trainer's OpenMP threads sleep between parallel regions instead of spinning.

Why: torch's CPU ops run in OpenMP threads that, by default, spin for a while after each parallel region, waiting
for the next. Where the loader's worker processes need the same cores (audio augmentation and features computed on
the fly), the spinning threads take the cores from them, and a worker that preempts a torch thread stalls every
barrier. Measured on the 2-core machine (docs/data.md): the robust recipe's augmented batches train 1.25-1.3x faster
with 'passive'; with light loading (features read from HDF) 'passive' is 7-10 % slower. So it is a key, not a default.

Why a restart: libgomp reads OMP_WAIT_POLICY once, when torch loads it, and a config (a Python file) may already
have imported torch. So `seqtrain train` sets the variable and replaces its process with the same command (`os.execve`:
same pid, same arguments, so torchrun and signals see the same process), once: the new process finds the policy set.
Called in-process (`main([...])` from a program, tests), there is no command to restart; it says so and goes on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

ENV_NAME = "OMP_WAIT_POLICY"


def needs_restart(policy: str | None, environ: Mapping[str, str]) -> bool:
    """True when the config asks for a wait policy the environment (and so the running OpenMP) does not have."""
    return policy is not None and environ.get(ENV_NAME, "").lower() != policy


def apply_wait_policy(policy: str | None, command_line: Sequence[str] | None) -> None:
    """Restarts this `seqtrain` command with OMP_WAIT_POLICY=<policy> unless it already runs with it.

    `command_line` is the arguments after `seqtrain` when this process is the `seqtrain` command, None when the CLI
    was called in-process (then only a warning: the running OpenMP keeps its policy).
    """
    if not needs_restart(policy, os.environ):
        return
    assert policy is not None
    if command_line is None:
        print(
            f"seqtrain: warning: openmp_wait_policy={policy!r} applies when seqtrain runs as its own command "
            f"(`seqtrain train CONFIG`, or {ENV_NAME}={policy.upper()} in its environment); this process keeps "
            f"{ENV_NAME}={os.environ.get(ENV_NAME, '<unset>')}",
            file=sys.stderr,
        )
        return
    print(f"seqtrain: openmp_wait_policy={policy!r}: restarting with {ENV_NAME}={policy.upper()}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, ENV_NAME: policy.upper()}
    os.execve(sys.executable, [sys.executable, "-m", "seqtrain", *command_line], env)
