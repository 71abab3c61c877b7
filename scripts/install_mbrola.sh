#!/usr/bin/env bash
# MBROLA and its four English voices, for `prepare.py --mbrola-share` (a fifth synthesizer for the robust recipe's
# train set). Debian keeps mbrola in contrib and its voices in non-free (free to use for non-commercial research, not
# to sell: /usr/share/doc/mbrola-us1/copyright), so this enables those two components in a file of its own,
# /etc/apt/sources.list.d/seqtrain-contrib-non-free.sources, which deleting undoes; Ubuntu has them in multiverse.
set -euo pipefail
PACKAGES="mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if $SUDO apt-get install -y -qq $PACKAGES >/dev/null 2>&1; then
  echo "install_mbrola.sh: $PACKAGES installed"
  exit 0
fi
. /etc/os-release
case "${ID:-}" in
  debian)
    echo "install_mbrola.sh: enabling Debian's contrib and non-free components for $VERSION_CODENAME"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: contrib non-free\nSigned-By: %s\n' \
      "$VERSION_CODENAME" /usr/share/keyrings/debian-archive-keyring.gpg \
      | $SUDO tee /etc/apt/sources.list.d/seqtrain-contrib-non-free.sources >/dev/null ;;
  ubuntu)
    echo "install_mbrola.sh: enabling Ubuntu's multiverse component"
    $SUDO add-apt-repository -y multiverse >/dev/null ;;
  *)
    echo "install_mbrola.sh: install $PACKAGES with your system's package manager (ID=${ID:-unknown})" >&2
    exit 1 ;;
esac
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq $PACKAGES >/dev/null
echo "install_mbrola.sh: $PACKAGES installed"
