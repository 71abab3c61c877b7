#!/usr/bin/env bash
# Builds KenLM's lmplz (n-gram estimation, `seqtrain lm`) and build_binary into .venv/bin.
#
# KenLM's Python package only queries models; the estimator is C++ that PyPI ships only as source, so we build it
# from the kenlm sdist (which contains lm/builder) with the system's cmake, g++ and Boost. Idempotent: does nothing
# when .venv/bin/lmplz exists. Run from scripts/setup_env.sh (so run.sh, test.sh and CI have it) or by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

KENLM_VERSION=0.3.0
if [ -x .venv/bin/lmplz ] && [ -x .venv/bin/build_binary ]; then
  exit 0
fi
if [ ! -x .venv/bin/pip ]; then
  echo "build_kenlm.sh: no .venv here; run scripts/setup_env.sh first" >&2
  exit 1
fi
echo "building KenLM $KENLM_VERSION's lmplz and build_binary into .venv/bin (word n-gram LMs; about a minute)"

# Build tools and the libraries lmplz links (Boost program_options/system/thread, compression for its input).
if ! command -v cmake >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1 \
  || [ ! -f /usr/include/boost/program_options.hpp ] || [ ! -f /usr/include/boost/thread.hpp ] \
  || [ ! -f /usr/include/boost/test/unit_test.hpp ] \
  || [ ! -f /usr/include/zlib.h ] || [ ! -f /usr/include/bzlib.h ] || [ ! -f /usr/include/lzma.h ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  if ! $SUDO apt-get install -y -qq cmake g++ make libboost-program-options-dev libboost-system-dev \
    libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev >/dev/null; then
    echo "build_kenlm.sh: could not install the build packages (cmake, g++, Boost, zlib/bz2/lzma) with apt-get" >&2
    exit 1
  fi
fi

src=.venv/src
mkdir -p "$src"
archive="$src/kenlm-$KENLM_VERSION.tar.gz"
if [ ! -f "$archive" ]; then
  if ! .venv/bin/pip download -q --disable-pip-version-check --no-deps --no-binary kenlm "kenlm==$KENLM_VERSION" \
    -d "$src"; then
    echo "build_kenlm.sh: could not download the kenlm $KENLM_VERSION source with pip" >&2
    exit 1
  fi
fi
rm -rf "$src/kenlm-$KENLM_VERSION"
tar -xzf "$archive" -C "$src"
build="$src/kenlm-$KENLM_VERSION/build"
mkdir -p "$build"
log="$src/kenlm-build.log"
if ! { cmake -S "$src/kenlm-$KENLM_VERSION" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  && make -C "$build" -j"$(nproc)" lmplz build_binary; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "build_kenlm.sh: the build failed; the full log is $log" >&2
  exit 1
fi
# Copy to a temporary name, then rename: an interrupted copy never passes for a built lmplz.
for tool in lmplz build_binary; do
  cp "$build/bin/$tool" ".venv/bin/.$tool.tmp"
  mv ".venv/bin/.$tool.tmp" ".venv/bin/$tool"
done
rm -rf "$src/kenlm-$KENLM_VERSION"
