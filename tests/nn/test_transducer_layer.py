"""The `transducer` net-dict layer: one lattice path for CE on an alignment, the whole lattice for the full sum."""

from __future__ import annotations

import pytest
import torch

from seqtrain.errors import ConfigError, DataError
from seqtrain.nn.layers.transducer import TransducerLayer, rnnt_alignment_ce_loss, rnnt_full_sum_loss
from seqtrain.nn.rnnt_loss import rnnt_loss
from seqtrain.nn.rnnt_path import rnnt_path_from_frame_labels
from seqtrain.nn.seq import Seq, SeqInfo

BLANK = 4
# CTC-style frame labels (blank = 4): "a b b" in 6 frames and "c" in 4 (the second b is separated by a blank)
FRAMES = torch.tensor([[0, 4, 1, 4, 1, 1], [4, 2, 2, 4, 0, 0]])
FRAME_LENGTHS = torch.tensor([6, 4])
LABELS = torch.tensor([[0, 1, 1], [2, 0, 0]])
LABEL_LENGTHS = torch.tensor([3, 1])


def _layer(alignment: bool) -> TransducerLayer:
    torch.manual_seed(0)
    label_info = SeqInfo.classes(5 if alignment else 4)
    return TransducerLayer(
        [SeqInfo.dense(3), label_info], n_out=5, embed_dim=3, pred_dim=4, joint_dim=6, alignment=alignment
    )


def _encoder() -> Seq:
    return Seq(torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(1)), FRAME_LENGTHS)


def test_path_output_is_the_lattice_at_the_path_nodes() -> None:
    full, aligned = _layer(False), _layer(True)
    aligned.load_state_dict(full.state_dict())
    lattice = full([_encoder(), Seq(LABELS, LABEL_LENGTHS)], {})
    path_out = aligned([_encoder(), Seq(FRAMES, FRAME_LENGTHS)], {})
    path = rnnt_path_from_frame_labels(FRAMES, FRAME_LENGTHS, blank=BLANK)
    assert path_out.lengths.tolist() == [9, 5]  # frames + labels
    assert path.labels.tolist() == [[0, 1, 1], [2, 4, 4]]
    for b in range(2):
        for k in range(int(path.step_lengths[b])):
            node = lattice.tensor[b, path.frame_index[b, k], path.label_position[b, k]]
            assert torch.allclose(path_out.tensor[b, k], node, atol=1e-6)
    ce, steps = rnnt_alignment_ce_loss(output=path_out, target=Seq(FRAMES, FRAME_LENGTHS))
    log_probs = lattice.tensor.detach().log_softmax(-1)
    by_hand = [
        -sum(
            float(log_probs[b, path.frame_index[b, k], path.label_position[b, k], path.targets[b, k]])
            for k in range(int(path.step_lengths[b]))
        )
        for b in range(2)
    ]
    assert steps == 14.0 and ce.sum(dim=1).tolist() == pytest.approx(by_hand, abs=1e-5)
    full_sum, labels = rnnt_full_sum_loss(output=lattice, target=Seq(LABELS, LABEL_LENGTHS))
    expected = rnnt_loss(lattice.tensor, LABELS, FRAME_LENGTHS, LABEL_LENGTHS, blank=-1, reduction="none")
    assert labels == 4.0 and torch.allclose(full_sum, expected)
    assert bool((ce.sum(dim=1) >= full_sum - 1e-5).all())  # one path is never more probable than all of them


def test_decoding_steps_match_training() -> None:
    """`predict` one label at a time (decoding) gives what `prediction_sequence` gives at once (training)."""
    layer = _layer(False)
    together = layer.prediction_sequence(LABELS)
    state = layer.initial_prediction_state(2)
    out, state = layer.predict(torch.full((2,), BLANK), state)
    steps = [out]
    for u in range(LABELS.shape[1]):
        out, state = layer.predict(LABELS[:, u], state)
        steps.append(out)
    assert torch.allclose(torch.stack(steps, dim=1), together, atol=1e-6)
    frames = _encoder().tensor[:, 2]
    assert torch.allclose(
        layer.joint(frames, steps[1]), layer([_encoder(), Seq(LABELS, LABEL_LENGTHS)], {}).tensor[:, 2, 1], atol=1e-6
    )


def test_mistakes() -> None:
    with pytest.raises(ConfigError, match="'from' must be \\[encoder layer, sparse labels"):
        TransducerLayer([SeqInfo.dense(3)], n_out=5)
    with pytest.raises(ConfigError, match="the labels have 7 classes, n_out is only 5"):
        TransducerLayer([SeqInfo.dense(3), SeqInfo.classes(7)], n_out=5)
    with pytest.raises(DataError, match="one label per encoder frame"):
        _layer(True)([_encoder(), Seq(FRAMES[:, :5], torch.tensor([5, 4]))], {})
