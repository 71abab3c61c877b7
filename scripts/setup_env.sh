if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v flite >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1 \
  || ! command -v text2wave >/dev/null 2>&1 || [ ! -d /usr/share/festival/voices/english/ked_diphone ] \
  || [ ! -d /usr/share/festival/voices/english/don_diphone ]; then
  # Needed to synthesize the tts_digits corpus (recipes/tts_digits/prepare.py): its test sets and dev_festival
  # always, train/dev when no prepared copy is around; flite speaks the test set of a second synthesizer,
  # Festival's ked and don voices dev_festival (ked also a share of train with prepare.py --festival-share; never
  # Festival's kal voice, which is flite's kal).
  echo "installing espeak-ng, flite, sox and festival (speech synthesis for the recipe's data preparation)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  packages="espeak-ng flite sox festival festvox-kdlpc16k festvox-don"
  if ! { $SUDO apt-get update -qq >/dev/null 2>&1; $SUDO apt-get install -y -qq $packages >/dev/null; }; then
    echo "WARNING: could not install $packages with apt-get; data preparation will need them" >&2
  fi
fi
# MBROLA's diphone voices and RHVoice's voices speak shares of the robust recipe's train set (prepare.py
# --mbrola-share, --rhvoice-share); Debian keeps them in contrib/non-free, which scripts/install_nonfree_voices.sh
# enables in a sources file of its own.
if command -v espeak-ng >/dev/null 2>&1 && { ! command -v RHVoice-test >/dev/null 2>&1 \
    || ! espeak-ng -v mb-us3 --stdout one 2>/dev/null | head -c 100 | grep -q .; }; then
  if ! bash scripts/install_nonfree_voices.sh; then
    echo "WARNING: could not install mbrola, rhvoice and their voices (scripts/install_nonfree_voices.sh);" \
      "prepare.py --mbrola-share and --rhvoice-share will not work" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import seqtrain, pytest, returnn" >/dev/null 2>&1 || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
  touch .venv/.installed
fi
# SVOX Pico (prepare.py --pico-share, the robust recipe's corpus) compiles C sources; without a compiler only
# that option and its tests are missing, so a failure warns instead of stopping.
if ! .venv/bin/python -c "import ttspico" >/dev/null 2>&1; then
  if ! .venv/bin/pip install -q --disable-pip-version-check -e ".[tts]"; then
    echo "WARNING: could not install ttspico (SVOX Pico; needs gcc); prepare.py --pico-share will not work" >&2
  fi
fi
# KenLM's lmplz (`seqtrain lm`, the LM tests) is built from source once; without it those tests fail and say so.
if ! bash scripts/build_kenlm.sh; then
  echo "WARNING: could not build KenLM's lmplz (scripts/build_kenlm.sh); \`seqtrain lm\` and its tests will fail" >&2
fi
