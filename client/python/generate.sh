#!/usr/bin/env bash
# Generates the Python messages and gRPC stubs for protos/semisync/v1 (and the google.api
# annotations they import) into OUT_DIR, with protoc and grpc_python_plugin (Debian's
# protobuf-compiler and protobuf-compiler-grpc). The build runs it into build/client/python/gen;
# generated code is never committed.
#
#   client/python/generate.sh OUT_DIR
#   PYTHONPATH=OUT_DIR:client/python /usr/bin/python3 client/python/example.py
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 1
fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$1"
GOOGLEAPIS="${GOOGLEAPIS_DIR:-/usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis}"
PLUGIN="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"
PROTOC="${PROTOC:-protoc}"

mkdir -p "$OUT"
# Messages and stubs of our services.
"$PROTOC" -I "$ROOT/protos" -I "$GOOGLEAPIS" \
  --python_out="$OUT" --grpc_python_out="$OUT" \
  --plugin=protoc-gen-grpc_python="$PLUGIN" \
  "$ROOT"/protos/semisync/v1/*.proto
# google/api/{annotations,http}_pb2.py: imported by the generated records_pb2 etc. ("google" is a
# namespace package in Debian's python3-protobuf, so OUT/google/api is found beside it).
"$PROTOC" -I "$GOOGLEAPIS" --python_out="$OUT" \
  "$GOOGLEAPIS/google/api/annotations.proto" "$GOOGLEAPIS/google/api/http.proto"
