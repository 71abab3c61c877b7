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
ACCENT_ROOT = "espeak-ng-accents"  # the drawn accents' data folder's parent, relative to OUT
ACCENT_PREFIX = "en-x-ra"  # drawn accent names: en-x-ra000, ...; no installed language voice is called that
# The training accents' language voice files (under lang/gmw of espeak-ng's data), the bases of drawn accents.
ACCENT_FILES = {"en-us": "en-US", "en-gb": "en", "en-gb-x-rp": "en-GB-x-rp", "en-029": "en-029"}
# Vowel shifts that tell English accents apart, in espeak-ng's English phoneme names (the lexical set, then
# source -> target): a drawn accent makes a few of them everywhere. Left out on purpose: every replacement a test
# accent's voice file makes (en-GB-scotland: @ -> V, u: -> U, I -> i, aI -> aI2, a -> a/; en-GB-x-gbclan: i -> I2;
# en-GB-x-gbcwmd: o@ -> O@; en-US-nyc: I -> i), so the unseen accents stay unheard; and LOT unrounded (0 -> A:),
# which espeak-ng 1.51 ignores without a word (the phoneme name "0" is not read as one).
ACCENT_SHIFTS = (
    ("V", "U"),  # STRUT as FOOT (no foot-strut split)
    ("U", "u:"),  # FOOT long
    ("aa", "a"),  # BATH with the TRAP vowel
    ("a", "aa"),  # TRAP lengthened
    ("a", "E"),  # TRAP raised
    ("E", "a"),  # DRESS lowered
    ("eI", "E"),  # FACE monophthong
    ("eI", "aI"),  # FACE lowered
    ("oU", "O:"),  # GOAT monophthong
    ("oU", "aU"),  # GOAT lowered
    ("aI", "A:"),  # PRICE monophthong
    ("aI", "OI"),  # PRICE backed
    ("aU", "aa"),  # MOUTH monophthong
    ("O:", "0"),  # THOUGHT as LOT
    ("O:", "A:"),  # THOUGHT unrounded (cot-caught merger)
    ("3:", "E"),  # NURSE fronted
    ("i:", "I"),  # FLEECE lax
    ("I", "E"),  # KIT lowered
    ("u:", "i:"),  # GOOSE fronted
)


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


def accent_names(count: int) -> tuple[str, ...]:
    """The names of `count` drawn accents."""
    return tuple(f"{ACCENT_PREFIX}{i:03d}" for i in range(count))


def random_accent(seed: int, index: int) -> dict[str, Any]:
    """Drawn accent `index`: a training accent (its phoneme table, dictionary rules and replacements) with 2-4
    vowel shifts of ACCENT_SHIFTS (at most one per source vowel) and its syllables 0.85-1.2 times as long; a
    function of (seed, index) alone. The phoneme tables stay the training accents', so every vowel still sounds
    like one a training voice makes: what changes is which vowel a word gets, as between accents."""
    rng = np.random.RandomState([seed, index])
    base = tuple(ACCENT_FILES)[index % len(ACCENT_FILES)]
    shifts: list[tuple[str, str]] = []
    for i in rng.permutation(len(ACCENT_SHIFTS)):
        if len(shifts) == 2 + index % 3:
            break
        if ACCENT_SHIFTS[i][0] not in {a for a, _ in shifts}:
            shifts.append(ACCENT_SHIFTS[i])
    return {"base": base, "shifts": shifts, "stress_scale": round(float(rng.uniform(0.85, 1.2)), 3)}


_DEFAULT_STRESS_LENGTH = (140, 120, 190, 170, 0, 0, 255, 300)  # en-US's, for the bases that set none


def accent_file_text(name: str, accent: dict[str, Any], base_text: str) -> str:
    """A drawn accent in espeak-ng's language voice syntax: the base file without its name, language and
    stressLength lines, then those of the drawn accent, its shifts last (replacements always, `replace 00`)."""
    kept, stress = [], _DEFAULT_STRESS_LENGTH
    for line in base_text.splitlines():
        key = line.split()[0] if line.split() else ""
        if key == "stressLength":
            stress = tuple(int(x) for x in line.split()[1:])
        elif key not in ("name", "language"):
            kept.append(line)
    lines = [f"name {name}", f"language {name}", *kept]
    lines.append("stressLength " + " ".join(str(round(x * accent["stress_scale"])) for x in stress))
    lines += [f"replace 00 {source} {target}" for source, target in accent["shifts"]]
    return "\n".join(lines) + "\n"


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
    _link_entries(installed_data_dir(), data, own="voices")
    variants = data / "voices" / "!v"
    variants.mkdir(parents=True, exist_ok=True)
    names = variant_names(count)
    for i, name in enumerate(names):
        (variants / name).write_text(variant_file_text(name, random_variant(seed, i)))
    found = listed_variants(root)
    if found != set(names):
        raise SystemExit(f"prepare: espeak-ng --path={root} lists variants {sorted(found)[:5]}..., not the drawn ones")
    return root


def write_accent_root(out: Path, seed: int, count: int) -> Path:
    """OUT/espeak-ng-accents/espeak-ng-data: the installed data linked (every variant, every accent), lang/gmw/
    also holding the `count` drawn accents (random_accent), each written from its base's installed file.

    Checked before any utterance is spoken: espeak-ng must list exactly the drawn accents from it.
    """
    root = out / ACCENT_ROOT
    data = root / "espeak-ng-data"
    installed = installed_data_dir()
    _link_entries(installed, data, own="lang")
    _link_entries(installed / "lang", data / "lang", own="gmw")
    _link_entries(installed / "lang" / "gmw", data / "lang" / "gmw", own="")
    names = accent_names(count)
    for i, name in enumerate(names):
        accent = random_accent(seed, i)
        base = (installed / "lang" / "gmw" / ACCENT_FILES[accent["base"]]).read_text()
        (data / "lang" / "gmw" / name).write_text(accent_file_text(name, accent, base))
    found = listed_accents(root)
    if found != set(names):
        raise SystemExit(f"prepare: espeak-ng --path={root} lists accents {sorted(found)[:5]}..., not the drawn ones")
    return root


def listed_accents(root: Path) -> set[str]:
    """The drawn accents espeak-ng lists from the data folder under `root` (its --path)."""
    listed = subprocess.run(["espeak-ng", f"--path={root}", "--voices=en"], capture_output=True, text=True, check=True)
    return {t for t in listed.stdout.split() if t.startswith(ACCENT_PREFIX)}


def _link_entries(source: Path, target: Path, own: str) -> None:
    """Links every entry of `source` into `target` except `own`, which the caller fills."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        link = target / entry.name
        if entry.name != own and not link.is_symlink():
            link.symlink_to(entry)
