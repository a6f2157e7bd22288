#!/usr/bin/env bash
# Installs the Debian 12 packages semisync needs. The lists live in files beside this script:
#
#   install_deps.sh            scripts/packages.txt and scripts/packages-runtime.txt: everything to
#                              build, test and run (developers, CI, the image's build stage)
#   install_deps.sh --runtime  scripts/packages-runtime.txt only (the image's runtime stage)
#
# Idempotent: packages already present are skipped; safe to run repeatedly.
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"

case "${1:-}" in
  "") lists=("$DIR/packages.txt" "$DIR/packages-runtime.txt") ;;
  --runtime) lists=("$DIR/packages-runtime.txt") ;;
  *) echo "usage: $0 [--runtime]" >&2; exit 2 ;;
esac

# One package per line; '#' starts a comment.
PKGS=()
for list in "${lists[@]}"; do
  while read -r p; do
    PKGS+=("$p")
  done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list")
done

missing=()
for p in "${PKGS[@]}"; do
  # An npm already on PATH (NodeSource's Node.js on the machine images) conflicts with Debian's
  # nodejs/npm packages: keep it.
  if [[ $p == nodejs || $p == npm ]] && command -v npm >/dev/null 2>&1; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# mariadb-server's post-install may fail to start a daemon where there is no init system;
# policy-rc.d keeps it from trying, and we start our own private server in tests.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install_deps: done"
