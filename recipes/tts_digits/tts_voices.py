"""Random espeak-ng voices for training: many vocal tracts instead of espeak-ng's 8 numbered variants.

A model trained on 32 voices learns their spectra; unseen accents, contributed variants and other synthesizers
then fail (README: per-voice WER). espeak-ng describes a voice variant as a small text file: pitch base and range,
per-formant frequency/height/width scales, voicing and consonant levels, flutter, roughness, breath and a spectral
tilt ("tone"). `random_variant` draws such a file the way vocal tract length perturbation draws a warp: one length
factor that scales all formants plus a per-formant jitter, and independent source settings. The draws never use
espeak-ng's Klatt synthesizer, its whisper/echo effects or any installed variant file, so every test-set voice
stays unheard (the test sets keep using the installed variants only).

espeak-ng reads variants only from its data folder (a path in `-v en-us+FILE` is ignored without a word, the
default voice speaks), so `write_espeak_root` builds a private data folder: links to every entry of the installed
one except `voices`, which holds only the drawn variants, and the engine is called with `--path`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

ROOT = "espeak-ng"  # the private data folder's parent, relative to OUT (espeak-ng's --path)
PREFIX = "rv"  # drawn variant names: rv000, rv001, ...; no installed variant is called that


def variant_names(count: int) -> tuple[str, ...]:
    """The names of `count` drawn variants."""
    return tuple(f"{PREFIX}{i:03d}" for i in range(count))


def random_variant(seed: int, index: int) -> dict[str, Any]:
    """The settings of drawn variant `index`: a function of (seed, index) alone, so any subset is reproducible."""
    rng = np.random.RandomState([seed, index])
    female = bool(rng.rand() < 0.5)
    base = int(rng.randint(140, 231) if female else rng.randint(65, 131))  # Hz
    tract = float(rng.uniform(1.0, 1.18) if female else rng.uniform(0.86, 1.04))  # shorter tract: higher formants
    formants = []
    for k in range(9):  # 0: the nasal formant, 1-5 the voiced ones, 6-8 the fricative resonances
        jitter = rng.uniform(0.92, 1.08) if 1 <= k <= 5 else rng.uniform(0.85, 1.15)
        freq = round(100 * (tract if 1 <= k <= 5 else 1.0) * jitter)
        formants.append((k, freq, int(rng.randint(60, 161)), int(rng.randint(70, 161))))
    v: dict[str, Any] = {
        "gender": "female" if female else "male",
        "pitch": (base, base + int(rng.randint(25, 121))),
        "formants": formants,
        "voicing": int(rng.randint(60, 141)),
        "consonants": (int(rng.randint(60, 141)), int(rng.randint(40, 141))),
        "flutter": int(rng.randint(0, 11)),
        "roughness": int(rng.randint(0, 4)) if rng.rand() < 0.3 else 0,
        "breath": [int(rng.randint(0, 6)) for _ in range(8)] if rng.rand() < 0.2 else None,
        "tone": None,
    }
    if rng.rand() < 0.5:  # a spectral tilt: amplitude (%) at four rising frequencies
        freqs = np.sort(rng.choice(np.arange(200, 4800, 100), size=4, replace=False))
        v["tone"] = [(int(f), int(rng.randint(40, 221))) for f in freqs]
    return v


def variant_file_text(name: str, v: dict[str, Any]) -> str:
    """A drawn variant in espeak-ng's voice file syntax (docs/voices.md of espeak-ng)."""
    lines = ["language variant", f"name {name}", f"gender {v['gender']}", "pitch {} {}".format(*v["pitch"])]
    lines += [f"formant {k} {f} {h} {w}" for k, f, h, w in v["formants"]]
    lines += [f"voicing {v['voicing']}", "consonants {} {}".format(*v["consonants"])]
    lines += [f"flutter {v['flutter']}", f"roughness {v['roughness']}"]
    if v["breath"] is not None:
        lines.append("breath " + " ".join(map(str, v["breath"])))
    if v["tone"] is not None:
        lines.append("tone " + " ".join(f"{f} {a}" for f, a in v["tone"]))
    return "\n".join(lines) + "\n"


def listed_variants(root: Path | None = None) -> set[str]:
    """The variant names (`!v/NAME` files) espeak-ng lists, from its installed data or from the data folder under
    `root` (its --path)."""
    path = [f"--path={root}"] if root is not None else []
    listed = subprocess.run(["espeak-ng", *path, "--voices=variant"], capture_output=True, text=True, check=True)
    return {t.removeprefix("!v/") for t in listed.stdout.split() if t.startswith("!v/")}


def installed_data_dir() -> Path:
    """The installed espeak-ng-data folder, as `espeak-ng --version` names it."""
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Data at:\s*(\S+)", version)
    if found is None:
        raise SystemExit(f"prepare: cannot find espeak-ng's data folder in `espeak-ng --version`: {version!r}")
    return Path(found.group(1))


def write_espeak_root(out: Path, seed: int, count: int) -> Path:
    """OUT/espeak-ng/espeak-ng-data: the installed data linked, voices/!v/ holding the `count` drawn variants.

    Checked before any utterance is spoken: espeak-ng must list exactly the drawn variants from it.
    """
    root = out / ROOT
    data = root / "espeak-ng-data"
    variants = data / "voices" / "!v"
    variants.mkdir(parents=True, exist_ok=True)
    for entry in sorted(installed_data_dir().iterdir()):
        link = data / entry.name
        if entry.name != "voices" and not link.is_symlink():
            link.symlink_to(entry)
    names = variant_names(count)
    for i, name in enumerate(names):
        (variants / name).write_text(variant_file_text(name, random_variant(seed, i)))
    found = listed_variants(root)
    if found != set(names):
        raise SystemExit(f"prepare: espeak-ng --path={root} lists variants {sorted(found)[:5]}..., not the drawn ones")
    return root
