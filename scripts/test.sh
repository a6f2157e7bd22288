#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs packages, builds, and runs
# every test under ctest. ctest itself starts (and stops) a private MariaDB on 127.0.0.1 for the
# tests that run against MySQL storage (fixture "mariadb").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR
bash "$ROOT/scripts/build.sh"
cd "$BUILD_DIR"
# Unit tests in parallel, then the multi-process integration tests one at a time (they measure
# semi-sync timeouts and must not starve each other on a 2-core machine).
ctest --output-on-failure -j 2 -LE integration "$@"
ctest --output-on-failure -L integration "$@"
