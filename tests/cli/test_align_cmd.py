"""`seqtrain align` end to end: a tiny trained CTC model, real HDF files, the written alignment read back."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from seqtrain.config import load_config
from seqtrain.data.factory import make_dataset
from seqtrain.data.hdf import HDFDataset
from seqtrain.hmm.ctc_align import ctc_forced_align
from seqtrain.hmm.linear import linear_alignment
from seqtrain.hmm.topology import HmmTopology
from seqtrain.model.trained_model import load_trained_model
from tests.corpus import VOCAB, write_config
from tests.train.helpers import run_cli

BLANK = len(VOCAB)


@pytest.fixture(scope="module")
def trained(tiny_corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("align")
    config = write_config(directory, tiny_corpus, num_epochs=2)
    assert run_cli("train", config) == 0
    return config


def read_alignment(path: Path, key: str = "classes") -> tuple[HDFDataset, dict[str, np.ndarray]]:
    dataset = HDFDataset([str(path)])
    return dataset, {dataset.seq_tag(i): np.asarray(dataset.get_seq(i)[key]) for i in range(dataset.num_seqs)}


def collapse(frames: np.ndarray) -> list[int]:
    keep = np.ones(len(frames), dtype=bool)
    keep[1:] = frames[1:] != frames[:-1]
    return [int(x) for x in frames[keep] if x != BLANK]


def test_ctc_alignment_of_the_train_set(trained: Path, tiny_corpus: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "ali.hdf"
    assert run_cli("align", trained, "--epoch", "2", "--data", "train", "--output-hdf", output) == 0
    corpus = HDFDataset([str(tiny_corpus["train"])])
    written, alignments = read_alignment(output)
    # same tags in the dataset's order, one class per input frame (the model does not subsample)
    assert [written.seq_tag(i) for i in range(written.num_seqs)] == [corpus.seq_tag(i) for i in range(corpus.num_seqs)]
    spec = written.data_specs()["classes"]
    assert (spec.sparse, spec.dim, spec.dtype) == (True, BLANK + 1, "int32")
    assert spec.vocab == (*VOCAB, "<blank>")
    # every alignment reproduces its transcript, and equals aligning that sequence alone (no batch effects; checked
    # for every 5th sequence)
    model = load_trained_model(load_config(str(trained)), 2).model
    for i in range(corpus.num_seqs):
        seq = corpus.get_seq(i)
        frames = np.asarray(seq["data"])
        ali = alignments[corpus.seq_tag(i)]
        assert ali.shape == (frames.shape[0],)
        assert collapse(ali) == seq["classes"].tolist()
        if i % 5:
            continue
        with torch.no_grad():
            log_probs = model(torch.from_numpy(frames)[None]).log_softmax(-1)
        alone = ctc_forced_align(
            log_probs,
            torch.tensor([frames.shape[0]]),
            torch.from_numpy(seq["classes"])[None].long(),
            torch.tensor([len(seq["classes"])]),
            blank=BLANK,
        )
        assert alone.frame_classes[0].numpy().tolist() == ali.tolist()


def test_metadataset_pairs_the_alignment_with_the_features_by_tag(
    trained: Path, tiny_corpus: dict[str, Path], tmp_path: Path
) -> None:
    """What frame-wise CE training on the alignment reads: features from the corpus, classes from the alignment."""
    output = tmp_path / "ali.hdf"
    assert run_cli("align", trained, "--output-hdf", output) == 0
    _, alignments = read_alignment(output)
    spec = {
        "class": "MetaDataset",
        "datasets": {
            "feats": {"class": "HDFDataset", "files": [str(tiny_corpus["train"])]},
            "align": {"class": "HDFDataset", "files": [str(output)]},
        },
        "data_map": {"data": ("feats", "data"), "classes": ("align", "classes")},
    }
    meta = make_dataset(spec, name="train").dataset
    lengths = meta.seq_lengths()
    assert np.array_equal(lengths["data"], lengths["classes"])
    for i in (0, 31, 59):
        assert np.asarray(meta.get_seq(i)["classes"]).tolist() == alignments[meta.seq_tag(i)].tolist()


def test_linear_without_a_model_and_hmm_realignment_reports_changes(
    trained: Path, tiny_corpus: dict[str, Path], tmp_path: Path, capsys
) -> None:
    linear = tmp_path / "linear.hdf"
    assert run_cli("align", trained, "align_frame_subsampling=2", "--mode", "linear", "--output-hdf", linear) == 0
    assert "linear alignment (no model) of 60 seqs" in capsys.readouterr().out
    corpus = HDFDataset([str(tiny_corpus["train"])])
    _, alignments = read_alignment(linear)
    topology = HmmTopology(num_labels=len(VOCAB))  # silence = class 5, the same index as the CTC blank
    for i in (0, 17):
        seq = corpus.get_seq(i)
        expected = linear_alignment(
            torch.from_numpy(seq["classes"])[None].long(),
            torch.tensor([len(seq["classes"])]),
            torch.tensor([len(seq["data"]) // 2]),
            topology,
        )
        assert alignments[corpus.seq_tag(i)].tolist() == expected.frame_classes[0].tolist()

    # Viterbi with the model, through the same HMM (its 6 outputs read as 5 labels + silence), at the model's
    # frame rate: the lengths differ from the subsampled linear alignment, so compare against a CTC alignment.
    ctc = tmp_path / "ctc.hdf"
    hmm = tmp_path / "hmm.hdf"
    assert run_cli("align", trained, "--mode", "ctc", "--output-hdf", ctc) == 0
    assert run_cli("align", trained, "--mode", "hmm", "--output-hdf", hmm, "--compare-to", ctc) == 0
    out = capsys.readouterr().out
    _, ctc_ali = read_alignment(ctc)
    _, hmm_ali = read_alignment(hmm)
    changed = sum(int(np.count_nonzero(ctc_ali[t] != hmm_ali[t])) for t in ctc_ali)
    total = sum(len(a) for a in ctc_ali.values())
    assert f"frames changed label ({changed}/{total} frames, 60 seqs)" in out
    assert 0 < changed < total


def test_output_key_data_and_too_short_sequences(trained: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "ali.hdf"
    output.write_bytes(b"an earlier alignment")
    # 20x subsampling leaves 1-2 frames per sequence: too few for most transcripts
    args = ("align", trained, "align_frame_subsampling=20", "--mode", "linear", "--output-hdf", output)
    assert run_cli(*args) == 1
    err = capsys.readouterr().err
    assert "frames are too few for its" in err and "align_skip_infeasible=True" in err and "sequence 'train-" in err
    assert output.read_bytes() == b"an earlier alignment"  # nothing is written on failure
    assert run_cli(*args[:2], "align_skip_infeasible=True", "align_output_key='data'", *args[2:]) == 0
    out = capsys.readouterr().out
    written, alignments = read_alignment(output, key="data")
    assert written.data_specs()["data"].sparse
    skipped = int(re.search(r"(\d+) seqs left out", out).group(1))
    assert 0 < skipped < 60 and written.num_seqs == 60 - skipped
    assert all(len(a) <= 2 for a in alignments.values())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["align_output='probs'"], "align reads 'probs'"),
        (["align_states_per_label=2", "align_mode='hmm'"], "expects 11 (5 labels x 2 states + silence"),
        (["align_blank_index=0"], "expects 5 (5 labels, blank at index 0 among them"),
        (["align_target='data'"], "must be sparse labels"),
        (["align_word_separator='#'", "align_mode='hmm'"], "align_word_separator '#' is not a label"),
        (["align_transition_scores={'loops': -1.0}"], "unknown keys ['loops']"),
    ],
)
def test_config_mistakes_give_one_clear_error(
    overrides: list[str], message: str, trained: Path, tmp_path: Path, capsys
) -> None:
    assert run_cli("align", trained, *overrides, "--output-hdf", tmp_path / "ali.hdf") == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ali.hdf").exists()


def test_missing_checkpoint_or_comparison_file(trained: Path, tmp_path: Path, capsys) -> None:
    assert run_cli("align", trained, "--epoch", "7", "--output-hdf", tmp_path / "ali.hdf") == 1
    assert "model.007.pt does not exist (finished epochs: 1, 2)" in capsys.readouterr().err
    assert run_cli("align", trained, "--output-hdf", tmp_path / "ali.hdf", "--compare-to", tmp_path / "old.hdf") == 1
    assert "old.hdf: no such alignment file" in capsys.readouterr().err


def test_target_label_equal_to_the_blank_names_the_sequence(
    trained: Path, tiny_corpus: dict[str, Path], tmp_path: Path, capsys
) -> None:
    """A model whose blank sits inside the label range (index 0): a transcript using label 0 cannot be aligned."""
    extra = """
    def forward_step(*, model, batch, ctx):
        ctx.mark_as_output("log_probs", model(batch["data"])[..., 1:].log_softmax(-1), lengths=batch.lengths["data"])
    """
    config = write_config(trained.parent, tiny_corpus, name="blank_inside.py", num_epochs=2, extra=extra)
    assert run_cli("align", config, "align_blank_index=0", "--output-hdf", tmp_path / "ali.hdf") == 1
    err = capsys.readouterr().err
    assert "sequence 'train-" in err and "label 0 of 'classes' is the CTC blank (align_blank_index)" in err
