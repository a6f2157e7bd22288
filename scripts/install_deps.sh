#!/usr/bin/env bash
# Installs every Debian 12 package semisync needs to build, test and run.
# Idempotent: packages already present are skipped; safe to run repeatedly.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev
  libsoci-dev libsqlite3-dev libmariadb-dev
  mariadb-server mariadb-client
  golang-github-grpc-ecosystem-grpc-gateway-dev golang-grpc-gateway libcpp-httplib-dev
  python3 curl procps
)

missing=()
for p in "${PKGS[@]}"; do
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
