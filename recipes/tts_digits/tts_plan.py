"""What the tts_digits corpus says and who says it: texts, voices and post-processing of every set, drawn up front.

Train and dev share 32 espeak-ng voices; the test sets use voices training never hears (espeak-ng accents and
variants outside the training lists, and a second synthesizer, flite), so their WER measures generalization.
Every random choice of a set comes from RandomState((set seed, task index)) in one process: results do not depend
on --jobs, and the --small plan is exactly the first utterances of the full plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from tts_voices import ACCENT_ROOT, PREFIX, ROOT, accent_names, variant_names

from seqtrain.data.dataset import DataSpec

VOCAB = " abcdefghijklmnopqrstuvwxyz"  # index 0 is the space; a CTC model adds its blank itself (e.g. as 27)
TASKS = ("digits", "sentences")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh")
# The 200 sentence words of the shared prepared copy (../shared/data/tts_digits_sentences, read off its transcripts;
# none is a digit word), so a model trained on either copy is scored on words it was trained on.
_WORDS = """
a about above after again against air all also always among an and animal answer any are area as ask at away back
base be been before began begin behind best better between big bird black blue boat body book both box boy bring
brought build but by call came can car carry change children city class clear close cold color come could country
course cover cross cut dark day deep did do does dog door down draw drive dry during each early earth east eat end
enough even ever every example face fall family far farm fast father feel few field find fire first fish fly follow
food foot form found free friend from front full game gave get girl give go gold good green ground group grow half
hand happen hard has have he head help her here high him his hold home horse hot house how idea if in is island it
just keep kind king land large last late laugh learn leave left less let letter life light like line list little
long look love make man money moon more mother mountain music name near never new next night number of old on open
people water
"""
SENTENCE_WORDS = tuple(_WORDS.split())
NOISES = ("white", "pink", "brown")

# Training voices: espeak-ng 1.51's English accents x its classic numbered variants (32 voices).
ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3")
# Unseen espeak-ng voices: every other English accent (plain "en" is the en-gb voice file, the mbrola voices need
# mbrola) x 24 variants that stay intelligible: a 1-nearest-neighbour DTW word classifier with templates from
# training voices recognizes >= 95 % of 20 words in each (the training variants score 95-100 %). Left out: whisper
# (50 %), whisperf (20 %), echo/robot effects (RicishayMax*, robosoft*, UniRobot, announcer, Demonic: 50-90 %) and
# the other voices under 95 % (Alicia, zac, kaukovalta, Marco, shelby, Lee, david, Jacky, adam, benjamin, edward*).
UNSEEN_ACCENTS = ("en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
UNSEEN_VARIANTS = (
    *("m6", "m7", "m8", "f4", "f5"),  # the numbered voices after the training ones
    *("klatt", "klatt2", "klatt3"),  # Klatt formant synthesis instead of espeak-ng's default one
    *("Alex", "Andy", "Denis", "Gene", "max", "paul", "travis", "grandpa"),  # contributed male voices
    *("Andrea", "Annie", "anika", "belinda", "linda", "steph", "grandma", "aunty"),  # contributed female voices
)
# flite 2.2's English voices with their own mean pitch in Hz (measured), the centre of the drawn pitch target.
# kal is an 8 kHz diphone voice (no energy above 4 kHz after resampling), kal16 its 16 kHz twin; awb, rms, slt
# are clustergen voices; rms ignores pitch targets (None: none is passed). awb_time is left out: it only speaks
# clock times.
FLITE_VOICES: dict[str, float | None] = {"kal": 95.0, "kal16": 95.0, "awb": 128.0, "rms": None, "slt": 172.0}
# SVOX Pico (Android's synthesizer; the `ttspico` package): a third engine, for training only (prepare.py
# --pico-share): its two English voices (both female; the pitch draw reaches male ranges) speak a share of train.
# Neither engine nor voice is in a test set, so flite stays a synthesizer training never hears.
PICO_VOICES = ("en-US", "en-GB")
PICO_SEED = 6  # of which train utterances Pico speaks and how
# Festival (Debian's festival + festvox-kdlpc16k; prepare.py --festival-share): a fourth engine, for training only:
# its one US English voice here, ked, a male diphone voice (residual-excited LPC), speaks a share of train's espeak-ng
# utterances at a drawn rate and mean pitch. flite is Festival's small C port and flite's kal voices are Festival's
# kal diphones: Festival's kal voice (festvox-kallpc16k, which apt may add as Festival's recommendation) is never used,
# so every flite voice stays unheard (ked is another speaker); what training shares with flite's kal is the diphone
# synthesis method.
FESTIVAL_VOICES = ("ked_diphone",)
FESTIVAL_SEED = 9  # of which train utterances Festival speaks and how
# MBROLA (Debian's mbrola + mbrola-us1/us2/us3/en1, in contrib/non-free; prepare.py --mbrola-share): a fifth engine,
# for training only: diphones cut from recordings of four speakers (us1, us2: Babel Technology; us3: OGI/CSLU; en1:
# CSTR's British "roger") resynthesized by MBR-PSOLA, driven by espeak-ng's front end (its mb-* voices read the text
# and give phonemes, durations and pitch). No code, voice or speaker is flite's; what it shares with flite's kal
# voices is the diphone method, as Festival's ked does, but not their lineage.
MBROLA_VOICES = ("mb-us1", "mb-us2", "mb-us3", "mb-en1")
MBROLA_SEED = 10  # of which train utterances MBROLA speaks and in which voice
# RHVoice (Debian's rhvoice + rhvoice-english, non-free; prepare.py --rhvoice-share): a sixth engine, for training
# only: statistical parametric synthesis (HMM-trained models, its own vocoder) with its own front end, four voices
# trained on recordings of four speakers: bdl and clb, two CMU ARCTIC speakers, and lyubov and evgeniy-eng, two
# Russian speakers' English. Its alan voice is ARCTIC's awb speaker and its slt voice ARCTIC's slt, both flite test
# voices' speakers: never used, so no flite speaker is heard; what bdl and clb share with flite's awb, rms and slt is
# the ARCTIC recording setup (another speaker from the same studio, as in any corpus' train/test split).
RHVOICE_VOICES = ("bdl", "clb", "lyubov", "evgeniy-eng")
RHVOICE_SEED = 11  # of which train utterances RHVoice speaks and how
# A second dev set, dev_festival, for choices that must not be made on the test sets nor only on espeak-ng's dev:
# Festival's two US/British English diphone voices of Debian's main archive, ked (festvox-kdlpc16k, 16 kHz) and don
# (festvox-don, 10 kHz), neither a flite voice nor in the recipe's training corpus (--festival-share would put ked
# there: that corpus' dev_festival is half heard). A synthesizer training never hears, as flite is for the tests.
DEV_FESTIVAL_VOICES = ("ked_diphone", "don_diphone")
# Drawn accents (prepare.py --accent-share): a training accent with a few vowel shifts (tts_voices.random_accent).
ACCENT_SEED = 8  # of the drawn accents and of which train utterances they speak
ACCENT_COUNT = 48  # drawn accents: 12 per training accent


@dataclass(frozen=True)
class CorpusSet:
    """One set of the corpus: its seed, engine and voices, and how many utterances per task (full, --small)."""

    name: str
    seed: int
    engine: str  # "espeak", "flite" or "festival" (train's Pico, Festival, MBROLA, RHVoice shares: with_pico ...)
    voices: tuple[str, ...]  # flite or Festival voices; espeak sets draw an accent and a variant instead
    accents: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    per_task: tuple[int, int] = (300, 50)

    @property
    def test(self) -> bool:
        """Test sets are never trained on nor tuned on; their voices are disjoint from training's."""
        return self.name.startswith("test_")

    def voice_names(self) -> set[str]:
        """Every voice the set can draw, as its manifest rows name them ("espeak:en-us+m1", "flite:slt")."""
        if self.engine == "espeak":
            return {f"espeak:{a}+{v}" for a in self.accents for v in self.variants}
        return {f"{self.engine}:{v}" for v in self.voices}


def _espeak(
    name: str, seed: int, accents: tuple[str, ...], variants: tuple[str, ...], per_task: tuple[int, int]
) -> CorpusSet:
    return CorpusSet(name, seed, "espeak", (), accents, variants, per_task)


SETS: dict[str, CorpusSet] = {
    s.name: s
    for s in (
        _espeak("train", 1, ACCENTS, VARIANTS, (3000, 150)),
        _espeak("dev", 2, ACCENTS, VARIANTS, (300, 50)),
        _espeak("test_espeak_unseen", 3, UNSEEN_ACCENTS, UNSEEN_VARIANTS, (300, 50)),
        CorpusSet("test_flite", 4, "flite", tuple(FLITE_VOICES)),
        CorpusSet("dev_festival", 12, "festival", DEV_FESTIVAL_VOICES),
    )
}
TEST_SETS = tuple(name for name, s in SETS.items() if s.test)
RANDOM_VOICE_SEED = 5  # of the drawn training variants (prepare.py --random-voices N: rv000 .. rv<N-1>)


def with_random_voices(name: str, count: int) -> CorpusSet:
    """The set `name` whose variants are the classic ones plus `count` drawn ones (only train takes them: dev
    stays on the 32 classic voices, so dev WERs compare across corpora, and test sets never hear a drawn voice)."""
    s = SETS[name]
    if count and name != "train":
        raise ValueError(f"only the train set takes random voices, not {name!r}")
    return replace(s, variants=s.variants + variant_names(count)) if count else s


def _share_of_each_task(
    plan: list[dict[str, Any]], share: float, what: str, seed: int, eligible: Callable[[dict[str, Any]], bool]
) -> Iterator[tuple[np.random.RandomState, dict[str, Any]]]:
    """`share` of each task's eligible utterances of `plan`, in plan order, each with the task's RandomState((seed,
    task)) that chose them, for the caller's further draws: one way of picking for every change of the train plan."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the {what} share must be within [0, 1], got {share}")
    for t, task in enumerate(TASKS):
        rng = np.random.RandomState([seed, t])
        rows = [i for i, u in enumerate(plan) if u["task"] == task and eligible(u)]
        for i in sorted(rng.choice(rows, size=round(share * len(rows)), replace=False)):
            yield rng, plan[i]


def with_pico(plan: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
    """`plan` with SVOX Pico speaking `share` of each task's utterances, drawn from RandomState((PICO_SEED, task)).

    The texts, ids, noise and levels stay the plan's, so only the synthesizer changes; Pico's own options are its
    voice, speed (% of its default rate, about espeak's 130-200 wpm spread) and pitch (% of the voice's own)."""
    plan = [dict(u) for u in plan]
    for rng, u in _share_of_each_task(plan, share, "Pico", PICO_SEED, lambda u: True):
        for key in ("rate", "pitch", "word_gap", "espeak_root"):  # espeak-ng's options
            u.pop(key, None)
        u.update(
            voice=f"pico:{PICO_VOICES[rng.randint(len(PICO_VOICES))]}",
            engine="pico",
            speed=int(rng.randint(75, 121)),
            pitch=int(rng.randint(60, 141)),
        )
    return plan


def _in_classic_espeak_voice(u: dict[str, Any]) -> bool:
    """espeak-ng speaking in an installed accent and variant (not Pico, not a drawn voice or accent)."""
    return u["engine"] == "espeak" and "espeak_root" not in u


def with_festival(plan: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
    """`plan` with Festival speaking `share` of each task's espeak-ng utterances in a classic voice, drawn from
    RandomState((FESTIVAL_SEED, task)); run it after with_pico, whose utterances it leaves alone. Texts, ids, noise
    and levels stay the plan's; Festival's own options are drawn as dev_festival's are (_festival_voice)."""
    plan = [dict(u) for u in plan]
    for rng, u in _share_of_each_task(plan, share, "Festival", FESTIVAL_SEED, _in_classic_espeak_voice):
        _instead_of_espeak(u, _festival_voice(FESTIVAL_VOICES, rng))
    return plan


def _festival_voice(voices: tuple[str, ...], rng: np.random.RandomState) -> dict[str, Any]:
    """A Festival utterance's own options, drawn in this order: one of `voices`, its duration stretch (> 1 is
    slower; ked's default is 1.1) and the mean of its intonation model's pitch targets in Hz (75-170; ked's
    default 105: male and low female)."""
    voice = voices[rng.randint(len(voices))]
    stretch, f0_mean = round(float(rng.uniform(0.85, 1.3)), 3), int(rng.randint(75, 171))
    return {"voice": f"festival:{voice}", "engine": "festival", "duration_stretch": stretch, "f0_mean": f0_mean}


def _instead_of_espeak(u: dict[str, Any], engine_options: dict[str, Any]) -> None:
    """Has another engine speak a planned espeak-ng utterance: espeak-ng's own options give way to the engine's."""
    for key in ("rate", "pitch", "word_gap"):
        u.pop(key)
    u.update(engine_options)


def with_mbrola(plan: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
    """`plan` with an MBROLA voice speaking `share` of each task's espeak-ng utterances in a classic voice, drawn
    from RandomState((MBROLA_SEED, task)); run it after with_pico and with_festival, whose utterances it leaves
    alone. espeak-ng still reads the text, so the utterance keeps its drawn rate, pitch and word gap (the pitch
    relative to the MBROLA voice's own); texts, ids, noise and levels stay the plan's."""
    plan = [dict(u) for u in plan]
    for rng, u in _share_of_each_task(plan, share, "MBROLA", MBROLA_SEED, _in_classic_espeak_voice):
        u.update(voice=f"mbrola:{MBROLA_VOICES[rng.randint(len(MBROLA_VOICES))]}", engine="mbrola")
    return plan


def with_rhvoice(plan: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
    """`plan` with an RHVoice voice speaking `share` of each task's espeak-ng utterances in a classic voice, drawn
    from RandomState((RHVOICE_SEED, task)); run it after with_pico, with_festival and with_mbrola, whose utterances
    it leaves alone (and whose choices it therefore does not change). Texts, ids, noise and levels stay the plan's;
    RHVoice's own options are its rate and pitch in % of the voice's own (about espeak-ng's spread of each). One
    quirk, measured and left: clb asked for less than 69 % of its pitch speaks at about 220 Hz, above its own 182 Hz
    (the other voices follow down to 50 %), so about 1 in 15 of its utterances is higher instead of lower."""
    plan = [dict(u) for u in plan]
    for rng, u in _share_of_each_task(plan, share, "RHVoice", RHVOICE_SEED, _in_classic_espeak_voice):
        voice = f"rhvoice:{RHVOICE_VOICES[rng.randint(len(RHVOICE_VOICES))]}"
        speed, pitch = int(rng.randint(75, 126)), int(rng.randint(65, 126))
        _instead_of_espeak(u, {"voice": voice, "engine": "rhvoice", "speed": speed, "pitch": pitch})
    return plan


def with_accents(plan: list[dict[str, Any]], share: float, count: int = ACCENT_COUNT) -> list[dict[str, Any]]:
    """`plan` with `share` of each task's espeak-ng utterances spoken in a drawn accent instead of their own,
    chosen from RandomState((ACCENT_SEED, task)) among those in a classic variant (not Pico's or Festival's, not a
    drawn variant's): variant, rate, pitch, texts, noise and levels stay the plan's. Run it after with_pico and
    with_festival."""
    plan = [dict(u) for u in plan]
    names = accent_names(count)
    for rng, u in _share_of_each_task(plan, share, "accent", ACCENT_SEED, _in_classic_espeak_voice):
        variant = u["voice"].split("+", 1)[1]
        u.update(voice=f"espeak:{names[rng.randint(count)]}+{variant}", espeak_root=ACCENT_ROOT)
    return plan


def per_task(name: str, small: bool) -> int:
    """Utterances per task of a set (digits and sentences each)."""
    return SETS[name].per_task[1 if small else 0]


def hdf_specs(vocab: str | tuple[str, ...] = VOCAB) -> dict[str, DataSpec]:
    """The two data keys, identical for all sets and sources so that configs need not know which one was used."""
    return {
        "data": DataSpec(dim=80, dtype="float16", feature_shape=(80,)),
        "classes": DataSpec(dim=len(vocab), dtype="int32", sparse=True, vocab=tuple(vocab)),
    }


def text_to_labels(text: str) -> np.ndarray:
    """Characters to vocab indices; raises on anything outside a-z and space rather than silently dropping it."""
    return np.array([VOCAB.index(c) for c in text.lower()], dtype=np.int32)


def _voice(s: CorpusSet, rng: np.random.RandomState) -> dict[str, Any]:
    """The engine's own options of one utterance. espeak draws in the order of the first corpus version, so the
    train and dev plans stay what they were: accent, variant, rate (wpm), pitch (0-99), word gap (10 ms units)."""
    if s.engine == "espeak":
        voice = f"{s.accents[rng.randint(len(s.accents))]}+{s.variants[rng.randint(len(s.variants))]}"
        return {
            "voice": f"espeak:{voice}",
            "engine": "espeak",
            "rate": int(rng.randint(130, 201)),
            "pitch": int(rng.randint(30, 71)),
            "word_gap": int(rng.randint(0, 4)),
        }
    if s.engine == "festival":
        return _festival_voice(s.voices, rng)
    voice = s.voices[rng.randint(len(s.voices))]
    stretch = round(float(rng.uniform(0.85, 1.25)), 3)  # about the spread of espeak's 130-200 wpm
    factor, base = float(rng.uniform(0.85, 1.2)), FLITE_VOICES[voice]
    f0 = round(base * factor, 1) if base is not None else None
    return {"voice": f"flite:{voice}", "engine": "flite", "duration_stretch": stretch, "f0_mean": f0}


def plan_set(name: str, count: int, random_voices: int = 0) -> list[dict[str, Any]]:
    """All random choices of `count` utterances per task of a set: text, voice, then noise, level and silences.

    With `random_voices` (train only) the variant is drawn from the classic ones and that many drawn ones; an
    utterance in a drawn voice names espeak-ng's private data folder (`espeak_root`, relative to OUT)."""
    s = with_random_voices(name, random_voices)
    plan = []
    for t, task in enumerate(TASKS):
        rng = np.random.RandomState([s.seed, t])
        words, lo, hi = (DIGIT_WORDS, 1, 7) if task == "digits" else (SENTENCE_WORDS, 3, 8)
        for i in range(count):
            text = " ".join(rng.choice(words, size=rng.randint(lo, hi + 1)))
            u: dict[str, Any] = {"id": f"{name}-{task}-{i:05d}", "text": text}
            voice = _voice(s, rng)
            u.update(voice=voice.pop("voice"), task=task, **voice)
            if u["voice"].split("+")[-1].startswith(PREFIX):
                u["espeak_root"] = ROOT
            u.update(
                snr_db=round(float(rng.uniform(15, 30)), 2),
                noise=NOISES[rng.randint(len(NOISES))],
                level_dbfs=round(float(rng.uniform(-30, -18)), 2),
                lead_s=round(float(rng.uniform(0.05, 0.35)), 3),
                trail_s=round(float(rng.uniform(0.05, 0.35)), 3),
                noise_seed=int(rng.randint(2**31 - 1)),
            )
            plan.append(u)
    return plan
