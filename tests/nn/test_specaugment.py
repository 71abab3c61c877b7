"""SpecAugment: mask counts, widths and positions within each sequence's own length; warping; train only."""

from __future__ import annotations

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.nn.specaugment import (
    SpecAugmentOptions,
    draw_freq_masks,
    draw_time_masks,
    freq_warp,
    freq_warp_sources,
    spec_augment,
    time_warp,
)


def _runs(mask: torch.Tensor) -> int:
    """Number of maximal runs of True in a 1-D bool mask."""
    padded = torch.cat([torch.tensor([False]), mask])
    return int((padded[1:] & ~padded[:-1]).sum())


def test_time_mask_counts_widths_and_positions_respect_each_length() -> None:
    torch.manual_seed(0)
    lengths = torch.tensor([400, 57, 12, 3] * 50)
    opts = SpecAugmentOptions(
        time_mask_num=(1, 3), time_mask_max_width=20, time_mask_frames_per_mask=100, time_mask_max_ratio=0.5
    )
    draw = draw_time_masks(lengths, opts)
    max_counts = torch.maximum(torch.tensor(3), lengths // 100)  # 4 for the 400-frame sequences
    assert torch.all(draw.counts >= 1) and torch.all(draw.counts <= max_counts)
    assert set(draw.counts[lengths == 400].tolist()) == {1, 2, 3, 4}  # all counts occur over 50 draws
    used = torch.arange(draw.starts.shape[1])[None, :] < draw.counts[:, None]
    caps = torch.minimum(torch.tensor(20), lengths // 2)  # time_mask_max_ratio 0.5
    assert torch.all(draw.widths[used] <= caps[:, None].expand_as(used)[used])
    assert torch.all((draw.starts + draw.widths)[used] <= lengths[:, None].expand_as(used)[used])
    assert draw.widths[used][lengths[:, None].expand_as(used)[used] == 400].max() == 20
    mask = draw.to_mask(400)
    assert not mask[lengths == 3].any() or mask[lengths == 3][:, 3:].sum() == 0
    for b in range(len(lengths)):
        assert not mask[b, lengths[b] :].any(), "a mask reached into padding"
        assert _runs(mask[b]) <= int(draw.counts[b])


def test_fixed_count_and_width_give_exactly_that_many_masked_frames_when_apart() -> None:
    torch.manual_seed(1)
    opts = SpecAugmentOptions(freq_mask_num=(2, 2), freq_mask_max_width=80)
    draw = draw_freq_masks(300, 80, opts)
    assert torch.all(draw.counts == 2)
    mask = draw.to_mask(80)
    assert torch.all(mask.sum(-1) <= draw.widths.sum(-1))
    apart = (draw.starts[:, 0] + draw.widths[:, 0] <= draw.starts[:, 1]) | (
        draw.starts[:, 1] + draw.widths[:, 1] <= draw.starts[:, 0]
    )
    assert torch.all(mask[apart].sum(-1) == draw.widths[apart].sum(-1))
    assert torch.all(draw.starts + draw.widths <= 80)


def test_default_freq_mask_width_is_a_fifth_of_the_features() -> None:
    torch.manual_seed(2)
    draw = draw_freq_masks(2000, 80, SpecAugmentOptions())
    assert draw.widths.max() == 16


def test_spec_augment_masks_in_training_only_and_is_reproducible() -> None:
    x = torch.randn(3, 50, 20) + 5.0
    lengths = torch.tensor([50, 30, 10])
    opts = SpecAugmentOptions(time_mask_num=(2, 2), freq_mask_num=(1, 1), time_warp_max=3)
    assert torch.equal(spec_augment(x, lengths, opts, training=False), x)
    torch.manual_seed(5)
    a = spec_augment(x, lengths, opts, training=True)
    torch.manual_seed(5)
    b = spec_augment(x, lengths, opts, training=True)
    assert torch.equal(a, b)
    assert (a == 0).any() and not torch.equal(a, x)
    assert torch.equal(a[1, 30:], x[1, 30:]) and torch.equal(a[2, 10:], x[2, 10:])  # padding untouched


def test_time_warp_moves_frames_but_keeps_endpoints_and_padding() -> None:
    x = torch.arange(40, dtype=torch.float32)[None, :, None].repeat(2, 1, 3)
    lengths = torch.tensor([40, 20])
    torch.manual_seed(3)
    warped = time_warp(x, lengths, 5)
    assert warped.shape == x.shape
    assert torch.equal(warped[1, 20:], x[1, 20:])
    for b, length in enumerate([40, 20]):
        seq = warped[b, :length, 0]
        assert torch.all(seq[1:] >= seq[:-1])  # a monotone re-timing of a ramp stays monotone
        assert seq[0] >= 0 and seq[-1] <= length - 1


def test_freq_warp_reads_each_bin_from_a_monotone_map_that_keeps_both_ends() -> None:
    torch.manual_seed(4)
    sources = freq_warp_sources(500, 80, 0.2, 6)
    assert torch.all(sources[:, 1:] > sources[:, :-1])  # monotone: no bin order is swapped
    torch.testing.assert_close(sources[:, 0], torch.zeros(500))
    torch.testing.assert_close(sources[:, -1], torch.full((500,), 79.0))
    shift = sources - torch.arange(80.0)
    assert shift.abs().max() <= 0.2 * 79  # no bin moves by more than the largest stretch of the whole axis
    assert shift.abs().amax(dim=1).min() > 0.0  # every sequence is warped ...
    assert shift[:, 13].std() > 1.0 and shift[:, 40].std() > 1.0  # ... and differently: formants move
    # independently: the shift at an F1 bin does not fix the shift at an F2 bin (speed perturbation would)
    assert torch.corrcoef(torch.stack([shift[:, 13] / 13, shift[:, 50] / 50]))[0, 1].abs() < 0.9


def test_freq_warp_interpolates_the_features_at_the_drawn_sources() -> None:
    ramp = torch.arange(80.0).expand(3, 7, 80).contiguous()  # a frame whose value is its bin number
    torch.manual_seed(9)
    warped = freq_warp(ramp, 0.15, 4)
    torch.manual_seed(9)
    sources = freq_warp_sources(3, 80, 0.15, 4)
    torch.testing.assert_close(warped, sources[:, None, :].expand(3, 7, 80), atol=1e-4, rtol=0)
    assert torch.equal(freq_warp(ramp, 0.0, 4), ramp)


def test_freq_warp_in_spec_augment_leaves_padding_and_evaluation_alone() -> None:
    x = torch.randn(2, 12, 40)
    lengths = torch.tensor([12, 5])
    opts = SpecAugmentOptions(time_mask_num=(0, 0), freq_mask_num=(0, 0), freq_warp_max=0.2)
    torch.manual_seed(2)
    warped = spec_augment(x, lengths, opts, training=True)
    assert not torch.equal(warped[:, :5], x[:, :5]) and torch.equal(warped[1, 5:], x[1, 5:])
    assert torch.equal(spec_augment(x, lengths, opts, training=False), x)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"freq_warp_max": 1.0}, r"freq_warp_max must be in \[0, 1\), got 1.0"),
        ({"freq_warp_max": -0.1}, "freq_warp_max must be"),
        ({"freq_warp_max": "0.2"}, r"freq_warp_max must be in \[0, 1\), got '0.2'"),
        ({"freq_warp_segments": 0}, "freq_warp_segments must be an int >= 1, got 0"),
        ({"freq_warp_segments": 2.5}, "freq_warp_segments must be an int"),
        ({"freq_warp": 0.1}, "unexpected keyword argument 'freq_warp'"),
    ],
)
def test_bad_freq_warp_options_are_named(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SpecAugmentOptions.from_dict(options, "layer 'specaug'")
