#!/usr/bin/env bash
# Regenerates the Python bindings of the wire messages (proto/python/shielddiff_pb2.py, for
# Python peers) from proto/shielddiff.proto with protoc from PyPI's grpcio-tools.
# Usage: scripts/gen-proto-python.sh [target-dir]   (default: proto/python)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-$root/proto/python}"

python3 -c 'import grpc_tools.protoc' 2>/dev/null \
    || { echo "gen-proto-python: grpcio-tools not found (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$target"
python3 -m grpc_tools.protoc --proto_path="$root/proto" --python_out="$target" "$root/proto/shielddiff.proto"
