"""Fixtures of the recipe tests: the small tts_digits corpus (prepared once per session), one-thread runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from tests.train.helpers import REPO


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("tts_digits_small") / "data"
    subprocess.run(
        [sys.executable, str(REPO / "recipes/tts_digits/prepare.py"), "--out", str(data), "--small"], check=True
    )
    return data


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Two threads on a busy 2-core machine are many times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def recipe_env(small_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Tiny settings for CI: the recipes read their data/experiment paths and sizes from the environment."""

    def setup(exp: Path, *, dim: int, stage_epochs: str = "") -> None:
        monkeypatch.setenv("TTS_DIGITS_DATA", str(small_corpus))
        monkeypatch.setenv("TTS_DIGITS_EXP", str(exp))
        monkeypatch.setenv("TTS_DIGITS_DIM", str(dim))
        if stage_epochs:
            monkeypatch.setenv("TTS_DIGITS_STAGE_EPOCHS", stage_epochs)

    return setup
