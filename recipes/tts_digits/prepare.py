"""Data preparation for the tts_digits demo recipe: synthetic English speech (digits and short sentences) for CTC.

Usage: python recipes/tts_digits/prepare.py --out data/tts_digits [--small] [--jobs 2] [--force] [--synthesize]
                                          [--random-voices N] [--pico-share F] [--festival-share F]
                                          [--mbrola-share F] [--rhvoice-share F] [--accent-share F]

Sets (tts_plan.py says who speaks what): `train` and `dev` (32 espeak-ng voices) and two test sets of 300 digit
strings + 300 sentences (--small: 50+50) in voices training never hears: `test_espeak_unseen` (other espeak-ng
accents and variants) and `test_flite` (the flite synthesizer). Test sets are for reporting only (per set, with
`seqtrain recog CONFIG --data NAME`): never train or tune on them. `dev_festival` (the same counts) is a second
dev set in a synthesizer training never hears either, Festival's diphone voices ked and don: for choices that an
espeak-ng dev cannot make and the test sets must not (docs/data.md). For every set OUT/<set>.hdf (RETURNN
HDFDataset layout: float16 log-mel [T, 80], int32 character targets over " abc..z") and OUT/<set>.jsonl
(id, path, duration, text, voice, engine, ... per utterance; `path` relative to OUT, an AudioDataset manifest
where it is not null), OUT/lexicon.txt (the words of the training transcriptions, for HMM decoding with a
lexicon), OUT/lexicon.phones.txt (those words with their en-us phonemes from espeak-ng, for phoneme models),
OUT/lm/words.3gram.arpa (a word 3-gram of the training transcriptions for LM decoding; needs KenLM's
lmplz, which scripts/build_kenlm.sh builds) and, last, OUT/done.json (the sets, their counts, which have audio).

Generating train and dev takes minutes of CPU, so when a shared copy exists (`../shared/data/tts_digits_sentences`,
or $SEQTRAIN_TTS_DIGITS_SHARED) it is linked (full) or subset (--small) instead; it has FLAC audio for dev only.
--synthesize generates every set with espeak-ng + sox + kaldi-native-fbank, following the shared corpus' README
so that both sources give features in the same range, and keeps the FLAC of every set (OUT/audio/<set>/<id>.flac,
~250 MB for train): the way to get a corpus that audio augmentation can read. The test sets are always
synthesized (the shared copy has none; they need espeak-ng, flite and sox). --random-voices N (implies
--synthesize) speaks train in the 8 classic variants plus N drawn espeak-ng variants (tts_voices.py; their files in
OUT/espeak-ng/espeak-ng-data/voices/!v): more vocal tracts to learn from, none of them a test voice; dev keeps the
32 classic voices. --pico-share F (implies --synthesize) has a third synthesizer, SVOX Pico (`pip install -e ".[tts]"`,
built from source with a C compiler), speak that share of train's utterances in its two English voices: two engines
to learn speech from instead of one; dev and the test sets are unchanged, so flite stays unheard. --festival-share F
(implies --synthesize) has a fourth, Festival (`apt-get install festival festvox-kdlpc16k`), speak that share of
train's espeak-ng utterances in classic variants in its diphone voice ked (flite is Festival's C port: Festival's
kal voice, flite's kal, is never used, so every flite voice stays unheard; ked is then no longer unheard in
dev_festival). --mbrola-share F (implies --synthesize) has a fifth, MBROLA (diphones of four recorded speakers,
resynthesized; Debian's contrib/non-free: scripts/install_nonfree_voices.sh), speak that share of train's espeak-ng
utterances in classic variants through espeak-ng's mb-us1/us2/us3/en1 voices (espeak-ng reads the text; no speaker,
voice or code is flite's). --rhvoice-share F (implies --synthesize) has a sixth, RHVoice (statistical parametric
synthesis from recordings of four speakers; Debian's non-free, which the same script installs), speak that share of
the espeak-ng utterances left in classic variants in its voices bdl, clb, lyubov and evgeniy-eng (its alan and slt
voices, flite's awb and slt speakers, are never used). --accent-share F
(implies --synthesize) speaks that share of train's espeak-ng utterances (those in classic variants) in 48 drawn
accents instead of their own: a training accent with 2-4 vowel shifts of other English accents (tts_voices.py; files
in OUT/espeak-ng-accents/espeak-ng-data/lang/gmw), none of them a shift a test accent makes. Rerunning with the
same options does nothing; a directory prepared before the test sets existed gets only the missing test sets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import soundfile
from tts_plan import (
    ACCENT_COUNT,
    ACCENT_SEED,
    FESTIVAL_VOICES,
    MBROLA_VOICES,
    RANDOM_VOICE_SEED,
    RHVOICE_VOICES,
    SENTENCE_WORDS,
    SETS,
    VOCAB,
    hdf_specs,
    per_task,
    plan_set,
    with_accents,
    with_festival,
    with_mbrola,
    with_pico,
    with_rhvoice,
)
from tts_render import process
from tts_voices import ACCENT_ROOT, ROOT, listed_variants, write_accent_root, write_espeak_root

from seqtrain.data.hdf import HDFDataset, HDFWriter
from seqtrain.errors import ConfigError
from seqtrain.recog.ngram_lm import build_word_lm

SHARED_SETS = ("train", "dev")  # what the shared copy has
ALWAYS_SYNTHESIZED = tuple(name for name in SETS if name not in SHARED_SETS)  # the test sets and dev_festival
TOOLS = ("espeak-ng", "flite", "sox")
INSTALL = "apt-get install espeak-ng flite sox"
# dev_festival and --festival-share: text2wave and the ked and don voices
FESTIVAL_INSTALL = "apt-get install festival festvox-kdlpc16k festvox-don"
# --mbrola-share: the synthesizer and its four English voices, which Debian keeps in contrib and non-free
MBROLA_INSTALL = (
    "scripts/install_nonfree_voices.sh  (enables Debian's contrib and non-free, then installs mbrola and voices)"
)
RHVOICE_INSTALL = (
    "scripts/install_nonfree_voices.sh  (enables Debian's non-free, then installs rhvoice rhvoice-english too)"
)
# --NAME-share options: who speaks the share of train (done.json's NAME_share), and of which utterances it is
SHARES = {
    "pico": ("Pico speaks", "utterances"),
    "festival": ("Festival speaks", "espeak-ng utterances"),
    "mbrola": ("MBROLA speaks", "espeak-ng utterances"),
    "rhvoice": ("RHVoice speaks", "espeak-ng utterances"),
    "accent": ("drawn accents speak", "espeak-ng utterances"),
}


def default_shared_dir() -> Path:
    """Where the prebuilt corpus lives: env override first, so CI and other checkouts can point elsewhere."""
    env = os.environ.get("SEQTRAIN_TTS_DIGITS_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared/data/tts_digits_sentences"


def set_files(name: str) -> tuple[str, str, str]:
    """A set's outputs, relative to OUT."""
    return f"{name}.hdf", f"{name}.jsonl", f"audio/{name}"


def _output(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def installed_voices() -> tuple[set[str], set[str], set[str]]:
    """espeak-ng's languages and variants (the `!v/NAME` files) and flite's voices, as their listings say."""
    languages = {line.split()[1] for line in _output(["espeak-ng", "--voices"]).splitlines()[1:] if line.strip()}
    return languages, listed_variants(), set(_output(["flite", "-lv"]).split(":", 1)[-1].split())


def festival_voices() -> set[str]:
    """Festival's installed voices (empty when Festival is not installed)."""
    if shutil.which("festival") is None or shutil.which("text2wave") is None:
        return set()
    return set(_output(["festival", "-b", "(print (voice.list))"]).strip().strip("()").split())


def missing_mbrola_voices() -> list[str]:
    """The MBROLA voices espeak-ng cannot speak with: without the mbrola program or a voice's database it writes no
    audio (and exits 1), which would stop synthesis halfway; asked up front, prepare stops before removing anything."""
    if shutil.which("mbrola") is None:
        return list(MBROLA_VOICES)
    missing = []
    for voice in MBROLA_VOICES:
        speech = subprocess.run(["espeak-ng", "-v", voice, "--stdout", "one"], capture_output=True).stdout
        if len(speech) <= 44:  # a wav header at most
            missing.append(voice)
    return missing


def rhvoice_speech(voice: str, text: str = "one") -> bytes:
    """RHVoice-test's wav of `text` in `voice` (empty without the program)."""
    if shutil.which("RHVoice-test") is None:
        return b""
    command = ["RHVoice-test", "-p", voice, "-o", "/dev/stdout"]
    return subprocess.run(command, input=text.encode(), capture_output=True).stdout


def missing_rhvoice_voices() -> list[str]:
    """The RHVoice voices not installed. RHVoice-test speaks a voice it does not have in English' default voice
    (alan, which training never uses) and exits 0, so a voice is missing when it sounds like a voice that cannot
    exist; asked up front, prepare stops before removing anything."""
    fallback = rhvoice_speech("no-such-voice")
    if len(fallback) <= 44:  # no program, or no English voice at all
        return list(RHVOICE_VOICES)
    return [voice for voice in RHVOICE_VOICES if rhvoice_speech(voice) == fallback]


def require_tools(
    names: tuple[str, ...], pico: bool = False, festival: bool = False, mbrola: bool = False, rhvoice: bool = False
) -> None:
    """Fails before anything in OUT is removed, with the command that fixes it. espeak-ng falls back to its
    default voice without a word when a variant is missing, so the voices of the sets to synthesize are checked."""
    if rhvoice:
        missing_rhvoice = missing_rhvoice_voices()
        if missing_rhvoice:
            raise SystemExit(
                f"prepare: --rhvoice-share needs RHVoice-test and the English voices {missing_rhvoice}; "
                f"install them with: {RHVOICE_INSTALL}"
            )
    if mbrola and shutil.which("espeak-ng") is not None:
        missing_mbrola = missing_mbrola_voices()
        if missing_mbrola:
            raise SystemExit(
                f"prepare: --mbrola-share needs mbrola and its voices; espeak-ng cannot speak with {missing_mbrola}; "
                f"install them with: {MBROLA_INSTALL}"
            )
    festival_sets = [name for name in names if SETS[name].engine == "festival"]
    if festival or festival_sets:
        wanted = set(FESTIVAL_VOICES if festival else ()).union(*(SETS[name].voices for name in festival_sets))
        missing_voices = sorted(wanted - festival_voices())
        if missing_voices:
            needs = " and ".join([*(["--festival-share"] if festival else []), *festival_sets])
            raise SystemExit(
                f"prepare: Festival's text2wave or its voice(s) {missing_voices} are missing, needed by {needs}; "
                f"install them with: {FESTIVAL_INSTALL}"
            )
    if pico:
        try:
            import ttspico  # noqa: F401
        except ImportError as e:
            raise SystemExit(
                f"prepare: --pico-share needs SVOX Pico's Python binding ({e}); install it with: "
                'pip install -e ".[tts]"  (ttspico; it compiles C sources: needs gcc, apt-get install build-essential)'
            ) from e
    for tool in TOOLS:
        if shutil.which(tool) is None:
            raise SystemExit(f"prepare: '{tool}' not found; install the tools with: {INSTALL}")
    languages, variants, flite = installed_voices()
    missing = set()
    for name in names:
        s = SETS[name]
        missing |= {a for a in s.accents if a not in languages} | {v for v in s.variants if v not in variants}
        missing |= {f"flite:{v}" for v in s.voices if s.engine == "flite" and v not in flite}
    if missing:
        raise SystemExit(
            f"prepare: voices {sorted(missing)} not found (sets {list(names)}); {INSTALL} (Debian bookworm)"
        )


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    """One JSON object per line, in HDF order (the trainer's reports join on the id); moved into place at the end."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(json.dumps(r) + "\n" for r in rows))
    temporary.replace(path)


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """The rows of a jsonl manifest."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def own_audio_dir(out: Path) -> Path:
    """OUT/audio as a folder of our own, so that synthesized sets can be added next to the shared corpus' audio.

    Directories prepared before the test sets linked OUT/audio to the shared folder itself; that link becomes a
    folder of links to the shared folder's entries (audio/dev), so no manifest path changes.
    """
    audio = out / "audio"
    if audio.is_symlink():
        shared = audio.resolve()
        audio.unlink()
        audio.mkdir()
        for entry in sorted(shared.iterdir()):
            (audio / entry.name).symlink_to(entry)
    audio.mkdir(parents=True, exist_ok=True)
    return audio


def synthesize(
    out: Path,
    names: tuple[str, ...],
    small: bool,
    jobs: int,
    random_voices: int = 0,
    pico_share: float = 0.0,
    accent_share: float = 0.0,
    festival_share: float = 0.0,
    mbrola_share: float = 0.0,
    rhvoice_share: float = 0.0,
) -> None:
    """Generates the named sets; results arrive in plan order (imap) so HDF, manifest and tags line up.
    `random_voices` drawn variants join train's classic ones (their data folder is written first); SVOX Pico
    speaks `pico_share` of train, Festival `festival_share`, MBROLA `mbrola_share`, RHVoice `rhvoice_share` (of those
    left) and drawn accents `accent_share` of its espeak-ng utterances in classic variants."""
    start, done = time.time(), 0
    voices = {name: random_voices if name == "train" else 0 for name in names}
    if voices.get("train"):
        write_espeak_root(out, RANDOM_VOICE_SEED, random_voices)
    plans = {name: plan_set(name, per_task(name, small), voices[name]) for name in names}
    if pico_share and "train" in plans:
        plans["train"] = with_pico(plans["train"], pico_share)
    if festival_share and "train" in plans:
        plans["train"] = with_festival(plans["train"], festival_share)
    if mbrola_share and "train" in plans:
        plans["train"] = with_mbrola(plans["train"], mbrola_share)
    if rhvoice_share and "train" in plans:
        plans["train"] = with_rhvoice(plans["train"], rhvoice_share)
    if accent_share and "train" in plans:
        write_accent_root(out, ACCENT_SEED, ACCENT_COUNT)
        plans["train"] = with_accents(plans["train"], accent_share)
    total = sum(len(p) for p in plans.values())
    audio = own_audio_dir(out)
    with multiprocessing.Pool(max(1, jobs)) as pool:
        for name, plan in plans.items():
            (audio / name).mkdir(exist_ok=True)
            rows = []
            with HDFWriter(out / f"{name}.hdf", hdf_specs(), compression="gzip") as writer:
                for meta, feats, labels in pool.imap(process, [(u, str(out), name) for u in plan], 4):
                    writer.add(meta["id"], {"data": feats, "classes": labels})
                    rows.append(meta)
                    done += 1
                    if done % 500 == 0 or done == total:
                        print(
                            f"prepare: synthesized {done}/{total} utterances ({time.time() - start:.1f} s)", flush=True
                        )
            write_manifest(out / f"{name}.jsonl", rows)


def link_shared(shared: Path, out: Path) -> None:
    """Full variant: symlinks cost nothing and keep one copy of 130 MB of features on disk."""
    for name in SHARED_SETS:
        for file in set_files(name)[:2]:
            (out / file).symlink_to((shared / file).resolve())
    if (shared / "audio").is_dir():  # manifest paths (audio/dev/...) stay valid relative to OUT
        (out / "audio").symlink_to((shared / "audio").resolve())
        own_audio_dir(out)


def subset_shared(shared: Path, out: Path) -> None:
    """--small: the first N utterances per task (file order) rewritten with seqtrain's writer, same keys/vocab."""
    if (shared / "audio").is_dir():
        (out / "audio").symlink_to((shared / "audio").resolve())
        own_audio_dir(out)
    for split in SHARED_SETS:
        rows = read_manifest(shared / f"{split}.jsonl")
        taken: Counter[str] = Counter()
        keep = []
        for i, r in enumerate(rows):
            if taken[r["task"]] < per_task(split, True):
                taken[r["task"]] += 1
                keep.append(i)
        src = HDFDataset([str(shared / f"{split}.hdf")])
        with HDFWriter(
            out / f"{split}.hdf", hdf_specs(tuple(src.labels("classes") or VOCAB)), compression="gzip"
        ) as writer:
            for i in keep:
                if src.seq_tag(i) != rows[i]["id"]:
                    raise SystemExit(f"prepare: {shared}/{split}.hdf and .jsonl disagree at {i}: {src.seq_tag(i)}")
                seq = src.get_seq(i)
                writer.add(rows[i]["id"], {"data": seq["data"], "classes": seq["classes"]})
        write_manifest(out / f"{split}.jsonl", [rows[i] for i in keep])


def check_outputs(out: Path, names: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Loads what was written the way training will (HDFDataset) and cross-checks it with the manifests; the
    first and last audio file of a set must hold the manifest's sample count."""
    counts = {}
    for name in names:
        rows = read_manifest(out / f"{name}.jsonl")
        ds = HDFDataset([str(out / f"{name}.hdf")])
        vocab = ds.labels("classes") or []
        if ds.num_seqs != len(rows) or "".join(vocab) != VOCAB:
            raise SystemExit(f"prepare: {name}: {ds.num_seqs} seqs vs {len(rows)} manifest rows, vocab {vocab!r}")
        for i in {0, len(rows) - 1}:
            text = "".join(vocab[j] for j in ds.get_seq(i)["classes"])
            if ds.seq_tag(i) != rows[i]["id"] or text != rows[i]["text"]:
                raise SystemExit(f"prepare: {name}[{i}]: HDF {ds.seq_tag(i)!r} {text!r} vs manifest {rows[i]}")
            path = rows[i].get("path")
            if path is not None and soundfile.info(str(out / path)).frames != rows[i]["num_samples"]:
                raise SystemExit(f"prepare: {name}[{i}]: {out / path} does not hold {rows[i]['num_samples']} samples")
        counts[name] = dict(Counter(r.get("task", "?") for r in rows), total=len(rows))
    return counts


def audio_sets(out: Path, names: tuple[str, ...]) -> list[str]:
    """The sets whose manifests point to audio files (AudioDataset can read them; augmentation needs them)."""
    return [n for n in names if read_manifest(out / f"{n}.jsonl")[0].get("path")]


def write_lexicon(out: Path) -> None:
    """OUT/lexicon.txt: every word of the training transcriptions, one per line (`recog_lexicon` of HMM decoding).

    Dev and test words come from the same lists, so this is a closed-vocabulary task, as the corpus' README says.
    """
    words = sorted({w for row in read_manifest(out / "train.jsonl") for w in row["text"].split()})
    temporary = out / "lexicon.txt.tmp"
    temporary.write_text("".join(f"{w}\n" for w in words))
    temporary.replace(out / "lexicon.txt")


PHONE_LEXICON = "lexicon.phones.txt"
PHONE_ACCENT = "en-us"  # one canonical pronunciation per word, of a training accent (never a test accent's)


def pronounce(word: str) -> list[str]:
    """espeak-ng's phonemes of a word (its `-x` ASCII phoneme names) without stress marks: the units of a phoneme
    model. Stress is left out because it is a property of the word, which the lexicon restores, not of a sound."""
    phonemes = _output(["espeak-ng", "-q", "-v", PHONE_ACCENT, "-x", "--sep=_", word])
    units = [u for u in phonemes.replace("'", "").replace(",", "").replace("_", " ").split() if u]
    if not units:
        raise SystemExit(f"prepare: espeak-ng gave no phonemes for {word!r}")
    return units


def write_phone_lexicon(out: Path) -> None:
    """OUT/lexicon.phones.txt: every word of OUT/lexicon.txt with its phonemes (`WORD UNIT UNIT ...`), for phoneme
    models: their targets (`LexiconVocab`) and their `recog_lexicon` (robust_conformer.py). espeak-ng is the
    grapheme-to-phoneme tool (installed for synthesis anyway); the same pronunciation serves every voice."""
    if (out / PHONE_LEXICON).is_file():
        return
    if shutil.which("espeak-ng") is None:
        print(f"prepare: WARNING: no {PHONE_LEXICON} (phoneme models need it): espeak-ng is missing ({INSTALL})")
        return
    words = (out / "lexicon.txt").read_text().split()  # the words of train; a --small corpus' dev and test sets
    # may say others (a phoneme model needs targets for them), so those are pronounced after train's
    manifests = [out / f"{name}.jsonl" for name in SETS if (out / f"{name}.jsonl").is_file()]
    spoken = {w for manifest in manifests for row in read_manifest(manifest) for w in row["text"].split()}
    words += sorted(spoken - set(words))
    temporary = out / f"{PHONE_LEXICON}.tmp"
    temporary.write_text("".join(f"{w} {' '.join(pronounce(w))}\n" for w in words))
    temporary.replace(out / PHONE_LEXICON)
    print(f"prepare: wrote {out / PHONE_LEXICON} ({PHONE_ACCENT} pronunciations by espeak-ng)", flush=True)


LM_FILE = "lm/words.3gram.arpa"


def write_lm(out: Path) -> None:
    """OUT/lm/words.3gram.arpa: a word 3-gram of the training transcriptions (+ the lexicon), for `ctc_beam`
    decoding (robust_conformer.py). Skipped with a warning when KenLM's lmplz is missing: only LM decoding needs it."""
    if (out / LM_FILE).is_file():
        return
    texts = [row["text"] for row in read_manifest(out / "train.jsonl")]
    words = (out / "lexicon.txt").read_text().split()
    try:
        lm = build_word_lm(texts, order=3, out_path=out / LM_FILE, lexicon_words=words)
    except ConfigError as e:  # lmplz not built
        print(f"prepare: WARNING: no word LM for LM decoding: {e}", flush=True)
        return
    print(f"prepare: wrote {lm}", flush=True)


def remove(path: Path) -> None:
    """Removes a file, a link (never what it points to) or a folder; writing through a leftover symlink would
    try to modify the shared corpus."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def clear_outputs(out: Path, names: tuple[str, ...] | None = None) -> None:
    """Removes the named sets' outputs, or (None) everything prepare writes, done.json first."""
    if names is None:
        for name in ("done.json", "lexicon.txt", PHONE_LEXICON, "audio", "lm", ROOT, ACCENT_ROOT):
            remove(out / name)
        names = tuple(SETS)
    for name in names:
        for file in set_files(name):
            remove(out / file)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory, e.g. data/tts_digits")
    ap.add_argument("--small", action="store_true", help="150+150 train, 50+50 dev and per test set (smoke tests)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for synthesis")
    ap.add_argument("--force", action="store_true", help="rebuild even if OUT/done.json matches")
    ap.add_argument("--synthesize", action="store_true", help="generate every set, keep its audio (no shared copy)")
    ap.add_argument(
        "--random-voices", type=int, default=0, metavar="N", help="train also in N drawn espeak-ng voices (synthesizes)"
    )
    ap.add_argument(
        "--pico-share", type=float, default=0.0, metavar="F", help="SVOX Pico speaks this share of train (synthesizes)"
    )
    ap.add_argument(
        "--festival-share",
        type=float,
        default=0.0,
        metavar="F",
        help="Festival speaks this share of train's espeak-ng utterances (synthesizes)",
    )
    ap.add_argument(
        "--mbrola-share",
        type=float,
        default=0.0,
        metavar="F",
        help="MBROLA's diphone voices speak this share of train's espeak-ng utterances (synthesizes)",
    )
    ap.add_argument(
        "--rhvoice-share",
        type=float,
        default=0.0,
        metavar="F",
        help="RHVoice's voices speak this share of train's espeak-ng utterances left after MBROLA (synthesizes)",
    )
    ap.add_argument(
        "--accent-share",
        type=float,
        default=0.0,
        metavar="F",
        help="drawn accents speak this share of train's espeak-ng utterances (synthesizes)",
    )
    args = ap.parse_args(argv)
    if args.random_voices < 0:
        ap.error(f"--random-voices must be >= 0, got {args.random_voices}")
    shares = [getattr(args, f"{option}_share") for option in SHARES]
    for (option, (_, of_what)), share in zip(SHARES.items(), shares):
        if not 0.0 <= share <= 1.0:
            ap.error(f"--{option}-share is a share of train's {of_what} within [0, 1], got {share}")
    # drawn voices and accents, Pico's and Festival's exist only when train is synthesized
    args.synthesize = args.synthesize or args.random_voices > 0 or any(share > 0 for share in shares)
    return args


def write_marker(out: Path, info: dict[str, Any]) -> None:
    """OUT/done.json, replaced in one step: an interrupted rewrite leaves the old one."""
    temporary = out / "done.json.tmp"
    temporary.write_text(json.dumps(info, indent=1) + "\n")
    temporary.replace(out / "done.json")


def words_digest() -> str:
    """A fingerprint of the sentence words in done.json: sets spoken from another list are out of date."""
    return hashlib.sha256(" ".join(SENTENCE_WORDS).encode()).hexdigest()[:16]


def reusable(out: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """done.json when OUT holds what was asked for (maybe without some test sets), else None (rebuild).

    --synthesize asks for the training audio, which directories synthesized before it was kept lack."""
    marker = out / "done.json"
    if args.force or not marker.is_file():
        return None
    done = json.loads(marker.read_text())
    if done.get("small") != args.small:
        return None
    if args.synthesize and (done.get("source") != "espeak-ng" or "train" not in done.get("audio", [])):
        return None
    if done.get("random_voices", 0) != args.random_voices:
        drawn = done.get("random_voices", 0)
        print(f"prepare: train in {out} has {drawn} random voices, not {args.random_voices}; preparing it again")
        return None
    for option, (speaker, _) in SHARES.items():
        had, asked = done.get(f"{option}_share", 0.0), getattr(args, f"{option}_share")
        if had != asked:
            print(f"prepare: {speaker} {had} of train in {out}, not {asked}; preparing it again")
            return None
    if done.get("sentence_words") != words_digest():  # prepared before prepare.py spoke the shared copy's words
        if done.get("source") != "shared":
            print(f"prepare: {out} was synthesized from another list of sentence words; preparing it again")
            return None
        print(f"prepare: the test sets in {out} were spoken from another list of sentence words; redoing them")
        done["sets"] = [n for n in done.get("sets") or list(done.get("counts", {})) if n not in ALWAYS_SYNTHESIZED]
    return done


def complete(out: Path, done: dict[str, Any], args: argparse.Namespace, command: str) -> int:
    """Adds the test sets and dev_festival an earlier prepare did not make (nothing when none is missing), then
    updates done.json."""
    have = done.get("sets") or list(done.get("counts", {}))
    missing = tuple(n for n in ALWAYS_SYNTHESIZED if n not in have)
    if not (out / "lexicon.txt").is_file():  # prepared before the lexicon existed
        write_lexicon(out)
    write_phone_lexicon(out)  # prepared before the phoneme lexicon existed
    write_lm(out)  # prepared before the LM existed
    if not missing:
        print(f"prepare: already prepared in {out} ({done.get('source')}, {done.get('counts')}); --force redoes it")
        return 0
    start = time.time()
    require_tools(missing)
    clear_outputs(out, missing)
    print(f"prepare: adding {list(missing)} to {out} (jobs={args.jobs})", flush=True)
    synthesize(out, missing, args.small, args.jobs)
    counts = check_outputs(out, missing)
    wall = round(time.time() - start, 2)
    sets = [n for n in SETS if n in have or n in missing]
    done.update(sets=sets, counts={**done.get("counts", {}), **counts}, audio=audio_sets(out, tuple(sets)))
    done["completed"] = {"sets": list(missing), "wall_s": wall, "command": command}
    done["sentence_words"] = words_digest()
    write_marker(out, done)
    print(f"prepare: added in {wall:.1f} s: {counts}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Prepares OUT unless done.json says it already holds what was asked for."""
    args = parse_args(argv)
    command = shlex.join(["python", "recipes/tts_digits/prepare.py", *(sys.argv[1:] if argv is None else argv)])
    out, start = args.out, time.time()
    done = reusable(out, args)
    if done is not None:
        return complete(out, done, args, command)
    shared = default_shared_dir()
    use_shared = not args.synthesize and all((shared / f).is_file() for n in SHARED_SETS for f in set_files(n)[:2])
    synthesized = ALWAYS_SYNTHESIZED if use_shared else tuple(SETS)
    require_tools(
        synthesized,
        pico=args.pico_share > 0,
        festival=args.festival_share > 0,
        mbrola=args.mbrola_share > 0,
        rhvoice=args.rhvoice_share > 0,
    )
    out.mkdir(parents=True, exist_ok=True)
    clear_outputs(out)
    if use_shared:
        print(f"prepare: using the shared corpus {shared} ({'subset' if args.small else 'symlinks'})", flush=True)
        (subset_shared if args.small else link_shared)(shared, out)
    print(f"prepare: synthesizing {list(synthesized)} into {out} (jobs={args.jobs})", flush=True)
    synthesize(
        out,
        synthesized,
        args.small,
        args.jobs,
        args.random_voices,
        args.pico_share,
        args.accent_share,
        args.festival_share,
        args.mbrola_share,
        args.rhvoice_share,
    )
    sets = tuple(SETS)
    counts = check_outputs(out, sets)
    write_lexicon(out)
    write_phone_lexicon(out)
    write_lm(out)
    wall = round(time.time() - start, 2)
    info = {
        "source": "shared" if use_shared else "espeak-ng",  # of train and dev; test sets are always synthesized
        "shared_dir": str(shared) if use_shared else None,
        "small": args.small,
        "sets": list(sets),
        "audio": audio_sets(out, sets),
        "counts": counts,
        "sentence_words": words_digest(),
        "random_voices": args.random_voices,
        "pico_share": args.pico_share,
        "festival_share": args.festival_share,
        "mbrola_share": args.mbrola_share,
        "rhvoice_share": args.rhvoice_share,
        "accent_share": args.accent_share,
        "wall_s": wall,
        "command": command,
    }
    write_marker(out, info)  # last: it means everything above is complete
    print(f"prepare: done in {wall:.1f} s: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
