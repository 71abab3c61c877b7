"""`AudioDataset`: utterances listed in a JSON-lines manifest, features computed on the fly.

    train = {"class": "AudioDataset", "manifest": "data/train.jsonl",
             "vocab": {"class": "CharacterVocab", "labels": " abcdefghijklmnopqrstuvwxyz"},
             "features": {"type": "fbank", "num_mel_bins": 80}}

One JSON object per line: `path` (wav/flac/..., relative to the manifest's folder or `audio_root`),
`text` (the transcript), optionally `id` (the sequence tag; else the line number) and `num_samples`
(else read from the file header once, at start). Data keys: "data" (features [T, dim]) and, with a
vocabulary, "classes" (the transcript's labels). `augment`: audio transforms applied before the features
are computed, new draws every epoch (seqtrain/data/augment; docs/data.md "Audio augmentation").
Lengths come from the sample counts and the transcripts, so ordering and batching never decode audio; a
transcript with a symbol outside the vocabulary and a missing file fail at start, an unreadable file when
it is loaded, each naming the manifest line and the file.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from seqtrain.data.augment.pipeline import Augmentation, EpochAugmentation
from seqtrain.data.dataset import DATASETS, Dataset, DataSpec
from seqtrain.data.features import FeatureOptions, compute_features
from seqtrain.data.manifest_row import manifest_row
from seqtrain.data.vocab import VocabError, Vocabulary, make_vocab
from seqtrain.errors import DataError


class AudioDataset(Dataset):
    def __init__(
        self,
        manifest: str,
        *,
        vocab: dict[str, Any] | Vocabulary | None = None,
        features: dict[str, Any] | FeatureOptions | None = None,
        sample_rate: int = 16000,
        audio_root: str | None = None,
        text_key: str = "text",
        target_key: str = "classes",
        augment: Any = None,
        name: str = "audio",
    ) -> None:
        self.name = name
        self.manifest = Path(manifest)
        where = f"dataset {name!r}"
        self.features = FeatureOptions.parse(features, where=where)
        self.vocab = make_vocab(vocab, where=where) if vocab is not None else None
        self.sample_rate = sample_rate
        self.target_key = target_key
        root = Path(audio_root) if audio_root else self.manifest.parent
        rows = self._read_manifest()
        self.paths = [self._resolve(root, row, line) for line, row in rows]
        self.lines = [line for line, _ in rows]
        self.tags = [str(row.get("id", f"{self.manifest.name}:{line}")) for line, row in rows]
        self.num_samples = np.array([self._num_samples(row, p, ln) for (ln, row), p in zip(rows, self.paths)])
        self._lengths = {"data": np.asarray(self.features.num_frames(self.num_samples, sample_rate), dtype=np.int64)}
        self.targets: list[np.ndarray] = []
        if self.vocab is not None:
            self.targets = [self._encode(row, line) for line, row in rows]
            self._lengths[target_key] = np.array([len(t) for t in self.targets], dtype=np.int64)
        self.augmentation = Augmentation(augment, sample_rate=sample_rate, where=where) if augment else None
        self.epoch_augmentation: EpochAugmentation | None = None  # set in the object of one epoch (for_epoch)
        self._epoch_view: AudioDataset | None = None
        self._base = self  # the object built from the config; an epoch's copy points back to it

    def _where(self, line: int) -> str:
        return f"manifest {self.manifest}, line {line}"

    def _read_manifest(self) -> list[tuple[int, dict[str, Any]]]:
        if not self.manifest.is_file():
            raise DataError(f"dataset {self.name!r}: manifest {self.manifest} does not exist")
        rows = []
        for line, text in enumerate(self.manifest.read_text(encoding="utf8").splitlines(), start=1):
            if not text.strip():
                continue
            rows.append((line, manifest_row(text, "path", self._where(line), hint=" (the audio file)")))
        if not rows:
            raise DataError(f"dataset {self.name!r}: manifest {self.manifest} lists no utterances")
        return rows

    def _resolve(self, root: Path, row: dict[str, Any], line: int) -> Path:
        path = Path(row["path"])
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DataError(f"{self._where(line)}: audio file {path} does not exist")
        return path

    def _num_samples(self, row: dict[str, Any], path: Path, line: int) -> int:
        if isinstance(row.get("num_samples"), int):
            return int(row["num_samples"])
        import soundfile

        try:
            info = soundfile.info(str(path))
        except Exception as e:
            raise DataError(f"{self._where(line)}: cannot read audio file {path} ({e})") from e
        self._check_rate(info.samplerate, path, line)
        return int(info.frames)

    def _check_rate(self, rate: int, path: Path, line: int) -> None:
        if rate != self.sample_rate:
            raise DataError(
                f"{self._where(line)}: {path} has {rate} Hz, the dataset expects sample_rate={self.sample_rate}; "
                f"resample it (e.g. sox in.wav -r {self.sample_rate} out.wav) or set sample_rate"
            )

    def _encode(self, row: dict[str, Any], line: int) -> np.ndarray:
        assert self.vocab is not None
        text = row.get("text")
        if not isinstance(text, str):
            raise DataError(f'{self._where(line)}: needs a "text" transcript (the vocabulary makes targets of it)')
        try:
            return np.asarray(self.vocab.encode(text), dtype=np.int32)
        except VocabError as e:
            raise VocabError(f"{self._where(line)} (tag {row.get('id')!r}), text {text!r}: {e}") from None

    @property
    def num_seqs(self) -> int:
        return len(self.paths)

    def data_specs(self) -> dict[str, DataSpec]:
        dim = self.features.dim
        specs = {"data": DataSpec(dim=dim, dtype=self.features.dtype, feature_shape=(dim,))}
        if self.vocab is not None:
            specs[self.target_key] = DataSpec(
                dim=self.vocab.num_labels, dtype="int32", sparse=True, vocab=tuple(self.vocab.labels)
            )
        return specs

    def seq_lengths(self) -> dict[str, np.ndarray]:
        return dict(self._lengths)

    def vocabulary(self, key: str) -> Vocabulary | None:
        return self.vocab if key == self.target_key else None

    def seq_tag(self, idx: int) -> str:
        return self.tags[idx]

    def describe_seq(self, idx: int) -> str:
        return f"sequence {self.tags[idx]!r} ({self._where(self.lines[idx])}, audio file {self.paths[idx]})"

    def load_audio(self, idx: int) -> np.ndarray:
        """Samples of utterance `idx` as float32 in [-1, 1], channels averaged."""
        import soundfile

        path = self.paths[idx]
        try:
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except Exception as e:
            raise DataError(f"{self.describe_seq(idx)}: cannot decode the audio ({e})") from e
        self._check_rate(rate, path, self.lines[idx])
        return samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]

    def for_epoch(self, epoch: int, *, random_seed: int = 0) -> Dataset:
        """With `augment`: a copy that augments as epoch `epoch` does, with the lengths after speed/tempo."""
        base = self._base
        if base.augmentation is None:
            return base
        view = base._epoch_view
        kept = view.epoch_augmentation if view is not None else None
        if view is not None and kept is not None and (kept.epoch, kept.random_seed) == (epoch, random_seed):
            return view
        augmentation = base.augmentation.at(epoch, random_seed=random_seed)
        if augmentation is None:
            return base
        view = copy.copy(base)
        view.epoch_augmentation, view._epoch_view = augmentation, None
        if augmentation.changes_length:
            samples = [
                augmentation.output_length(int(n), augmentation.draw(i, int(n))) for i, n in enumerate(base.num_samples)
            ]
            frames = self.features.num_frames(np.asarray(samples, dtype=np.int64), self.sample_rate)
            view._lengths = {**base._lengths, "data": np.asarray(frames, dtype=np.int64)}
        base._epoch_view = view  # one kept: epochs come one after another
        return view

    def augmented_audio(self, idx: int) -> np.ndarray:
        """The samples of utterance `idx` as this epoch's augmentation makes them (unchanged without one)."""
        samples = self.load_audio(idx)
        augmentation = self.epoch_augmentation
        if augmentation is None:
            return samples
        drawn = augmentation.draw(idx, len(samples))
        out = augmentation.apply(samples, drawn, self.sample_rate)
        if len(out) != augmentation.output_length(len(samples), drawn):
            raise DataError(f"{self.describe_seq(idx)}: augmentation gave {len(out)} samples, planned otherwise")
        return out

    def get_seq(self, idx: int) -> dict[str, np.ndarray]:
        feats = compute_features(self.augmented_audio(idx), self.sample_rate, self.features)
        out = {"data": feats}
        if self.vocab is not None:
            out[self.target_key] = self.targets[idx]
        return out


DATASETS.register("AudioDataset", AudioDataset)
