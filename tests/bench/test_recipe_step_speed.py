"""bench.recipe_step_speed: float32 and bfloat16 steps of both recipes on the same batches, one JSON line."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from bench import recipe_step_speed


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    monkeypatch.setattr(recipe_step_speed, "corpus_dir", lambda: None)  # random features: no corpus needed
    monkeypatch.setattr(recipe_step_speed, "random_batches", lambda count: recipe_step_speed_batches(count))
    monkeypatch.setattr(sys, "argv", ["recipe_step_speed", "--batches", "1", "--repeats", "1", *args])
    recipe_step_speed.main()
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def recipe_step_speed_batches(count: int) -> list[recipe_step_speed.Batch]:
    """Short random batches (4 sequences of 100-120 frames, 15 labels) in the bench's layout: the test takes seconds."""
    gen = torch.Generator().manual_seed(0)
    lengths = torch.tensor([120, 110, 105, 100], dtype=torch.int32)
    labels = torch.full((4,), 15, dtype=torch.int32)
    return [
        recipe_step_speed.Batch(
            {"data": torch.randn(4, 120, 80, generator=gen), "classes": torch.randint(1, 27, (4, 15), generator=gen)},
            {"data": lengths, "classes": labels},
            [str(i) for i in range(4)],
            list(range(4)),
        )
        for _ in range(count)
    ]


def test_bfloat16_is_timed_beside_float32_for_both_recipes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_main(monkeypatch, capsys, "--precisions", "float32,bfloat16")
    assert line["bench"] == "recipe_step_speed" and line["data"] == "random features"
    for name in ("conformer_ctc", "ctc_blstm"):
        assert isinstance(line[f"{name}_bfloat16_frames_per_s"], int) and line[f"{name}_bfloat16_frames_per_s"] > 0
        ratio = line[f"ratio_{name}_bfloat16_vs_float32"]
        assert isinstance(ratio, float) and ratio > 0
        float32_fps = line[f"{name}_frames_per_s"]
        assert ratio == pytest.approx(line[f"{name}_bfloat16_frames_per_s"] / float32_fps, rel=0.01)


def test_float32_alone_adds_no_precision_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_main(monkeypatch, capsys)
    assert not [key for key in line if "bfloat16" in key]


@pytest.mark.parametrize("value", ["float16", "bfloat16", "float32,bf16"])
def test_an_unknown_or_baseline_less_precision_list_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        run_main(monkeypatch, capsys, "--precisions", value)
    assert stop.value.code == 2
    assert "--precisions: float32 and any of float32, bfloat16" in capsys.readouterr().err
