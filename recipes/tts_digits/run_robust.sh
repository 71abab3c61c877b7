#!/usr/bin/env bash
# The robust recipe (robust_conformer.py) end to end: a synthesized corpus with its audio (train spoken by espeak-ng,
# SVOX Pico for a fifth, MBROLA and RHVoice; its own folder, so run.sh's corpus stays as it is), conformer CTC trained on
# audio augmented on the fly, dev WER of every epoch, LM decoding tuned on dev_festival (the held-out synthesizer's dev
# set: dev's voices are the training voices), then dev, dev_festival and the test sets (voices training never hears)
# with and without the LM. Run from anywhere, after scripts/setup_env.sh (./run.sh does it).
set -euo pipefail
cd "$(dirname "$0")/../.."
export TTS_DIGITS_DATA=${TTS_DIGITS_DATA:-data/tts_digits_robust}
export TTS_DIGITS_EXP=${TTS_DIGITS_EXP:-exp/tts_digits/robust_conformer}
CONFIG=recipes/tts_digits/robust_conformer.py
SEQTRAIN=.venv/bin/seqtrain
SETS=dev,dev_festival,test_espeak_unseen,test_flite
# synthesizes, keeps the audio: train spoken by espeak-ng, Pico, MBROLA and RHVoice
.venv/bin/python recipes/tts_digits/prepare.py --out "$TTS_DIGITS_DATA" --pico-share 0.2 --mbrola-share 0.15 \
  --rhvoice-share 0.15
$SEQTRAIN train "$CONFIG"
EPOCHS=$(.venv/bin/python -c "import runpy; print(runpy.run_path('$CONFIG')['num_epochs'])")
for epoch in $(seq 1 "$EPOCHS"); do  # the dev WER of every epoch (greedy: what the model alone does)
  $SEQTRAIN recog "$CONFIG" --epoch "$epoch" --data dev recog_decoder=ctc_greedy
done
# dev would always pick LM weight 0: its voices are the training voices, where the model alone is nearly right
$SEQTRAIN recog "$CONFIG" --data dev_festival --tune recog_lm_weight=0,0.25,0.5,0.75,1,1.5,2 \
  recog_word_penalty=-4,-3,-2,-1,0
TUNED=$(.venv/bin/python -c "
import json, sys
best = json.load(open(sys.argv[1]))['best']
print(' '.join(f'{k}={v}' for k, v in best.items() if k.startswith('recog_')))" "$TTS_DIGITS_EXP/model.recog_tune.dev_festival.json")
$SEQTRAIN recog "$CONFIG" --data "$SETS" recog_decoder=ctc_greedy   # without LM
$SEQTRAIN recog "$CONFIG" --data "$SETS" $TUNED                      # with the LM, weights tuned on dev_festival
