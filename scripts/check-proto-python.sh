#!/usr/bin/env bash
# Fails when the committed proto/python/shielddiff_pb2.py differs from what
# scripts/gen-proto-python.sh generates now from proto/shielddiff.proto.
# Usage: scripts/check-proto-python.sh [dir-to-check]   (default: proto/python)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
checked="${1:-$root/proto/python}"

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
"$root/scripts/gen-proto-python.sh" "$fresh"

if [[ ! -f "$checked/shielddiff_pb2.py" ]]; then
    echo "check-proto-python: $checked/shielddiff_pb2.py is missing; run scripts/gen-proto-python.sh" >&2
    exit 1
elif ! diff -q "$fresh/shielddiff_pb2.py" "$checked/shielddiff_pb2.py" >/dev/null; then
    echo "check-proto-python: $checked/shielddiff_pb2.py differs from protoc's output; run scripts/gen-proto-python.sh" >&2
    exit 1
fi
echo "check-proto-python: Python bindings are up to date"
