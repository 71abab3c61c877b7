"""Frame alignments turned into RNN-T lattice paths: hand-made example, validity, CTC round trip."""

from __future__ import annotations

import torch

from seqtrain.hmm.ctc_align import ctc_forced_align
from seqtrain.nn.rnnt_path import path_cross_entropy, rnnt_path_from_frame_labels

BLANK = 0


def test_hand_made_path() -> None:
    """Frames a a _ b b a: labels start at frames 0, 3 and 5; each frame ends with a blank."""
    path = rnnt_path_from_frame_labels(torch.tensor([[1, 1, 0, 2, 2, 1]]), torch.tensor([6]), blank=BLANK)
    assert path.labels.tolist() == [[1, 2, 1]]
    assert path.label_lengths.tolist() == [3]
    assert path.step_lengths.tolist() == [9]
    assert path.frame_index.tolist() == [[0, 0, 1, 2, 3, 3, 4, 5, 5]]
    assert path.label_position.tolist() == [[0, 1, 1, 1, 1, 2, 2, 2, 3]]
    assert path.targets.tolist() == [[1, 0, 0, 0, 2, 0, 0, 1, 0]]


def test_blank_separates_repeated_labels_and_padding_is_masked() -> None:
    frame_labels = torch.tensor([[1, 0, 1, 1], [2, 2, 9, 9]])  # second sequence: 2 frames, padding 9
    path = rnnt_path_from_frame_labels(frame_labels, torch.tensor([4, 2]), blank=BLANK)
    assert path.labels.tolist() == [[1, 1], [2, BLANK]]
    assert path.label_lengths.tolist() == [2, 1]
    assert path.step_lengths.tolist() == [6, 3]
    assert path.targets[1, :3].tolist() == [2, 0, 0]
    assert path.step_mask().tolist() == [[True] * 6, [True] * 3 + [False] * 3]
    single = rnnt_path_from_frame_labels(frame_labels[1:, :2], torch.tensor([2]), blank=BLANK)
    assert path.frame_index[1, :3].tolist() == single.frame_index[0].tolist()
    assert path.label_position[1, :3].tolist() == single.label_position[0].tolist()


def test_ctc_alignment_gives_a_valid_lattice_path_for_its_transcript() -> None:
    generator = torch.Generator().manual_seed(0)
    log_probs = torch.randn(3, 12, 4, generator=generator).log_softmax(-1)
    transcripts = [[1, 1, 2], [3, 2, 3, 1], [2]]
    labels = torch.zeros(3, 4, dtype=torch.long)
    for b, seq in enumerate(transcripts):
        labels[b, : len(seq)] = torch.tensor(seq)
    frame_lengths = torch.tensor([12, 9, 5])
    alignment = ctc_forced_align(log_probs, frame_lengths, labels, torch.tensor([3, 4, 1]), blank=BLANK)
    path = rnnt_path_from_frame_labels(alignment.frame_classes, frame_lengths, blank=BLANK)
    for b, seq in enumerate(transcripts):
        assert path.labels[b, : len(seq)].tolist() == seq
        steps = int(path.step_lengths[b])
        assert steps == int(frame_lengths[b]) + len(seq)
        t = u = 0  # walk the lattice: a label moves up in u, a blank on in t; the last step is the final blank
        for k in range(steps):
            assert (int(path.frame_index[b, k]), int(path.label_position[b, k])) == (t, u)
            if int(path.targets[b, k]) == BLANK:
                t += 1
            else:
                assert int(path.targets[b, k]) == seq[u]
                u += 1
        assert (t, u) == (int(frame_lengths[b]), len(seq))


def test_path_cross_entropy_is_masked_negative_log_softmax() -> None:
    path = rnnt_path_from_frame_labels(torch.tensor([[1, 0], [2, 0]]), torch.tensor([2, 1]), blank=BLANK)
    logits = torch.randn(2, 3, 3)
    ce = path_cross_entropy(logits, path)
    expected = -logits.log_softmax(-1).gather(2, path.targets[..., None]).squeeze(2)
    assert torch.allclose(ce[0], expected[0])
    assert torch.allclose(ce[1, :2], expected[1, :2]) and float(ce[1, 2]) == 0.0
