"""Logging setup: console and the run's log file, with RETURNN-style verbosity levels."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from seqtrain.errors import RunFileError

LOGGER_NAME = "seqtrain"


def _level(verbosity: int) -> int:
    if verbosity <= 0:
        return logging.ERROR
    if verbosity == 1:
        return logging.WARNING
    if verbosity >= 5:
        return logging.DEBUG
    return logging.INFO


def setup_logging(verbosity: int, log_file: Path | None = None) -> logging.Logger:
    """(Re)configures the `seqtrain` logger; safe to call once per command or test."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(_level(verbosity))
    logger.propagate = False
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(console)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file)
        except OSError as e:
            raise RunFileError.from_os_error(e, "the log file (in the `model` directory)") from e
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(file_handler)
    return logger


def format_scores(scores: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in scores.items())
