#!/usr/bin/env bash
# Regenerates the protobuf-c code in Sources/CShieldProto from proto/*.proto.
# Usage: scripts/gen-proto.sh [target-dir]   (default: Sources/CShieldProto)
# Headers go to <target-dir>/include (SwiftPM's public header directory), sources to <target-dir>.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-$root/Sources/CShieldProto}"

command -v protoc-c >/dev/null || { echo "gen-proto: protoc-c not found (apt install protobuf-c-compiler)" >&2; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
protoc-c --proto_path="$root/proto" --c_out="$out" "$root"/proto/*.proto

mkdir -p "$target/include"
for header in "$out"/*.pb-c.h; do cp "$header" "$target/include/"; done
for source in "$out"/*.pb-c.c; do cp "$source" "$target/"; done

# The Python bindings too, when regenerating the committed tree.
if [[ $# -eq 0 ]]; then "$root/scripts/gen-proto-python.sh"; fi
