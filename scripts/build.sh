#!/usr/bin/env bash
# Builds semisync into ${BUILD_DIR:-build} (Ninja, -j2). Installs packages first if missing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/install_deps.sh"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DSEMISYNC_ALLOW_MISSING=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}"
