"""Losses of net-dict layers: ce, ctc, mse, l1, bin_ce, as_is, edit_distance (an error measure), or any function;
with their error measures.

Each loss returns its unreduced values and the count it is normalized by when reported (frames for
frame-wise losses, target labels for CTC), the way RETURNN reports scores; the training objective is
the summed loss times `loss_scale` (RETURNN's default) unless `loss_opts={"use_normalized_loss": True}`.
Classification losses also report an error measure (`as_error`, no gradient): frame error rate for
ce, label error rate of greedy decoding for ctc.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from seqtrain.errors import ConfigError, DataError
from seqtrain.nn.seq import Seq, SeqInfo
from seqtrain.registry import Registry


@dataclass
class LossTerm:
    """One value to mark: name suffix ("" = the loss itself), unreduced values, normalization count."""

    suffix: str
    values: torch.Tensor
    inv_norm_factor: torch.Tensor | float
    as_error: bool = False


@dataclass(frozen=True)
class LossKind:
    """A built-in loss: its `loss_opts` (besides the generic "use_normalized_loss"), whether it needs a target,
    whether it scores classes ([B, T, classes] outputs, sparse targets), and how it is computed:
    `compute(output, target, where, **loss_opts)` returns the terms to mark."""

    options: frozenset[str]
    compute: Callable[..., list[LossTerm]]
    needs_target: bool = True
    classification: bool = False
    extra_outputs: int = 0  # a layer with this loss and no n_out gets the target's dim plus this (CTC: the blank)


LOSSES: Registry[LossKind] = Registry("loss", hint="or give a function as `loss`")


def is_classification(loss: object) -> bool:
    return isinstance(loss, str) and loss in LOSSES and LOSSES.get(loss).classification


def auto_n_out(loss: object, target_dim: int) -> int:
    """RETURNN's n_out of a layer with a target and no n_out: the target's dim, plus one for CTC's blank."""
    extra = LOSSES.get(loss).extra_outputs if isinstance(loss, str) and loss in LOSSES else 0
    return target_dim + extra


def check_loss_options(
    loss: str | Callable[..., Any], opts: dict[str, Any], target_info: SeqInfo | None, out_info: SeqInfo, where: str
) -> None:
    """Validates a layer's loss settings when the net dict is parsed, before any data is read."""
    if callable(loss):
        return
    kind = LOSSES.get(loss, where=where)
    unknown = set(opts) - kind.options - {"use_normalized_loss"}
    if unknown:
        allowed = sorted(kind.options | {"use_normalized_loss"})
        raise ConfigError(f"{where}: loss {loss!r} has no loss_opts {sorted(unknown)}; allowed: {allowed}")
    if kind.needs_target and target_info is None:
        raise ConfigError(f"{where}: loss {loss!r} needs a 'target' (a data key such as 'classes', or 'layer:<name>')")
    if kind.classification:
        if out_info.sparse or len(out_info.feature_shape) != 1:
            raise ConfigError(
                f"{where}: loss {loss!r} needs [B, T, classes] scores, the layer gives {out_info.describe()}"
            )
        if target_info is not None and not target_info.sparse:
            raise ConfigError(
                f"{where}: loss {loss!r} needs a sparse target (class indices), got {target_info.describe()}"
            )
        if loss == "ce" and target_info is not None and target_info.dim > out_info.dim:
            raise ConfigError(f"{where}: target has {target_info.dim} classes but the layer outputs {out_info.dim}")
        if loss == "ctc" and target_info is not None and target_info.dim >= out_info.dim:
            raise ConfigError(
                f"{where}: CTC needs one more output than target classes (the blank): target has "
                f"{target_info.dim} classes, the layer outputs {out_info.dim}; use n_out={target_info.dim + 1}"
            )


def compute_loss(
    loss: str | Callable[..., Any], output: Seq, target: Seq | None, opts: dict[str, Any], where: str
) -> list[LossTerm]:
    """The loss of one layer on one batch, plus its error measure if it has one."""
    opts = {k: v for k, v in opts.items() if k != "use_normalized_loss"}
    if callable(loss):
        return [_custom(loss, output, target, opts, where)]
    kind = LOSSES.get(loss, where=where)
    assert target is not None or not kind.needs_target  # check_loss_options ran when the net dict was parsed
    return kind.compute(output, target, where, **opts)


def _as_is(output: Seq, target: Seq | None, where: str) -> list[LossTerm]:
    """The layer's output is the loss (per frame when it has a time axis)."""
    values = output.tensor.float()
    if output.lengths is not None:
        values = values * output.frame_mask()
    return [LossTerm("", values, float(output.lengths.sum()) if output.lengths is not None else values.shape[0])]


def _frame_aligned(output: Seq, target: Seq, where: str) -> torch.Tensor:
    """The valid-frame mask, after checking that the target has one entry per output frame."""
    if output.lengths is None or target.lengths is None:
        raise DataError(f"{where}: frame-wise losses need a time axis on output and target")
    if not torch.equal(output.lengths.long(), target.lengths.long()):
        raise DataError(
            f"{where}: the target must have one entry per output frame, but the lengths differ "
            f"(output {output.lengths.tolist()[:4]}..., target {target.lengths.tolist()[:4]}...); "
            "a frame-wise loss needs an alignment (use ctc for unaligned label sequences, or subsample the target)"
        )
    return output.mask()


def _cross_entropy(
    output: Seq,
    target: Seq,
    where: str,
    *,
    label_smoothing: float = 0.0,
    focal_loss_factor: float = 0.0,
    use_fused: bool = True,  # RETURNN's choice of a TensorFlow kernel; the same values either way
) -> list[LossTerm]:
    mask = _frame_aligned(output, target, where)
    log_probs = torch.log_softmax(output.tensor.float(), dim=-1)[mask]  # [N, V]
    labels = target.tensor[:, : output.max_len][mask].long()  # [N]
    picked = log_probs.gather(1, labels[:, None])[:, 0]
    nll = -picked
    if label_smoothing > 0:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * log_probs.mean(dim=-1)
    if focal_loss_factor > 0:
        nll = nll * (1.0 - picked.detach().exp()).pow(focal_loss_factor)
    frames = float(mask.sum())
    wrong = (log_probs.detach().argmax(dim=-1) != labels).float()
    return [LossTerm("", nll, frames), LossTerm("_error", wrong, frames, as_error=True)]


def _ctc(
    output: Seq, target: Seq, where: str, *, blank_index: int | None = None, zero_infinity: bool = False
) -> list[LossTerm]:
    assert output.lengths is not None and target.lengths is not None
    vocab = output.tensor.shape[-1]
    blank = vocab - 1 if blank_index is None else blank_index
    log_probs = torch.log_softmax(output.tensor.float(), dim=-1)
    loss = F.ctc_loss(
        log_probs.transpose(0, 1),
        target.tensor.long(),
        output.lengths.long(),
        target.lengths.long(),
        blank=blank,
        reduction="none",
        zero_infinity=zero_infinity,
    )
    num_labels = float(target.lengths.sum())
    with torch.no_grad():
        hyp, hyp_lengths = greedy_ctc_labels(log_probs, output.lengths, blank=blank)
        errors = edit_distance(hyp, hyp_lengths, target.tensor.long().cpu(), target.lengths.long().cpu())
    return [LossTerm("", loss, num_labels), LossTerm("_error", errors.float(), num_labels, as_error=True)]


def _edit_distance(
    output: Seq,
    target: Seq,
    where: str,
    *,
    ctc_decode: bool = False,
    blank_index: int | None = None,
    label_map: dict[int, int] | None = None,
) -> list[LossTerm]:
    """RETURNN's `edit_distance` loss: an error measure only (no gradient), edit distance per target label.

    The hypothesis is the layer's labels: a sparse output as it is, scores [B, T, classes] by their best class per
    frame, with `ctc_decode` also repeats merged and blanks (`blank_index`, default the last class) removed.
    `label_map` maps labels of both sides first (e.g. TIMIT's 61 phones to 39)."""
    if target.lengths is None:
        raise ConfigError(f"{where}: loss 'edit_distance' needs a label-sequence target")
    with torch.no_grad():
        if output.tensor.dim() == 2:
            hyp, hyp_lengths = output.tensor.long().cpu(), output.lengths.long().cpu()
        elif ctc_decode:
            blank = output.tensor.shape[-1] - 1 if blank_index is None else blank_index
            hyp, hyp_lengths = greedy_ctc_labels(output.tensor, output.lengths, blank=blank)
        else:
            hyp, hyp_lengths = output.tensor.argmax(dim=-1).cpu(), output.lengths.long().cpu()
        ref = target.tensor.long().cpu()
        if label_map:
            top = max([int(t.max()) for t in (hyp, ref) if t.numel()] + [int(k) for k in label_map])
            table = torch.arange(top + 1)
            for source, mapped in label_map.items():
                table[int(source)] = int(mapped)
            hyp, ref = table[hyp], table[ref]
        errors = edit_distance(hyp, hyp_lengths, ref, target.lengths.long().cpu())
    return [LossTerm("", errors.float(), float(target.lengths.sum()), as_error=True)]


def _regression(loss: str, output: Seq, target: Seq, where: str) -> list[LossTerm]:
    mask = _frame_aligned(output, target, where) if output.lengths is not None else None
    if target.tensor.shape[2:] != output.tensor.shape[2:]:
        raise DataError(
            f"{where}: target features {tuple(target.tensor.shape[2:])} != output {tuple(output.tensor.shape[2:])}"
        )
    out = output.tensor.float()
    tgt = target.tensor[:, : output.max_len].float() if mask is not None else target.tensor.float()
    if loss == "mse":
        values = (out - tgt).pow(2)
    elif loss == "l1":
        values = (out - tgt).abs()
    else:
        values = F.binary_cross_entropy_with_logits(out, tgt, reduction="none")
    if mask is not None:
        values = values * mask.view(*mask.shape, *([1] * (values.dim() - 2)))
        return [LossTerm("", values, float(mask.sum()))]
    return [LossTerm("", values, float(values.shape[0]))]


def _custom(fn: Callable[..., Any], output: Seq, target: Seq | None, opts: dict[str, Any], where: str) -> LossTerm:
    """`fn(*, output, target, **loss_opts)` returns the loss values, or (values, inv_norm_factor)."""
    result = fn(output=output, target=target, **opts)
    values, norm = result if isinstance(result, tuple) else (result, None)
    if not isinstance(values, torch.Tensor):
        raise ConfigError(f"{where}: custom loss {fn.__qualname__} must return a tensor, got {type(values).__name__}")
    if norm is None:
        norm = float(output.lengths.sum()) if output.lengths is not None else float(values.numel())
    return LossTerm("", values, norm)


LOSSES.register(
    "ce",
    LossKind(frozenset({"label_smoothing", "focal_loss_factor", "use_fused"}), _cross_entropy, classification=True),
)
LOSSES.register(
    "ctc", LossKind(frozenset({"blank_index", "zero_infinity"}), _ctc, classification=True, extra_outputs=1)
)
for _name in ("mse", "l1", "bin_ce"):
    LOSSES.register(_name, LossKind(frozenset(), functools.partial(_regression, _name)))
LOSSES.register("as_is", LossKind(frozenset(), _as_is, needs_target=False))
LOSSES.register("edit_distance", LossKind(frozenset({"ctc_decode", "blank_index", "label_map"}), _edit_distance))


def greedy_ctc_labels(
    log_probs: torch.Tensor, lengths: torch.Tensor, *, blank: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best label per frame, repeats merged, blanks removed: padded labels [B, T] and their lengths (CPU)."""
    best = log_probs.argmax(dim=-1).cpu()
    valid = torch.arange(best.shape[1])[None, :] < lengths.long()[:, None]
    new = torch.ones_like(best, dtype=torch.bool)
    new[:, 1:] = best[:, 1:] != best[:, :-1]
    keep = new & (best != blank) & valid
    hyp_lengths = keep.sum(dim=1)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept labels first, in time order
    hyp = torch.gather(best, 1, order)[:, : int(hyp_lengths.max()) if hyp_lengths.numel() else 0]
    return hyp, hyp_lengths


def edit_distance(
    hyp: torch.Tensor, hyp_lengths: torch.Tensor, ref: torch.Tensor, ref_lengths: torch.Tensor
) -> torch.Tensor:
    """Levenshtein distance per sequence [B], batched over the batch and vectorized along the reference.

    Row i of the table only needs row i-1; the insertion chain within a row is a running minimum
    (D[i][j] = j + min_k<=j (tmp[k] - k)), so each row is a handful of tensor ops.
    """
    batch, ref_len = ref.shape[0], ref.shape[1]
    cols = torch.arange(ref_len + 1)[None, :].expand(batch, -1)
    row = cols.clone()
    result = ref_lengths.clone().long()  # hyp of length 0: all reference labels deleted
    for i in range(1, hyp.shape[1] + 1):
        substitute = row[:, :-1] + (hyp[:, i - 1 : i] != ref).long()
        delete = row[:, 1:] + 1
        tmp = torch.cat([row[:, :1] + 1, torch.minimum(substitute, delete)], dim=1)
        row = torch.cummin(tmp - cols, dim=1).values + cols
        done = hyp_lengths == i
        if bool(done.any()):
            result = torch.where(done, row.gather(1, ref_lengths.long()[:, None])[:, 0], result)
    return result
