#!/usr/bin/env bash
# The tts_digits recipe: prepare data, train CTC (dev scores every epoch), decode dev, print the WER, then the WER
# of each test set (voices training never hears: unseen espeak-ng accents/variants, the flite synthesizer).
# Run from anywhere; data goes to data/tts_digits and the experiment to exp/tts_digits under the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
CONFIG=recipes/tts_digits/ctc_blstm.py
$PY recipes/tts_digits/prepare.py --out "${TTS_DIGITS_DATA:-data/tts_digits}"
.venv/bin/seqtrain train "$CONFIG" "$@"
.venv/bin/seqtrain recog "$CONFIG" --data dev "$@"
.venv/bin/seqtrain recog "$CONFIG" --data test_espeak_unseen,test_flite "$@"  # reported, never tuned on
.venv/bin/seqtrain plot "${TTS_DIGITS_EXP:-exp/tts_digits/ctc_blstm}/model"
