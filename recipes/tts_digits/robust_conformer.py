"""The conformer of conformer_ctc.py made robust to voices it never heard: four synthesizers, audio augmentation, LM.

    python recipes/tts_digits/prepare.py --out data/tts_digits_robust --pico-share 0.2 --mbrola-share 0.15 \
        --rhvoice-share 0.15
    seqtrain train recipes/tts_digits/robust_conformer.py
    seqtrain recog recipes/tts_digits/robust_conformer.py --data dev_festival --tune recog_lm_weight=... \
        recog_word_penalty=...
    seqtrain recog recipes/tts_digits/robust_conformer.py --data dev,dev_festival,test_espeak_unseen,test_flite

The corpus has its own folder (TTS_DIGITS_DATA, default data/tts_digits_robust): its train set is spoken by four
synthesizers, espeak-ng's 32 formant voices, SVOX Pico's two HMM voices for a fifth of the utterances
(--pico-share 0.2), MBROLA's four diphone voices, cut from recordings, for 15 % of the espeak-ng ones
(--mbrola-share 0.15) and RHVoice's four statistical parametric voices, trained on recordings, for 15 % of those
left (--rhvoice-share 0.15; both from scripts/install_nonfree_voices.sh), so the model hears speech made in more
than one way; dev and the test sets are the same as every tts_digits corpus', and flite, the test synthesizer, stays
unheard. The corpus was chosen on dev_festival (Festival's voices, a synthesizer neither training nor the tests
use), not on the test sets (README).
The training utterances are read as audio (`AudioDataset`) and changed differently every epoch before their
fbank features are computed: speed perturbation (vocal tract length and speaking rate together), pitch
shifts, broader formants and a breathier source (recorded voices are less sharp and less periodic than
espeak-ng's formant synthesis), a random equalizer curve and band limits (another synthesizer, microphone or
channel colours the spectrum differently), generated reverberation, extra noise and gain. On top of
conformer_ctc.py's SpecAugment, dropout and stochastic depth; trained in bfloat16 autocast with passive OpenMP
threads (`openmp_wait_policy`: the loader workers that augment get the cores), 17 epochs in 41.1 minutes where
spinning threads fitted 13. Decoding: CTC beam search over the training lexicon with a word 3-gram
LM of the training transcripts (`seqtrain lm`, written by prepare.py), weights tuned on dev_festival (dev's voices
are the training voices: it always picks LM weight 0). The labels are phonemes: each word's en-us pronunciation by
espeak-ng (prepare.py's lexicon.phones.txt, `LexiconVocab`), which decoding reads back as words (17 epochs: dev
1.92, unseen espeak-ng 9.75, flite 29.9 % WER; two more runs 1.64 / 9.41 / 29.5 and 1.82 / 9.75 / 28.0; README).
Every set is read from its audio (dev and tests un-augmented); the test sets (unseen espeak-ng voices, flite) are
never used in training, tuning or choosing.
"""

import copy
import json
import os
import runpy

from seqtrain.data.vocab import LexiconVocab

_DATA = os.environ.get("TTS_DIGITS_DATA", "data/tts_digits_robust")
_SHARES = "--pico-share 0.2 --mbrola-share 0.15 --rhvoice-share 0.15"  # who speaks train: the corpus of the README
_PREPARE = f"python recipes/tts_digits/prepare.py --out {_DATA} {_SHARES}"
_BASE = runpy.run_path(os.path.join(os.path.dirname(__file__), "conformer_ctc.py"))  # the same network


def _train_manifest() -> str:
    """The training manifest, with a clear word when it lists no audio (the shared corpus keeps features only)."""
    path = f"{_DATA}/train.jsonl"
    if os.path.exists(path):
        with open(path, encoding="utf8") as f:
            first = json.loads(f.readline() or "{}")
        if not first.get("path"):
            raise SystemExit(
                f"robust_conformer: {path} lists no audio files (a corpus prepared from the shared copy keeps only "
                f"features for train); prepare the recipe's corpus, with audio: {_PREPARE}"
            )
    return path


def _phonemes() -> str:
    """The pronunciation lexicon (prepare.py writes it with espeak-ng): the model's labels are its phonemes."""
    path = f"{_DATA}/lexicon.phones.txt"
    if not os.path.isfile(path):
        raise SystemExit(
            f"robust_conformer: {path} does not exist (the model's labels are its phonemes); prepare.py writes it "
            f"into a corpus prepared before it existed, too: {_PREPARE}"
        )
    return path


model = os.environ.get("TTS_DIGITS_EXP", "exp/tts_digits/robust_conformer") + "/model"
num_epochs = 17  # 2.0 min for epoch 1, 2.3-2.6 per augmented epoch on the 2-core machine: 41.1 min (13 before passive)
# the trainer's OpenMP threads sleep between ops, so the 2 loader workers that augment get the cores: augmented steps
# 1.25-1.3x faster than with spinning threads, side by side (docs/data.md); `seqtrain train` restarts itself to apply it
openmp_wait_policy = "passive"
# bfloat16 autocast: 1.23x the float32 train steps on this CPU (AVX512-BF16, `python -m bench.recipe_step_speed
# --precisions float32,bfloat16`), 5-7 % per epoch here (the loader workers share the cores): pays for the 13th epoch
torch_amp = "bfloat16"
grad_scaler = None  # bfloat16 has float32's range: no loss scaling
_AUGMENT = [  # milder than a tried stronger set (speed 0.8-1.25, pitch +-4 at 0.5, EQ +-12 at 0.7, bands at 0.4),
    # which was worse on every set (README)
    {"type": "speed", "factor": (0.85, 1.15)},
    {"type": "pitch", "semitones": (-3.0, 3.0), "prob": 0.3},
    # recorded voices' broader resonances and aspiration noise, which espeak-ng's formant synthesis lacks
    {"type": "formant_bandwidth", "widen_hz": (0.0, 300.0), "prob": 0.5},
    {"type": "breathiness", "noise_ratio": (0.0, 0.5), "prob": 0.5},
    {"type": "eq", "gain_db": (-10.0, 10.0), "num_points": 6, "prob": 0.6},
    {"type": "band_limit", "low_hz": (0.0, 400.0), "high_hz": (3000.0, 8000.0), "prob": 0.3},
    {"type": "reverb", "rt60_s": (0.1, 0.5), "prob": 0.2},
    {"type": "noise", "snr_db": (5.0, 30.0), "prob": 0.5},
    {"type": "gain", "db": (-10.0, 10.0)},
]
_train_manifest()  # a corpus without training audio gets the command that makes one
_LEXICON = _phonemes()
_VOCAB = {"class": "LexiconVocab", "lexicon": _LEXICON}  # each word as its en-us phonemes, " " between words
_NUM_LABELS = LexiconVocab(_LEXICON).num_labels  # 57 phonemes + " "; the CTC blank is appended


_HELD_OUT = ("dev_festival", "test_espeak_unseen", "test_flite")


def _manifest(name: str) -> str:
    """A set's manifest, with the command that adds it when the corpus was prepared before the set existed."""
    path = f"{_DATA}/{name}.jsonl"
    if not os.path.isfile(path):
        raise SystemExit(f"robust_conformer: {path} does not exist; prepare.py adds the missing sets: {_PREPARE}")
    return path


def _audio(manifest: str, **options: object) -> dict:
    """A set read from its audio (fbank on the fly, as the HDFs have it) with phoneme targets."""
    features = {"type": "fbank", "num_mel_bins": 80}
    return {"class": "AudioDataset", "manifest": manifest, "vocab": _VOCAB, "features": features, **options}


train = _audio(_manifest("train"), augment={1: [], 2: _AUGMENT}, seq_ordering="laplace:.100")  # epoch 1 clean
dev = _audio(_manifest("dev"), seq_ordering="sorted_reverse")  # un-augmented
# Scored only by `seqtrain recog --data NAME`: the test sets, and dev_festival, the held-out dev set (Festival's
# voices, a synthesizer training never hears) on which choices an espeak-ng dev cannot make are made
test_datasets = {name: _audio(_manifest(name), seq_ordering="sorted_reverse") for name in _HELD_OUT}
extern_data = {"data": {"dim": 80, "dtype": "float32"}, "classes": {"dim": _NUM_LABELS, "sparse": True}}
num_workers = 2  # features and augmentation are computed in the loader's processes, ahead of the trainer
batch_size = 8000
max_seqs = 64
optimizer = _BASE["optimizer"]
learning_rate = _BASE["learning_rate"]
# Warmup over 2 epochs, cosine to 5 % at the end of the last: in epochs, because speed perturbation changes the
# number of batches of every epoch (189-193 here); conformer_ctc.py's 400 warmup steps are about 2 epochs.
learning_rate_step_schedule = {
    "warmup_epochs": 2.0, "decay": "cosine", "decay_epochs": num_epochs - 2.0, "final_scale": 0.05,
}  # fmt: skip
gradient_clip_global_norm = 5.0
cleanup_old_models = False  # every epoch is decoded afterwards for the README's per-epoch dev WER
network = copy.deepcopy(_BASE["network"])  # conformer_ctc.py's, with an output per phoneme (+ blank)
network["aux_ctc"]["n_out"] = network["output"]["n_out"] = _NUM_LABELS + 1

recog_decoder = "ctc_beam"
recog_lexicon = _LEXICON  # the words and their pronunciations: only these words come out
recog_lm = f"{_DATA}/lm/words.3gram.arpa"
recog_beam_size = 32
# Tuned on dev_festival (unheard voices, like the tests'; dev, spoken by the training voices, picks 0 and -2) for
# the README's model, over weights 0 to 2 x penalties -4 to 0: dev_festival 34.9 % against 37.7 at dev's choice.
# Retune for your own model as run_robust.sh does.
recog_lm_weight = 0.5
recog_word_penalty = -1.0

recog_score_groups = {"digits": "-digits-", "sentences": "-sentences-"}  # WER per task after each set's WER
