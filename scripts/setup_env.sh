# Sourced by run.sh and test.sh: system packages, a virtual environment, and seqtrain installed into it.
# Idempotent: a second run only checks.
if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then
  # Needed to synthesize the tts_digits corpus when no prepared copy is around (recipes/tts_digits/prepare.py).
  echo "installing espeak-ng and sox (speech synthesis for the recipe's data preparation)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! { $SUDO apt-get update -qq >/dev/null 2>&1; $SUDO apt-get install -y -qq espeak-ng sox >/dev/null; }; then
    echo "WARNING: could not install espeak-ng and sox with apt-get; data preparation will need them" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import seqtrain, pytest, returnn" >/dev/null 2>&1 || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
  touch .venv/.installed
fi
