"""Loss values, normalization counts and error measures against torch's own functions and hand counts."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from seqtrain.errors import ConfigError, DataError
from seqtrain.nn.losses import check_loss_options, compute_loss, edit_distance, greedy_ctc_labels
from seqtrain.nn.seq import Seq, SeqInfo


def _scores(lengths: list[int], vocab: int = 4, seed: int = 0) -> Seq:
    gen = torch.Generator().manual_seed(seed)
    return Seq(torch.randn(len(lengths), max(lengths), vocab, generator=gen), torch.tensor(lengths))


def _labels(rows: list[list[int]]) -> Seq:
    width = max(len(r) for r in rows)
    t = torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.int32)
    return Seq(t, torch.tensor([len(r) for r in rows]))


def test_ce_counts_only_valid_frames_and_reports_frame_error_rate() -> None:
    out = _scores([3, 2])
    target = _labels([[0, 1, 2], [3, 3]])
    loss, error = compute_loss("ce", out, target, {}, "layer 'out'")
    logits = torch.cat([out.tensor[0, :3], out.tensor[1, :2]])
    labels = torch.tensor([0, 1, 2, 3, 3])
    assert torch.allclose(loss.values.sum(), F.cross_entropy(logits, labels, reduction="sum"))
    assert loss.inv_norm_factor == 5.0
    assert error.as_error and error.suffix == "_error"
    assert error.values.sum().item() == (logits.argmax(-1) != labels).sum().item()


def test_ce_label_smoothing_and_focal_factor() -> None:
    out = _scores([4])
    target = _labels([[1, 0, 2, 3]])
    smoothed = compute_loss("ce", out, target, {"label_smoothing": 0.1}, "x")[0].values.sum()
    expected = F.cross_entropy(out.tensor[0], target.tensor[0].long(), label_smoothing=0.1, reduction="sum")
    assert torch.allclose(smoothed, expected)
    focal = compute_loss("ce", out, target, {"focal_loss_factor": 2.0}, "x")[0].values
    p = torch.softmax(out.tensor[0], -1).gather(1, target.tensor[0].long()[:, None])[:, 0]
    assert torch.allclose(focal, -p.log() * (1 - p) ** 2)


def test_ce_needs_one_target_per_frame() -> None:
    with pytest.raises(DataError, match="one entry per output frame"):
        compute_loss("ce", _scores([3, 2]), _labels([[0, 1], [3]]), {}, "layer 'out'")


def test_ctc_matches_torch_and_normalizes_per_label() -> None:
    out = _scores([6, 5], vocab=5)
    target = _labels([[1, 2, 2], [3]])
    loss, error = compute_loss("ctc", out, target, {}, "x")
    expected = F.ctc_loss(
        out.tensor.log_softmax(-1).transpose(0, 1),
        target.tensor.long(),
        out.lengths,
        target.lengths,
        blank=4,
        reduction="none",
    )
    assert torch.allclose(loss.values, expected)
    assert loss.inv_norm_factor == 4.0 and error.inv_norm_factor == 4.0
    hyp, hyp_len = greedy_ctc_labels(out.tensor, out.lengths, blank=4)
    for b, ref in enumerate([[1, 2, 2], [3]]):
        assert error.values[b].item() == _levenshtein(hyp[b, : hyp_len[b]].tolist(), ref)


def test_ctc_blank_index_option() -> None:
    out = _scores([6], vocab=5)
    target = _labels([[1, 2]])
    loss = compute_loss("ctc", out, target, {"blank_index": 0}, "x")[0]
    expected = F.ctc_loss(
        out.tensor.log_softmax(-1).transpose(0, 1),
        target.tensor.long(),
        out.lengths,
        target.lengths,
        blank=0,
        reduction="none",
    )
    assert torch.allclose(loss.values, expected)


def test_greedy_ctc_merges_repeats_and_drops_blanks() -> None:
    frames = [[4, 1, 1, 4, 1, 2, 2, 4], [3, 3, 4, 3, 0, 0, 0, 0]]  # blank = 4; seq 2 has 4 valid frames
    scores = F.one_hot(torch.tensor(frames), 5).float()
    hyp, lengths = greedy_ctc_labels(scores, torch.tensor([8, 4]), blank=4)
    assert lengths.tolist() == [3, 2]
    assert hyp[0, :3].tolist() == [1, 1, 2] and hyp[1, :2].tolist() == [3, 3]


def _levenshtein(a: list[int], b: list[int]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_edit_distance_equals_textbook_dp_on_random_pairs() -> None:
    rng = random.Random(3)
    hyps = [[rng.randrange(4) for _ in range(rng.randrange(0, 9))] for _ in range(40)]
    refs = [[rng.randrange(4) for _ in range(rng.randrange(1, 9))] for _ in range(40)]
    pad = lambda rows: torch.tensor([r + [0] * (9 - len(r)) for r in rows])  # noqa: E731
    got = edit_distance(
        pad(hyps), torch.tensor([len(h) for h in hyps]), pad(refs), torch.tensor([len(r) for r in refs])
    )
    assert got.tolist() == [_levenshtein(h, r) for h, r in zip(hyps, refs)]


def test_mse_and_l1_per_frame() -> None:
    out = Seq(torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [9.0, 9.0]]]), torch.tensor([2, 1]))
    target = Seq(torch.zeros(2, 2, 2), torch.tensor([2, 1]))
    mse = compute_loss("mse", out, target, {}, "x")[0]
    assert mse.values.sum().item() == 1 + 4 + 9 + 16 and mse.inv_norm_factor == 3.0  # padded frame ignored
    l1 = compute_loss("l1", out, target, {}, "x")[0]
    assert l1.values.sum().item() == 10.0


def test_custom_loss_function_with_its_own_normalization() -> None:
    def energy(*, output: Seq, target: Seq | None, weight: float) -> tuple[torch.Tensor, float]:
        return weight * output.tensor.pow(2).sum(), 7.0

    (term,) = compute_loss(energy, _scores([2]), None, {"weight": 2.0}, "x")
    assert torch.allclose(term.values, 2 * _scores([2]).tensor.pow(2).sum()) and term.inv_norm_factor == 7.0


@pytest.mark.parametrize(
    ("loss", "opts", "target", "message"),
    [
        ("cee", {}, SeqInfo.classes(4), "unknown loss 'cee'"),
        ("ce", {"label_smothing": 0.1}, SeqInfo.classes(4), "no loss_opts"),
        ("ctc", {}, None, "needs a 'target'"),
        ("ctc", {}, SeqInfo.classes(5), "one more output than target classes"),
        ("ce", {}, SeqInfo.dense(5), "sparse target"),
    ],
)
def test_bad_loss_settings_are_config_errors(loss: str, opts: dict, target: SeqInfo | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_loss_options(loss, opts, target, SeqInfo.dense(5), "layer 'output'")
