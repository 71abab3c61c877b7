"""Data preparation for the tts_digits demo recipe: synthetic English speech (digits and short sentences) for CTC.

Usage: python recipes/tts_digits/prepare.py --out data/tts_digits [--small] [--jobs 2] [--force] [--synthesize]

Writes OUT/{train,dev}.hdf (RETURNN HDFDataset layout: float16 log-mel [T, 80], int32 character targets over
" abc..z"), OUT/{train,dev}.jsonl manifests, OUT/lexicon.txt (the words of the training transcriptions, for
HMM decoding with a lexicon) and, last, OUT/done.json. Generating the corpus takes minutes of CPU,
so when a shared copy exists (`../shared/data/tts_digits_sentences`, or $SEQTRAIN_TTS_DIGITS_SHARED) it is linked
(full) or subset (--small) instead; --synthesize forces generation with espeak-ng + sox + kaldi-native-fbank,
following the shared corpus' README so that both sources give features in the same range.
"""

from __future__ import annotations

import argparse
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

import numpy as np

from seqtrain.data.dataset import DataSpec
from seqtrain.data.hdf import HDFDataset, HDFWriter

VOCAB = " abcdefghijklmnopqrstuvwxyz"  # index 0 is the space; a CTC model adds its blank itself (e.g. as 27)
SPLITS = ("train", "dev")
TASKS = ("digits", "sentences")
SEEDS = {"train": 1, "dev": 2}
PER_TASK = {False: {"train": 3000, "dev": 300}, True: {"train": 150, "dev": 50}}  # keyed by --small
FILES = ("train.hdf", "dev.hdf", "train.jsonl", "dev.jsonl", "audio")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh")
# 200 common words, none a homophone of another or of a digit word (no "tree", "for", "ate", "read"/"red" pairs).
_WORDS = """
apple river house green table window garden yellow happy market doctor winter summer orange silver mountain
pocket bottle paper pencil kitchen island forest camera rabbit turtle monkey tiger zebra horse chicken butter
cheese bread coffee sugar honey lemon potato tomato carrot basket bucket ladder hammer needle button jacket
blanket pillow mirror candle letter music picture story question answer morning evening today yesterday
tomorrow always never maybe quickly slowly quiet loud bright dark heavy warm cold small large little big long
short young old fast clean dirty empty full simple strong gentle soft sharp sweet bitter purple brown black
white blue red pink robot walk jump swim sing dance listen speak open carry follow build break catch throw
climb drive travel laugh smile sleep wait watch learn teach help play think remember forget start finish
bring find give take keep hold push pull cook guitar paint draw call ask move stop city village school
student teacher family friend mother father brother sister baby people animal bird fish dog cat duck frog
spider flower grass stone water fire cloud rain snow storm ocean beach desert bridge road train plane ship
bicycle engine machine computer phone money ticket hospital castle king queen dragon
"""
SENTENCE_WORDS = tuple(_WORDS.split())
ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3")
NOISES = ("white", "pink", "brown")
SAMPLE_RATE = 16000


def default_shared_dir() -> Path:
    """Where the prebuilt corpus lives: env override first, so CI and other checkouts can point elsewhere."""
    env = os.environ.get("SEQTRAIN_TTS_DIGITS_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared/data/tts_digits_sentences"


def hdf_specs(vocab: str | tuple[str, ...] = VOCAB) -> dict[str, DataSpec]:
    """The two data keys, identical for both sources so that configs need not know which one was used."""
    return {
        "data": DataSpec(dim=80, dtype="float16", feature_shape=(80,)),
        "classes": DataSpec(dim=len(vocab), dtype="int32", sparse=True, vocab=tuple(vocab)),
    }


def text_to_labels(text: str) -> np.ndarray:
    """Characters to vocab indices; raises on anything outside a-z and space rather than silently dropping it."""
    return np.array([VOCAB.index(c) for c in text.lower()], dtype=np.int32)


def plan_split(split: str, per_task: int) -> list[dict[str, Any]]:
    """All random choices of a split, drawn up front in one process so results do not depend on --jobs.

    Each task gets its own RandomState seeded by (split seed, task index): the --small plan is then exactly the
    first utterances of the full plan, as in the shared-corpus shortcut.
    """
    plan = []
    for t, task in enumerate(TASKS):
        rng = np.random.RandomState([SEEDS[split], t])
        words, lo, hi = (DIGIT_WORDS, 1, 7) if task == "digits" else (SENTENCE_WORDS, 3, 8)
        for i in range(per_task):
            text = " ".join(rng.choice(words, size=rng.randint(lo, hi + 1)))
            voice = f"{ACCENTS[rng.randint(len(ACCENTS))]}+{VARIANTS[rng.randint(len(VARIANTS))]}"
            plan.append(
                {
                    "id": f"{split}-{task}-{i:05d}",
                    "text": text,
                    "voice": f"espeak:{voice}",
                    "task": task,
                    "engine": "espeak",
                    "rate": int(rng.randint(130, 201)),
                    "pitch": int(rng.randint(30, 71)),
                    "word_gap": int(rng.randint(0, 4)),
                    "snr_db": round(float(rng.uniform(15, 30)), 2),
                    "noise": NOISES[rng.randint(len(NOISES))],
                    "level_dbfs": round(float(rng.uniform(-30, -18)), 2),
                    "lead_s": round(float(rng.uniform(0.05, 0.35)), 3),
                    "trail_s": round(float(rng.uniform(0.05, 0.35)), 3),
                    "noise_seed": int(rng.randint(2**31 - 1)),
                }
            )
    return plan


def colored_noise(kind: str, n: int, rng: np.random.RandomState) -> np.ndarray:
    """Unit-RMS noise; pink/brown by shaping white noise's spectrum with 1/sqrt(f) resp. 1/f (FFT, no DC).

    The shaping is flat below 20 Hz: otherwise most of the power would sit at inaudible frequencies the mel
    filterbank ignores (it starts at 20 Hz), and brown noise would look ~13 dB quieter than in the shared corpus.
    """
    x = rng.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(x)
        f = np.maximum(np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE), 20.0)
        spec /= f ** (0.5 if kind == "pink" else 1.0)
        spec[0] = 0.0
        x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def render_audio(u: dict[str, Any]) -> np.ndarray:
    """espeak-ng (22.05 kHz) -> sox (16 kHz int16), trim, pad with silence, level, add noise -> int16 samples."""
    voice = u["voice"].split(":", 1)[1]
    cmd = ["espeak-ng", "-v", voice, "-s", str(u["rate"]), "-p", str(u["pitch"]), "-g", str(u["word_gap"])]
    wav = subprocess.run([*cmd, "--stdout", u["text"]], capture_output=True, check=True).stdout
    sox = ["sox", "-V1", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16"]
    raw = subprocess.run([*sox, "-c", "1", "-"], input=wav, capture_output=True, check=True).stdout  # -D: no dither
    speech = np.frombuffer(raw, dtype=np.int16).astype(np.float64) / 32768.0
    loud = np.flatnonzero(np.abs(speech) > 0.01 * (np.abs(speech).max() + 1e-9))  # espeak's own edge silence
    speech = speech[loud[0] : loud[-1] + 1] if len(loud) else speech
    speech *= 10 ** (u["level_dbfs"] / 20) / (np.sqrt(np.mean(speech**2)) + 1e-12)
    lead, trail = (round(u[k] * SAMPLE_RATE) for k in ("lead_s", "trail_s"))
    x = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
    x += colored_noise(u["noise"], len(x), np.random.RandomState(u["noise_seed"])) * 10 ** (
        (u["level_dbfs"] - u["snr_db"]) / 20
    )
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def fbank(samples: np.ndarray) -> np.ndarray:
    """80-bin log-mel as in the shared corpus (Kaldi scale input, no dither, snip_edges=False) -> float16 [T, 80]."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = SAMPLE_RATE
    opts.frame_opts.dither = 0
    opts.frame_opts.snip_edges = False
    opts.mel_opts.num_bins = 80
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(SAMPLE_RATE, samples.astype(np.float32).tolist())
    fb.input_finished()
    return np.array([fb.get_frame(i) for i in range(fb.num_frames_ready)], dtype=np.float16).reshape(-1, 80)


def process(job: tuple[dict[str, Any], str | None]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Pool worker: one utterance to (manifest row, features, labels); stores FLAC when given an audio dir."""
    u, audio_dir = job
    samples = render_audio(u)
    feats = fbank(samples)
    meta = {k: v for k, v in u.items() if k != "noise_seed"}
    meta["path"] = None
    if audio_dir is not None:
        import soundfile

        soundfile.write(Path(audio_dir) / f"{u['id']}.flac", samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        meta["path"] = f"audio/dev/{u['id']}.flac"
    meta.update(duration=round(len(samples) / SAMPLE_RATE, 4), num_samples=len(samples), num_frames=len(feats))
    order = ("id", "path", "duration", "text", "voice")  # the documented fields first, as in the shared manifests
    return {**{k: meta[k] for k in order}, **meta}, feats, text_to_labels(u["text"])


def synthesize(out: Path, small: bool, jobs: int) -> None:
    """Generates both splits; results arrive in plan order (imap) so HDF, manifest and tags line up."""
    start, done = time.time(), 0
    plans = {split: plan_split(split, PER_TASK[small][split]) for split in SPLITS}
    total = sum(len(p) for p in plans.values())
    with multiprocessing.Pool(max(1, jobs)) as pool:
        for split, plan in plans.items():
            audio_dir = out / "audio" / "dev" if split == "dev" else None
            if audio_dir is not None:
                audio_dir.mkdir(parents=True, exist_ok=True)
            writer, rows = HDFWriter(out / f"{split}.hdf", hdf_specs(), compression="gzip"), []
            for meta, feats, labels in pool.imap(process, [(u, audio_dir and str(audio_dir)) for u in plan], 4):
                writer.add(meta["id"], {"data": feats, "classes": labels})
                rows.append(meta)
                done += 1
                if done % 500 == 0 or done == total:
                    print(f"prepare: synthesized {done}/{total} utterances ({time.time() - start:.1f} s)", flush=True)
            writer.close()
            write_manifest(out / f"{split}.jsonl", rows)


def require_tools() -> None:
    """Fails before anything in OUT is removed, with the one command that fixes it."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"prepare: '{tool}' not found; install the tools with: apt-get install espeak-ng sox")


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    """One JSON object per line, in HDF order (the trainer's reports join on the id)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """The rows of a jsonl manifest."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def link_shared(shared: Path, out: Path) -> None:
    """Full variant: symlinks cost nothing and keep one copy of 130 MB of features on disk."""
    for name in FILES:
        if (shared / name).exists():
            (out / name).symlink_to((shared / name).resolve())


def subset_shared(shared: Path, out: Path) -> None:
    """--small: the first N utterances per task (file order) rewritten with seqtrain's writer, same keys/vocab."""
    if (shared / "audio").exists():  # manifest paths (audio/dev/...) stay valid relative to OUT
        (out / "audio").symlink_to((shared / "audio").resolve())
    for split in SPLITS:
        rows = read_manifest(shared / f"{split}.jsonl")
        taken: Counter[str] = Counter()
        keep = []
        for i, r in enumerate(rows):
            if taken[r["task"]] < PER_TASK[True][split]:
                taken[r["task"]] += 1
                keep.append(i)
        src = HDFDataset([str(shared / f"{split}.hdf")])
        writer = HDFWriter(out / f"{split}.hdf", hdf_specs(tuple(src.labels("classes") or VOCAB)), compression="gzip")
        for i in keep:
            if src.seq_tag(i) != rows[i]["id"]:
                raise SystemExit(f"prepare: {shared}/{split}.hdf and .jsonl disagree at {i}: {src.seq_tag(i)}")
            seq = src.get_seq(i)
            writer.add(rows[i]["id"], {"data": seq["data"], "classes": seq["classes"]})
        writer.close()
        write_manifest(out / f"{split}.jsonl", [rows[i] for i in keep])


def check_outputs(out: Path) -> dict[str, dict[str, int]]:
    """Loads what was written the way training will (HDFDataset) and cross-checks it with the manifests."""
    counts = {}
    for split in SPLITS:
        rows = read_manifest(out / f"{split}.jsonl")
        ds = HDFDataset([str(out / f"{split}.hdf")])
        vocab = ds.labels("classes") or []
        if ds.num_seqs != len(rows) or "".join(vocab) != VOCAB:
            raise SystemExit(f"prepare: {split}: {ds.num_seqs} seqs vs {len(rows)} manifest rows, vocab {vocab!r}")
        for i in {0, len(rows) - 1}:
            text = "".join(vocab[j] for j in ds.get_seq(i)["classes"])
            if ds.seq_tag(i) != rows[i]["id"] or text != rows[i]["text"]:
                raise SystemExit(f"prepare: {split}[{i}]: HDF {ds.seq_tag(i)!r} {text!r} vs manifest {rows[i]}")
        counts[split] = dict(Counter(r.get("task", "?") for r in rows), total=len(rows))
    return counts


def write_lexicon(out: Path) -> None:
    """OUT/lexicon.txt: every word of the training transcriptions, one per line (`recog_lexicon` of HMM decoding).

    Dev words come from the same lists, so this is a closed-vocabulary task, as the corpus' README describes.
    """
    words = sorted({w for row in read_manifest(out / "train.jsonl") for w in row["text"].split()})
    temporary = out / "lexicon.txt.tmp"
    temporary.write_text("".join(f"{w}\n" for w in words))
    temporary.replace(out / "lexicon.txt")


def clear_outputs(out: Path) -> None:
    """Removes earlier outputs first: writing through a leftover symlink would try to modify the shared corpus."""
    for name in ("done.json", "lexicon.txt", *FILES):
        p = out / name
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory, e.g. data/tts_digits")
    ap.add_argument("--small", action="store_true", help="150+150 train / 50+50 dev utterances (smoke tests)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for synthesis")
    ap.add_argument("--force", action="store_true", help="rebuild even if OUT/done.json matches")
    ap.add_argument("--synthesize", action="store_true", help="generate with espeak-ng even if a shared copy exists")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Prepares OUT unless done.json says it already holds what was asked for."""
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    out, marker, start = args.out, args.out / "done.json", time.time()
    if marker.exists() and not args.force:
        done = json.loads(marker.read_text())
        if done.get("small") == args.small and (not args.synthesize or done.get("source") == "espeak-ng"):
            if not (out / "lexicon.txt").is_file():  # prepared before the lexicon existed
                write_lexicon(out)
            print(f"prepare: already prepared in {out} ({done.get('source')}, {done.get('counts')}); --force redoes it")
            return 0
    shared = default_shared_dir()
    use_shared = not args.synthesize and all((shared / f).is_file() for f in FILES[:4])
    if not use_shared:
        require_tools()
    out.mkdir(parents=True, exist_ok=True)
    clear_outputs(out)
    if use_shared:
        print(f"prepare: using the shared corpus {shared} ({'subset' if args.small else 'symlinks'})", flush=True)
        (subset_shared if args.small else link_shared)(shared, out)
    else:
        print(f"prepare: synthesizing with espeak-ng into {out} (jobs={args.jobs})", flush=True)
        synthesize(out, args.small, args.jobs)
    counts = check_outputs(out)
    write_lexicon(out)
    wall = round(time.time() - start, 2)
    info = {
        "source": "shared" if use_shared else "espeak-ng",
        "shared_dir": str(shared) if use_shared else None,
        "small": args.small,
        "counts": counts,
        "wall_s": wall,
        "command": shlex.join(["python", "recipes/tts_digits/prepare.py", *argv]),
    }
    marker.write_text(json.dumps(info, indent=1) + "\n")  # last: its presence means everything above is complete
    print(f"prepare: done in {wall:.1f} s: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
