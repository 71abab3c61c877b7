"""How one planned utterance becomes audio and features: a synthesizer, then the same post-processing for every set.

espeak-ng (22.05 kHz; 16 kHz with an MBROLA voice), flite (8 or 16 kHz), Festival's text2wave (16 kHz) or RHVoice
(24 kHz) -> sox (16 kHz int16, no dither), or SVOX Pico (16 kHz, in this process) -> trim the engine's edge silence,
set the level, pad with silence, add coloured noise -> int16 samples -> 80-bin log-mel (the shared corpus' README).
Only the synthesizer differs between sets, so a test set's WER measures the voices, not the recording conditions.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from tts_plan import text_to_labels

SAMPLE_RATE = 16000


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


def synthesizer_command(u: dict[str, Any], out: str | Path) -> list[str]:
    """The engine's command line that writes the utterance as a wav file to stdout; a drawn espeak-ng voice is read
    from the private data folder under OUT (tts_voices.py)."""
    voice = u["voice"].split(":", 1)[1]
    if u["engine"] in ("espeak", "mbrola"):  # MBROLA voices are espeak-ng's mb-* voices
        root = [f"--path={Path(out) / u['espeak_root']}"] if u.get("espeak_root") else []
        opts = [*root, "-v", voice, "-s", str(u["rate"]), "-p", str(u["pitch"]), "-g", str(u["word_gap"])]
        return ["espeak-ng", *opts, "--stdout", u["text"]]
    if u["engine"] == "flite":
        opts = ["-voice", voice, "--setf", f"duration_stretch={u['duration_stretch']}"]
        if u["f0_mean"] is not None:
            opts += ["--setf", f"int_f0_target_mean={u['f0_mean']}"]
        return ["flite", *opts, "-t", u["text"], "-o", "/dev/stdout"]
    if u["engine"] == "festival":  # text2wave reads the text from stdin (synthesizer_input)
        intonation = f"(target_f0_mean {u['f0_mean']}) (target_f0_std 15) (model_f0_mean 170) (model_f0_std 34)"
        settings = [f"(voice_{voice})", f"(set! int_lr_params '({intonation}))"]
        settings.append(f"(Parameter.set 'Duration_Stretch {u['duration_stretch']})")
        return ["text2wave", *(arg for s in settings for arg in ("-eval", s))]
    if u["engine"] == "rhvoice":  # RHVoice-test reads the text from stdin (synthesizer_input)
        return ["RHVoice-test", "-p", voice, "-r", str(u["speed"]), "-t", str(u["pitch"]), "-o", "/dev/stdout"]
    raise ValueError(f"unknown engine {u['engine']!r} in utterance {u['id']}")


def synthesizer_input(u: dict[str, Any]) -> bytes | None:
    """What the engine reads on stdin: the text for Festival's text2wave and RHVoice, nothing for the others."""
    return u["text"].encode() if u["engine"] in ("festival", "rhvoice") else None


PICO_VOLUME = 40  # % of Pico's default level, which clips (up to 2400 samples at full scale per 6 s; none at 40)


def pico_speech(u: dict[str, Any]) -> bytes:
    """SVOX Pico's 16 kHz int16 samples of the utterance (its Python binding has no command line to call).

    A new engine per utterance (80 ms): an engine carries state from one text to the next (the same text twice
    gives other samples), so a reused one would make the audio depend on which worker spoke what before."""
    import ttspico

    engine = ttspico.TtsEngine(u["voice"].split(":", 1)[1])
    engine.rate, engine.pitch, engine.volume = u["speed"], u["pitch"], PICO_VOLUME
    samples = engine.speak(u["text"])
    if not samples:
        raise RuntimeError(f"SVOX Pico said nothing for utterance {u['id']} ({u['text']!r})")
    return samples


def speech(u: dict[str, Any], out: str | Path) -> np.ndarray:
    """The synthesizer's output at 16 kHz as floats in [-1, 1], its own leading and trailing silence trimmed."""
    if u["engine"] == "pico":
        raw = pico_speech(u)
    else:
        command, text = synthesizer_command(u, out), synthesizer_input(u)
        run = subprocess.run(command, input=text, capture_output=True)
        if run.returncode != 0:  # e.g. espeak-ng without the voice: "The specified espeak-ng voice does not exist."
            error = run.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"{u['engine']} failed for utterance {u['id']} ({u['text']!r}): {error} ({command})")
        wav = run.stdout
        if not wav:  # text2wave writes nothing, and exits 0, for a voice it does not know
            raise RuntimeError(f"{u['engine']} said nothing for utterance {u['id']} ({u['text']!r}): {command}")
        # a wav header written to a pipe (Festival's, RHVoice's) cannot say how long the data is: sox reads to the end
        whole = ["--ignore-length"] if u["engine"] in ("festival", "rhvoice") else []
        sox = ["sox", "-V1", "-D", *whole, "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed"]
        sox += ["-b", "16"]
        raw = subprocess.run([*sox, "-c", "1", "-"], input=wav, capture_output=True, check=True).stdout  # -D: no dither
    x = np.frombuffer(raw, dtype=np.int16).astype(np.float64) / 32768.0
    loud = np.flatnonzero(np.abs(x) > 0.01 * (np.abs(x).max() + 1e-9))
    return x[loud[0] : loud[-1] + 1] if len(loud) else x


def render_audio(u: dict[str, Any], out: str | Path) -> np.ndarray:
    """Synthesize, then level, pad with silence and add noise as planned -> int16 samples."""
    x = speech(u, out)
    x *= 10 ** (u["level_dbfs"] / 20) / (np.sqrt(np.mean(x**2)) + 1e-12)
    lead, trail = (round(u[k] * SAMPLE_RATE) for k in ("lead_s", "trail_s"))
    x = np.concatenate([np.zeros(lead), x, np.zeros(trail)])
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


def process(job: tuple[dict[str, Any], str, str]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Pool worker: one utterance to (manifest row, features, labels), its FLAC stored as OUT/audio/<set>/<id>.flac.

    job = (utterance, OUT, set name); the row's `path` is relative to OUT, where the manifests are, so
    AudioDataset finds the audio without an `audio_root`.
    """
    u, out, name = job
    samples = render_audio(u, out)
    feats = fbank(samples)
    path = f"audio/{name}/{u['id']}.flac"
    soundfile.write(Path(out) / path, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    meta = {k: v for k, v in u.items() if k != "noise_seed"}
    meta.update(path=path, duration=round(len(samples) / SAMPLE_RATE, 4), num_samples=len(samples))
    meta["num_frames"] = len(feats)
    order = ("id", "path", "duration", "text", "voice")  # the documented fields first, as in the shared manifests
    return {**{k: meta[k] for k in order}, **meta}, feats, text_to_labels(u["text"])
