#!/usr/bin/env bash
# Sets up everything on a fresh machine and runs the demo recipe end to end:
# data preparation, CTC training with dev evaluation every epoch, greedy decoding, WER.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
recipes/tts_digits/run.sh "$@"
