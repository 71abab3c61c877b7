"""AudioDataset: real wav/flac files, features on the fly, targets through a vocabulary, every error path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqtrain.data.audio import AudioDataset
from seqtrain.data.batching import BatchSpec
from seqtrain.data.factory import make_dataset
from seqtrain.data.features import FeatureOptions, compute_features
from seqtrain.data.loader import iterate_batches
from seqtrain.errors import DataError

VOCAB = {"class": "CharacterVocab", "labels": " abcdefghijklmnopqrstuvwxyz"}
SHARED = Path("/work/shared/data/tts_digits_sentences")


def _corpus(tmp_path: Path, rows: list[dict] | None = None) -> Path:
    rng = np.random.RandomState(0)
    (tmp_path / "wav").mkdir(exist_ok=True)
    default = []
    for i, (n, text, fmt) in enumerate([(3200, "one two", "wav"), (4321, "three", "flac"), (800, "a", "wav")]):
        samples = (rng.randn(n) * 2000).astype("int16")
        path = tmp_path / "wav" / f"u{i}.{fmt}"
        soundfile.write(path, samples, 16000, subtype="PCM_16")
        row = {"id": f"utt{i}", "path": f"wav/u{i}.{fmt}", "text": text}
        if i == 0:
            row["num_samples"] = n  # the others: read from the file header
        default.append(row)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in (rows if rows is not None else default)))
    return manifest


def test_features_targets_and_lengths_without_decoding(tmp_path: Path) -> None:
    dataset = AudioDataset(str(_corpus(tmp_path)), vocab=VOCAB, features={"num_mel_bins": 40})
    assert dataset.num_seqs == 3 and [dataset.seq_tag(i) for i in range(3)] == ["utt0", "utt1", "utt2"]
    assert dataset.seq_lengths()["data"].tolist() == [20, 27, 5]  # (samples + 80) // 160
    assert dataset.seq_lengths()["classes"].tolist() == [7, 5, 1]
    specs = dataset.data_specs()
    assert (specs["data"].dim, specs["classes"].dim, specs["classes"].vocab[1]) == (40, 27, "a")
    for i in range(3):
        seq = dataset.get_seq(i)
        raw, _ = soundfile.read(dataset.paths[i], dtype="int16")
        assert np.array_equal(seq["data"], compute_features(raw, 16000, FeatureOptions(num_mel_bins=40)))
        assert seq["data"].shape[0] == dataset.seq_lengths()["data"][i]
    assert dataset.get_seq(1)["classes"].tolist() == [20, 8, 18, 5, 5]  # "three"


def test_in_worker_processes(tmp_path: Path) -> None:
    dataset = AudioDataset(str(_corpus(tmp_path)), vocab=VOCAB)
    batches = list(iterate_batches(dataset, [BatchSpec((0, 1, 2))], dtypes={"data": "float32", "classes": "int32"},
                                   num_workers=1, random_seed=1, epoch=1))  # fmt: skip
    assert batches[0]["data"].shape == (3, 27, 80) and batches[0].lengths["classes"].tolist() == [7, 5, 1]


def test_errors_name_the_manifest_line(tmp_path: Path) -> None:
    manifest = _corpus(tmp_path)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    cases = [
        ([rows[0], {**rows[1], "text": "Three!"}], r"bad\.jsonl, line 2 \(tag 'utt1'\), text 'Three!': symbol 'T'"),
        ([rows[0], {**rows[1], "path": "wav/gone.wav"}], r"line 2: audio file .*gone\.wav does not exist"),
        ([rows[0], {"id": "x"}], r"line 2: needs a \"path\""),
        ([rows[0], {**rows[1], "text": None}], r"line 2: needs a \"text\" transcript"),
    ]
    for bad_rows, message in cases:
        (tmp_path / "bad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad_rows))
        with pytest.raises(DataError, match=message):
            AudioDataset(str(tmp_path / "bad.jsonl"), vocab=VOCAB)
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(DataError, match="line 1: not a JSON object"):
        AudioDataset(str(tmp_path / "bad.jsonl"))
    with pytest.raises(DataError, match=r"manifest .*none\.jsonl does not exist"):
        AudioDataset(str(tmp_path / "none.jsonl"))
    with pytest.raises(DataError, match=r"line 2: .*u1\.flac has 16000 Hz, the dataset expects sample_rate=8000"):
        AudioDataset(str(manifest), sample_rate=8000, vocab=VOCAB)  # header read at start (no num_samples)


def test_unreadable_audio(tmp_path: Path) -> None:
    manifest = _corpus(tmp_path)
    (tmp_path / "wav" / "u2.wav").write_bytes(b"RIFF broken")
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    rows[2]["num_samples"] = 800  # so the header is first read when the sequence is loaded
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset = AudioDataset(str(manifest), vocab=VOCAB)
    with pytest.raises(
        DataError, match=r"sequence 'utt2' \(manifest .*m\.jsonl, line 3, audio file .*u2\.wav\): cannot"
    ):
        dataset.get_seq(2)
    rows[2].pop("num_samples")
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"line 3: cannot read audio file .*u2\.wav"):
        AudioDataset(str(manifest), vocab=VOCAB)


@pytest.mark.skipif(not (SHARED / "dev.jsonl").is_file(), reason="the shared tts_digits corpus is not on this machine")
def test_recomputes_the_shared_corpus_features_exactly() -> None:
    from seqtrain.data.hdf import HDFDataset

    audio = AudioDataset(str(SHARED / "dev.jsonl"), vocab=VOCAB, features={"dtype": "float16"})
    stored = HDFDataset(str(SHARED / "dev.hdf"))
    assert np.array_equal(audio.seq_lengths()["data"], stored.seq_lengths()["data"])
    for i in (0, 299, 599):
        assert audio.seq_tag(i) == stored.seq_tag(i)
        ours, theirs = audio.get_seq(i), stored.get_seq(i)
        assert np.array_equal(ours["data"], theirs["data"]) and np.array_equal(ours["classes"], theirs["classes"])


AUGMENT = [
    {"type": "speed", "factor": [0.9, 1.0, 1.1]},
    {"type": "pitch", "semitones": (-1.0, 1.0), "prob": 0.5},
    {"type": "formant_bandwidth", "widen_hz": (0.0, 300.0), "prob": 0.5},
    {"type": "breathiness", "noise_ratio": (0.0, 0.5), "prob": 0.5},
    {"type": "noise", "snr_db": (5, 20), "prob": 0.7},
    {"type": "gain", "db": (-6, 6)},
]


def _augmented_corpus(tmp_path: Path, num: int = 12) -> Path:
    rng = np.random.RandomState(1)
    (tmp_path / "wav").mkdir(exist_ok=True)
    rows = []
    for i in range(num):
        n = int(rng.randint(2000, 9000))
        soundfile.write(tmp_path / "wav" / f"u{i}.flac", (rng.randn(n) * 3000).astype("int16"), 16000)
        rows.append({"id": f"utt{i}", "path": f"wav/u{i}.flac", "text": "ab"[: 1 + i % 2], "num_samples": n})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def test_augmented_epochs_plan_exactly_the_frames_they_load(tmp_path: Path) -> None:
    plain = AudioDataset(str(_augmented_corpus(tmp_path)), vocab=VOCAB)
    dataset = AudioDataset(str(tmp_path / "m.jsonl"), vocab=VOCAB, augment=AUGMENT)
    assert dataset.for_epoch(1, random_seed=5) is dataset.for_epoch(1, random_seed=5)  # kept for the epoch
    epochs = [dataset.for_epoch(e, random_seed=5) for e in (1, 2)]
    for view in epochs:
        for i in range(view.num_seqs):
            assert view.get_seq(i)["data"].shape[0] == view.seq_lengths()["data"][i]
        assert view.seq_lengths()["classes"].tolist() == plain.seq_lengths()["classes"].tolist()
    assert not np.array_equal(epochs[0].seq_lengths()["data"], epochs[1].seq_lengths()["data"])  # new draws
    assert not np.array_equal(epochs[0].get_seq(0)["data"], plain.get_seq(0)["data"])
    assert dataset.for_epoch(2, random_seed=5).for_epoch(1, random_seed=5).get_seq(3)["data"].shape == (
        epochs[0].get_seq(3)["data"].shape
    )


def test_speed_1_1_gives_1_over_1_1_of_the_frames(tmp_path: Path) -> None:
    plain = AudioDataset(str(_augmented_corpus(tmp_path)), vocab=VOCAB)
    fast = AudioDataset(str(tmp_path / "m.jsonl"), vocab=VOCAB, augment=[{"type": "speed", "factor": 1.1}])
    view = fast.for_epoch(1, random_seed=0)
    expected = [(round(int(n) / 1.1) + 80) // 160 for n in plain.num_samples]
    assert view.seq_lengths()["data"].tolist() == expected
    assert [view.get_seq(i)["data"].shape[0] for i in range(view.num_seqs)] == expected
    ratio = view.seq_lengths()["data"].sum() / plain.seq_lengths()["data"].sum()
    assert ratio == pytest.approx(1 / 1.1, abs=0.01)


def test_augmented_batches_do_not_depend_on_workers_or_resume(tmp_path: Path) -> None:
    dataset = AudioDataset(str(_augmented_corpus(tmp_path)), vocab=VOCAB, augment=AUGMENT)
    batches = [BatchSpec((0, 1, 2)), BatchSpec((3, 4)), BatchSpec((5, 6, 7, 8)), BatchSpec((9, 10, 11))]
    dtypes = {"data": "float32", "classes": "int32"}

    def load(workers: int, start: int = 0) -> list:
        return list(iterate_batches(dataset, batches, dtypes=dtypes, num_workers=workers, random_seed=3, epoch=2,
                                    start=start))  # fmt: skip

    reference = load(0)
    for result in (load(1), load(2), [None, None, *load(2, start=2)]):
        for got, want in zip(result, reference):
            if got is not None:
                assert torch.equal(got["data"], want["data"]) and torch.equal(got.lengths["data"], want.lengths["data"])


def test_seq_list_subsets_pass_the_epoch_on(tmp_path: Path) -> None:
    _augmented_corpus(tmp_path)
    (tmp_path / "list.txt").write_text("utt3\nutt1\n")
    spec = {"class": "AudioDataset", "manifest": str(tmp_path / "m.jsonl"), "vocab": VOCAB, "augment": AUGMENT}
    subset = make_dataset({**spec, "seq_list_file": str(tmp_path / "list.txt")}, name="train").dataset
    whole = make_dataset(spec, name="train").dataset.for_epoch(4, random_seed=1)
    view = subset.for_epoch(4, random_seed=1)
    assert np.array_equal(view.get_seq(0)["data"], whole.get_seq(3)["data"])  # seeded by the corpus' index
    assert view.seq_lengths()["data"].tolist() == whole.seq_lengths()["data"][[3, 1]].tolist()
