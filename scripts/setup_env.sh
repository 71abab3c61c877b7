if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v flite >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1 \
  || ! command -v text2wave >/dev/null 2>&1 || [ ! -d /usr/share/festival/voices/english/ked_diphone ]; then
  # Needed to synthesize the tts_digits corpus (recipes/tts_digits/prepare.py): its test sets always, train/dev
  # when no prepared copy is around; flite speaks the test set of a second synthesizer; Festival's ked voice speaks
  # a share of the robust recipe's train set (prepare.py --festival-share; never Festival's kal voice, which is flite's kal).
  echo "installing espeak-ng, flite, sox and festival (speech synthesis for the recipe's data preparation)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  packages="espeak-ng flite sox festival festvox-kdlpc16k"
  if ! { $SUDO apt-get update -qq >/dev/null 2>&1; $SUDO apt-get install -y -qq $packages >/dev/null; }; then
    echo "WARNING: could not install $packages with apt-get; data preparation will need them" >&2
  fi
fi
# MBROLA's diphone voices speak a share of the robust recipe's train set (prepare.py --mbrola-share); Debian keeps
# them in contrib/non-free, which scripts/install_mbrola.sh enables in a sources file of its own.
if command -v espeak-ng >/dev/null 2>&1 && ! espeak-ng -v mb-us3 --stdout one 2>/dev/null | head -c 100 | grep -q .; then
  if ! bash scripts/install_mbrola.sh; then
    echo "WARNING: could not install mbrola and its voices (scripts/install_mbrola.sh); prepare.py --mbrola-share will not work" >&2
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
