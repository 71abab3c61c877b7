"""Audio files an augmentation mixes in (noise recordings, room impulse responses): listed, checked once, read
on demand.

Listed by a manifest (JSON lines with a "path", or plain lines of paths; relative paths resolve against the
manifest's folder) or a list of paths in the config (relative to the working directory). Every file is opened
once when the dataset is built, so a missing or unreadable file fails before training, naming the file and
the manifest line; a file at another sample rate is resampled (soxr) when read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqtrain.data.augment.transform import AugmentContext
from seqtrain.data.manifest_row import manifest_row
from seqtrain.errors import ConfigError, DataError


@dataclass(frozen=True)
class AudioFile:
    path: str
    num_samples: int  # at the file's own rate
    sample_rate: int

    def duration_at(self, sample_rate: int) -> int:
        """Its length in samples once resampled to `sample_rate`."""
        return max(1, round(self.num_samples * sample_rate / self.sample_rate))


def list_audio_files(options: dict[str, Any], ctx: AugmentContext, *, what: str) -> tuple[AudioFile, ...]:
    """The files of option "manifest" or "files" (exactly one of them), each checked."""
    if ("manifest" in options) == ("files" in options):
        raise ConfigError(f"{ctx.where}: give the {what} as 'manifest' (a file listing them) or 'files' (a list)")
    if "manifest" in options:
        manifest = Path(options["manifest"])
        entries = _read_manifest(manifest, what=what, where=ctx.where)
    else:
        files = options["files"]
        if not isinstance(files, (list, tuple)) or not files or not all(isinstance(f, str) for f in files):
            raise ConfigError(f"{ctx.where}: 'files' must be a non-empty list of {what} paths, got {files!r}")
        entries = [(Path(f), f"{ctx.where}, files[{i}]") for i, f in enumerate(files)]
    return tuple(_check_file(path, origin, what=what) for path, origin in entries)


def _read_manifest(manifest: Path, *, what: str, where: str) -> list[tuple[Path, str]]:
    if not manifest.is_file():
        raise DataError(f"{where}: the {what} manifest {manifest} does not exist")
    entries = []
    for line, text in enumerate(manifest.read_text(encoding="utf8").splitlines(), start=1):
        text = text.strip()
        if not text:
            continue
        if text.startswith("{"):
            path = manifest_row(text, "path", f"{what} manifest {manifest}, line {line}")["path"]
        else:
            path = text
        resolved = Path(path) if Path(path).is_absolute() else manifest.parent / path
        entries.append((resolved, f"{what} manifest {manifest}, line {line}"))
    if not entries:
        raise DataError(f"{where}: the {what} manifest {manifest} lists no files")
    return entries


def _check_file(path: Path, origin: str, *, what: str) -> AudioFile:
    import soundfile

    if not path.is_file():
        raise DataError(f"{origin}: {what} file {path} does not exist")
    try:
        info = soundfile.info(str(path))
    except Exception as e:
        raise DataError(f"{origin}: cannot read {what} file {path} as audio ({e}); convert it to WAV or FLAC") from e
    if info.frames <= 0:
        raise DataError(f"{origin}: {what} file {path} has no samples")
    return AudioFile(str(path), int(info.frames), int(info.samplerate))


def read_segment(file: AudioFile, start: int, length: int, sample_rate: int) -> np.ndarray:
    """`length` samples at `sample_rate` from position `start` (at that rate) on, looping a shorter file."""
    whole = read_whole(file, sample_rate)
    if len(whole) >= start + length:
        return whole[start : start + length]
    reps = -(-(start + length) // len(whole))
    return np.tile(whole, reps)[start : start + length]


@functools.lru_cache(maxsize=64)
def read_whole(file: AudioFile, sample_rate: int) -> np.ndarray:
    """The whole file as float32 mono at `sample_rate` (cached per process: noise and RIR sets repeat)."""
    import soundfile

    try:
        samples, rate = soundfile.read(file.path, dtype="float32", always_2d=True)
    except Exception as e:
        raise DataError(f"cannot decode audio file {file.path} ({e})") from e
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)
