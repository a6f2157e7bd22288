#!/usr/bin/env bash
# CTest fixture "npm_deps": installs the Node client's packages (client/node/package.json, versions
# pinned by its package-lock.json: @grpc/grpc-js, @grpc/proto-loader, and @bufbuild/buf for the
# `buf curl` tests) from the npm registry into DEST_DIR/node_modules, with `npm ci`. Runs at test
# time, never at build time. Skipped when DEST_DIR already holds an install of the same lock file.
#
#   npm_deps.sh SRC_DIR DEST_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SRC_DIR DEST_DIR" >&2; exit 2; }
SRC=$1
DEST=$2
if ! command -v npm >/dev/null; then
  echo "npm_deps: npm is not installed (scripts/install_deps.sh installs Node.js and npm)" >&2
  exit 1
fi
mkdir -p "$DEST"
STAMP="$DEST/node_modules/.semisync-lock.sha256"
want=$(sha256sum "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$DEST/node_modules/.bin/buf" ]; then
  echo "npm_deps: $DEST/node_modules is up to date"
  exit 0
fi
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
cd "$DEST"
npm ci --no-audit --no-fund --loglevel=error
# npm 11 skips unapproved install scripts; @bufbuild/buf's only links the platform binary, which
# bin/buf finds without it. Check that buf runs.
./node_modules/.bin/buf --version
echo "$want" > "$STAMP"
echo "npm_deps: installed into $DEST/node_modules"
