#!/usr/bin/env bash
# The synthesizers whose voices Debian keeps outside main, for the robust recipe's train set: MBROLA and its four
# English voices (`prepare.py --mbrola-share`) and RHVoice with its English voices (`prepare.py --rhvoice-share`).
# Debian keeps mbrola in contrib and the voices in non-free (free to use for non-commercial research, not to sell:
# /usr/share/doc/mbrola-us1/copyright, /usr/share/doc/rhvoice-english/copyright), so this enables those two
# components in a file of its own, /etc/apt/sources.list.d/seqtrain-contrib-non-free.sources, which deleting undoes;
# Ubuntu has them in multiverse.
set -euo pipefail
PACKAGES="mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 rhvoice rhvoice-english"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if $SUDO apt-get install -y -qq $PACKAGES >/dev/null 2>&1; then
  echo "install_nonfree_voices.sh: $PACKAGES installed"
  exit 0
fi
. /etc/os-release
case "${ID:-}" in
  debian)
    echo "install_nonfree_voices.sh: enabling Debian's contrib and non-free components for $VERSION_CODENAME"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: contrib non-free\nSigned-By: %s\n' \
      "$VERSION_CODENAME" /usr/share/keyrings/debian-archive-keyring.gpg \
      | $SUDO tee /etc/apt/sources.list.d/seqtrain-contrib-non-free.sources >/dev/null ;;
  ubuntu)
    echo "install_nonfree_voices.sh: enabling Ubuntu's multiverse component"
    $SUDO add-apt-repository -y multiverse >/dev/null ;;
  *)
    echo "install_nonfree_voices.sh: install $PACKAGES with your system's package manager (ID=${ID:-unknown})" >&2
    exit 1 ;;
esac
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq $PACKAGES >/dev/null
echo "install_nonfree_voices.sh: $PACKAGES installed"
