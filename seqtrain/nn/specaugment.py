"""SpecAugment (Park et al. 2019): time warping, time masks and frequency masks, per sequence and length-aware;
plus a random piecewise-linear warp of the frequency axis per sequence.

Every sequence draws its own number of masks, widths and positions, bounded by its own length (not by
the batch's padded length), so short sequences are not over-masked and masks never fall on padding.
Randomness comes from torch's default generator (reseeded by the engine before every step), so training
stays reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seqtrain.errors import ConfigError


@dataclass(frozen=True)
class SpecAugmentOptions:
    """Mask counts are drawn uniformly from [min, max] per sequence; widths uniformly from [0, max_width].

    `time_mask_frames_per_mask`: longer sequences get more time masks: the maximum count becomes
    max(time_mask_num[1], length // this) (RETURNN's `num_spatial_mask_factor`; None = fixed counts).
    `time_mask_max_ratio`: a time mask covers at most this fraction of its sequence (Park's p).
    `time_warp_max`: warp the time axis by up to this many frames around a random point (0 = off).
    `freq_warp_max`: cut the feature axis into `freq_warp_segments` equal pieces, stretch each by its own factor
    from [1 - max, 1 + max] and squeeze the result back to the same bins (0 = off). Unlike speed perturbation
    (one factor for the whole axis: a longer or shorter vocal tract), the formants move independently, as
    between accents (one vowel's F1 down, F2 up) and between synthesizers; the first and last bin stay put.
    """

    time_mask_num: tuple[int, int] = (1, 2)
    time_mask_max_width: int = 20
    time_mask_frames_per_mask: int | None = 100
    time_mask_max_ratio: float = 1.0
    freq_mask_num: tuple[int, int] = (1, 2)
    freq_mask_max_width: int | None = None  # None = feature dim // 5
    time_warp_max: int = 0
    freq_warp_max: float = 0.0
    freq_warp_segments: int = 6
    mask_value: float = 0.0

    @staticmethod
    def from_dict(values: dict, where: str) -> SpecAugmentOptions:
        opts = dict(values)
        for key in ("time_mask_num", "freq_mask_num"):
            if key in opts:
                opts[key] = _count_range(opts[key], f"{where}: {key}")
        try:
            parsed = SpecAugmentOptions(**opts)
        except TypeError as e:
            raise ConfigError(f"{where}: {e}") from e
        warp = parsed.freq_warp_max
        if isinstance(warp, bool) or not isinstance(warp, (int, float)) or not 0.0 <= warp < 1.0:
            raise ConfigError(f"{where}: freq_warp_max must be in [0, 1), got {parsed.freq_warp_max!r}")
        if isinstance(parsed.freq_warp_segments, bool) or not (
            isinstance(parsed.freq_warp_segments, int) and parsed.freq_warp_segments >= 1
        ):
            raise ConfigError(f"{where}: freq_warp_segments must be an int >= 1, got {parsed.freq_warp_segments!r}")
        return parsed


def _count_range(value: int | tuple[int, int] | list[int], where: str) -> tuple[int, int]:
    low, high = (value, value) if isinstance(value, int) else tuple(value)
    if not 0 <= low <= high:
        raise ConfigError(f"{where}: needs 0 <= min <= max, got {value!r}")
    return int(low), int(high)


@dataclass
class MaskDraw:
    """The drawn masks of a batch: per sequence and slot a start and width; slots >= count are unused."""

    counts: torch.Tensor  # [B]
    starts: torch.Tensor  # [B, max_count]
    widths: torch.Tensor  # [B, max_count]

    def to_mask(self, size: int) -> torch.Tensor:
        """[B, size] bool: True where any used slot masks the position."""
        pos = torch.arange(size, device=self.starts.device)[None, None, :]
        used = torch.arange(self.starts.shape[1], device=self.starts.device)[None, :] < self.counts[:, None]
        inside = (pos >= self.starts[..., None]) & (pos < (self.starts + self.widths)[..., None])
        return (inside & used[..., None]).any(dim=1)


def draw_masks(
    sizes: torch.Tensor, *, min_num: torch.Tensor, max_num: torch.Tensor, max_width: torch.Tensor
) -> MaskDraw:
    """Per sequence b: count ~ U{min_num[b]..max_num[b]}, width ~ U{0..max_width[b]}, start ~ U{0..size-width}."""
    batch = sizes.shape[0]
    slots = max(int(max_num.max()) if batch else 0, 1)
    counts = min_num + (torch.rand(batch) * (max_num - min_num + 1).float()).long()
    counts = torch.minimum(counts, max_num)
    widths = (torch.rand(batch, slots) * (max_width[:, None] + 1).float()).long()
    widths = torch.minimum(widths, sizes[:, None])
    starts = (torch.rand(batch, slots) * (sizes[:, None] - widths + 1).float()).long()
    return MaskDraw(counts=counts, starts=starts, widths=widths)


def draw_time_masks(lengths: torch.Tensor, opts: SpecAugmentOptions) -> MaskDraw:
    lengths = lengths.long().cpu()
    low, high = opts.time_mask_num
    max_num = torch.full_like(lengths, high)
    if opts.time_mask_frames_per_mask:
        max_num = torch.maximum(max_num, lengths // opts.time_mask_frames_per_mask)
    min_num = torch.minimum(torch.full_like(lengths, low), max_num)
    ratio_cap = (lengths.double() * opts.time_mask_max_ratio).floor().long()
    max_width = torch.minimum(torch.full_like(lengths, opts.time_mask_max_width), ratio_cap)
    return draw_masks(lengths, min_num=min_num, max_num=max_num, max_width=max_width)


def draw_freq_masks(batch: int, dim: int, opts: SpecAugmentOptions) -> MaskDraw:
    width = dim // 5 if opts.freq_mask_max_width is None else min(opts.freq_mask_max_width, dim)
    low, high = opts.freq_mask_num
    full = torch.full((batch,), 1, dtype=torch.long)
    return draw_masks(full * dim, min_num=full * low, max_num=full * high, max_width=full * width)


def time_warp(x: torch.Tensor, lengths: torch.Tensor, max_warp: int) -> torch.Tensor:
    """Moves a random point c of each sequence by d frames (|d| <= max_warp), stretching [0, c) and [c, len).

    Linear interpolation along time; frames past each length are left as they are.
    """
    if max_warp <= 0:
        return x
    out = x.clone()
    for b, length in enumerate(lengths.tolist()):
        if length <= 2 * max_warp + 1:
            continue
        center = int(torch.randint(max_warp + 1, length - max_warp, ()))
        new_center = center + int(torch.randint(-max_warp, max_warp + 1, ()))
        if new_center == center:
            continue
        seq = x[b, :length].transpose(0, 1)[None]  # [1, F, T]
        left = F.interpolate(seq[..., :center], size=new_center, mode="linear", align_corners=False)
        right = F.interpolate(seq[..., center:], size=length - new_center, mode="linear", align_corners=False)
        out[b, :length] = torch.cat([left, right], dim=-1)[0].transpose(0, 1)
    return out


def freq_warp_sources(batch: int, dim: int, max_stretch: float, segments: int) -> torch.Tensor:
    """[B, dim] float: for each output bin of each sequence, the (fractional) input bin it is read from.

    Segment j of the input (equal pieces of [0, dim - 1]) is stretched by s_j ~ U[1 - max, 1 + max]; the
    stretched pieces are rescaled to span [0, dim - 1] again, and the map is inverted piecewise-linearly."""
    span = float(dim - 1)
    stretch = 1.0 + (2.0 * torch.rand(batch, segments) - 1.0) * max_stretch
    out_knots = torch.cat([torch.zeros(batch, 1), stretch.cumsum(dim=1)], dim=1)
    out_knots = out_knots / out_knots[:, -1:] * span  # [B, segments + 1], increasing, 0 .. dim - 1
    in_knots = torch.linspace(0.0, span, segments + 1)
    positions = torch.arange(dim, dtype=torch.float32).expand(batch, dim).contiguous()
    seg = (torch.searchsorted(out_knots, positions, right=True) - 1).clamp(0, segments - 1)
    lo, hi = out_knots.gather(1, seg), out_knots.gather(1, seg + 1)
    frac = (positions - lo) / (hi - lo)
    return (in_knots[seg] + frac * (in_knots[seg + 1] - in_knots[seg])).clamp(0.0, span)


def freq_warp(x: torch.Tensor, max_stretch: float, segments: int) -> torch.Tensor:
    """x [B, T, F] with each sequence's feature axis warped (`freq_warp_sources`), linear interpolation."""
    if max_stretch <= 0.0 or x.shape[-1] < 2:
        return x
    batch, _, dim = x.shape
    sources = freq_warp_sources(batch, dim, max_stretch, segments).to(x.device)
    low = sources.floor().long().clamp(max=dim - 2)
    weight = (sources - low.to(sources.dtype)).to(x.dtype)[:, None, :]
    index = low[:, None, :].expand(batch, x.shape[1], dim)
    left, right = x.gather(2, index), x.gather(2, index + 1)
    return left + weight * (right - left)


def spec_augment(x: torch.Tensor, lengths: torch.Tensor, opts: SpecAugmentOptions, *, training: bool) -> torch.Tensor:
    """x [B, T, F] -> augmented x (training only); masks are set to `opts.mask_value`."""
    if not training:
        return x
    x = time_warp(x, lengths, opts.time_warp_max)
    valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
    if opts.freq_warp_max > 0.0:
        x = torch.where(valid[:, :, None], freq_warp(x, opts.freq_warp_max, opts.freq_warp_segments), x)
    time_mask = draw_time_masks(lengths, opts).to_mask(x.shape[1]).to(x.device)
    freq_mask = draw_freq_masks(x.shape[0], x.shape[-1], opts).to_mask(x.shape[-1]).to(x.device)
    masked = (time_mask[:, :, None] | freq_mask[:, None, :]) & valid[:, :, None]
    return x.masked_fill(masked, opts.mask_value)
