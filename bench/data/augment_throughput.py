"""Cost of on-the-fly audio augmentation against computing the features alone, per transform, one core.

    python -m bench.data.augment_throughput [--utterances 150] [--audio-dir DIR]

Reads the dev FLACs of the tts_digits corpus (data/tts_digits/audio/dev, or the shared copy; synthetic
speech-like noise when neither exists), then times, on the same utterances in the same run: loading +
fbank alone (the baseline), each transform followed by fbank, and the robust recipe's whole chain. Prints
one JSON line with real-time factors (seconds of audio per second of one core) and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import runpy
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from seqtrain.data.augment.pipeline import Augmentation
from seqtrain.data.features import FeatureOptions, compute_features

RATE = 16000
CANDIDATES = (Path("data/tts_digits/audio/dev"), Path("../shared/data/tts_digits_sentences/audio/dev"))
SINGLE = {
    "speed": {"type": "speed", "factor": 1.1},
    "tempo": {"type": "tempo", "factor": 1.1},
    "pitch": {"type": "pitch", "semitones": 2.0},
    "reverb": {"type": "reverb", "rt60_s": 0.4},
    "noise_pink": {"type": "noise", "snr_db": 10.0, "kinds": ["pink"]},
    "eq": {"type": "eq", "gain_db": (-6.0, 6.0)},
    "band_limit": {"type": "band_limit", "low_hz": 300.0, "high_hz": 3400.0},
    "gain": {"type": "gain", "db": 3.0},
    "formant_bandwidth": {"type": "formant_bandwidth", "widen_hz": 200.0},
    "breathiness": {"type": "breathiness", "noise_ratio": 0.3},
    "vocoder": {"type": "vocoder", "f0_hz": 120.0},
    "dynamics": {"type": "dynamics", "ratio": 1.4},
}


def utterances(audio_dir: Path | None, count: int) -> list[np.ndarray]:
    found = audio_dir or next((d for d in CANDIDATES if d.is_dir()), None)
    if found is None:
        rng = np.random.default_rng(0)
        return [(rng.standard_normal(int(rng.integers(16000, 48000))) * 0.05).astype(np.float32) for _ in range(count)]
    return [soundfile.read(p, dtype="float32")[0] for p in sorted(found.glob("*.flac"))[:count]]


def real_time_factor(audio: list[np.ndarray], specs: list[dict] | None) -> float:
    augmentation = Augmentation(specs, sample_rate=RATE, where="bench").at(2, random_seed=1) if specs else None
    options = FeatureOptions()
    start = time.process_time()
    for i, samples in enumerate(audio):
        if augmentation is not None:
            samples = augmentation.apply(samples, augmentation.draw(i, len(samples)), RATE)
        compute_features(samples, RATE, options)
    return sum(len(a) for a in audio) / RATE / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=150)
    parser.add_argument("--audio-dir", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    audio = utterances(args.audio_dir, args.utterances)
    recipe = runpy.run_path("recipes/tts_digits/robust_conformer.py", run_name="bench")["_AUGMENT"]
    real_time_factor(audio[:5], [*SINGLE.values()])  # imports (scipy, soxr, python-stretch) outside the timing
    baseline = real_time_factor(audio, None)
    single = {name: real_time_factor(audio, [spec]) for name, spec in SINGLE.items()}
    chain = real_time_factor(audio, recipe)
    print(json.dumps({
        "bench": "augment_throughput", "utterances": len(audio), "audio_s": round(sum(map(len, audio)) / RATE, 1),
        "fbank_only_x_real_time": round(baseline, 1),
        "transform_then_fbank_x_real_time": {k: round(v, 1) for k, v in single.items()},
        "robust_recipe_chain_x_real_time": round(chain, 1),
        "robust_chain_cost_vs_fbank_only": round(baseline / chain, 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
