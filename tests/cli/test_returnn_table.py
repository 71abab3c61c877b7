"""docs/returnn.md's tables are generated from the registries, and `seqtrain config --list` marks RETURNN's keys."""

from __future__ import annotations

from pathlib import Path

from seqtrain.cli.config_cmd import list_keys
from seqtrain.cli.returnn_table import key_table, render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "returnn.md"


def test_docs_returnn_page_is_up_to_date() -> None:
    page = PAGE.read_text()
    stale = "docs/returnn.md is stale: run `python -m seqtrain.cli.returnn_table --write docs/returnn.md`"
    assert render(page) == page, stale


def test_key_table_has_supported_ignored_and_rejected_names() -> None:
    table = key_table()
    assert "| `batching` | supported |" in table
    assert "| `use_tensorflow` | ignored, one warning line |" in table
    assert "| `use_last_best_model` | error |" in table
    assert "| `truncation` | ignored at -1, else error |" in table


def test_config_list_marks_returnn_keys() -> None:
    listing = list_keys()
    assert "learning_rate: float = 1.0 (schedulable) (RETURNN)" in listing
    lines = listing.splitlines()
    marked = {line.split(":")[0] for line in lines if line.endswith("(RETURNN)")}
    assert {"learning_rate", "batching", "num_outputs", "save_interval", "newbob_learning_rate_decay"} <= marked
    assert "recog_beam_size" not in marked and "torch_compile" not in marked
