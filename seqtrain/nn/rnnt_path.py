"""From a frame-level alignment (e.g. CTC's) to one path through the RNN-T lattice, for frame-wise CE training.

A transducer trained "frame-wise with CE on an alignment" scores one fixed path through its T x (U+1)
lattice instead of summing over all of them (`seqtrain.nn.rnnt_loss`). A CTC alignment says which
label starts at which frame; in the RNN-T topology a frame first emits the labels that start there
(moving up in u) and then a blank (moving on in t). So frame t with a new label l becomes the two
steps (t, u) -> l and (t, u+1) -> blank, every other frame the single step (t, u) -> blank; a
sequence of T frames and U labels has T + U steps, ending with the blank at (T-1, U) as the loss's
paths do. The training step evaluates the joint only at these T + U nodes (not all T x (U+1)), which
is what makes CE training on an alignment cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RnntPath:
    """One lattice path per sequence, padded: step k visits node (frame_index, label_position) and emits `targets`.

    labels [B, U] (blank-padded) with label_lengths [B]: the label sequence the path spells, i.e. what
    the prediction net reads; step_lengths [B] = frames + labels.
    """

    labels: torch.Tensor
    label_lengths: torch.Tensor
    frame_index: torch.Tensor
    label_position: torch.Tensor
    targets: torch.Tensor
    step_lengths: torch.Tensor

    def step_mask(self) -> torch.Tensor:
        """[B, S] True on the real steps."""
        steps = torch.arange(self.targets.shape[1], device=self.targets.device)
        return steps[None, :] < self.step_lengths[:, None]


def rnnt_path_from_frame_labels(frame_labels: torch.Tensor, frame_lengths: torch.Tensor, *, blank: int) -> RnntPath:
    """`frame_labels` [B, T]: the label (or blank) of each frame, as `seqtrain align` writes for CTC.

    A label is emitted at the first frame of each run of equal non-blank labels (CTC's rule: repeats
    merge unless a blank separates them). Vectorized over batch and frames.
    """
    batch, max_frames = frame_labels.shape
    device = frame_labels.device
    labels_in = frame_labels.long()
    frames = torch.arange(max_frames, device=device)[None, :]
    valid = frames < frame_lengths.to(device)[:, None]
    starts_run = torch.ones_like(valid)
    starts_run[:, 1:] = labels_in[:, 1:] != labels_in[:, :-1]
    emit = valid & (labels_in != blank) & starts_run
    steps_here = valid.long() + emit.long()
    first_step = torch.cumsum(steps_here, dim=1) - steps_here
    labels_before = torch.cumsum(emit.long(), dim=1) - emit.long()
    label_lengths = emit.sum(dim=1)
    step_lengths = steps_here.sum(dim=1)
    num_steps = int(step_lengths.max()) if batch else 0
    frame_index = torch.zeros((batch, num_steps), dtype=torch.long, device=device)
    label_position = torch.zeros_like(frame_index)
    targets = torch.full_like(frame_index, blank)
    labels = torch.full((batch, int(label_lengths.max()) if batch else 0), blank, dtype=torch.long, device=device)
    b, t = torch.nonzero(emit, as_tuple=True)
    frame_index[b, first_step[b, t]] = t
    label_position[b, first_step[b, t]] = labels_before[b, t]
    targets[b, first_step[b, t]] = labels_in[b, t]
    labels[b, labels_before[b, t]] = labels_in[b, t]
    b, t = torch.nonzero(valid, as_tuple=True)
    blank_step = first_step[b, t] + emit[b, t].long()
    frame_index[b, blank_step] = t
    label_position[b, blank_step] = labels_before[b, t] + emit[b, t].long()
    return RnntPath(labels, label_lengths, frame_index, label_position, targets, step_lengths)


def path_cross_entropy(logits: torch.Tensor, path: RnntPath) -> torch.Tensor:
    """[B, S] CE of the joint's outputs at the path's nodes (`logits` [B, S, V]); 0 on padded steps.

    Sum it and normalize by `path.step_lengths.sum()` (per step) or by the number of frames.
    """
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), path.targets, reduction="none")
    return ce * path.step_mask()
