# Sourced by run.sh and test.sh: system packages, a virtual environment, and seqtrain installed into it.
# Idempotent: a second run only checks.
if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then
  echo "installing espeak-ng and sox (speech synthesis for the recipe's data preparation)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  $SUDO apt-get install -y -qq espeak-ng sox >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import seqtrain, pytest" >/dev/null 2>&1 || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
  touch .venv/.installed
fi
