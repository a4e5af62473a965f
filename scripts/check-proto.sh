#!/usr/bin/env bash
# Fails when the committed protobuf-c code differs from what protoc-c generates now
# from proto/*.proto (ignoring #include lines, which may be adjusted for SwiftPM).
# Usage: scripts/check-proto.sh [dir-to-check]   (default: Sources/CShieldProto)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
checked="${1:-$root/Sources/CShieldProto}"

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
"$root/scripts/gen-proto.sh" "$fresh"

status=0
# Every freshly generated file must exist in the checked tree with the same content.
while IFS= read -r file; do
  rel="${file#"$fresh"/}"
  if [[ ! -f "$checked/$rel" ]]; then
    echo "check-proto: $checked/$rel is missing; run scripts/gen-proto.sh" >&2
    status=1
  elif ! diff -q <(grep -v '^#include' "$file") <(grep -v '^#include' "$checked/$rel") >/dev/null; then
    echo "check-proto: $checked/$rel differs from protoc-c output; run scripts/gen-proto.sh" >&2
    status=1
  fi
done < <(find "$fresh" -type f -name '*.pb-c.[ch]' | sort)

# A generated file whose .proto was removed is stale.
while IFS= read -r file; do
  rel="${file#"$checked"/}"
  if [[ ! -f "$fresh/$rel" ]]; then
    echo "check-proto: $checked/$rel has no source in proto/; delete it" >&2
    status=1
  fi
done < <(find "$checked" -type f -name '*.pb-c.[ch]' | sort)

if [[ $status -eq 0 ]]; then echo "check-proto: generated code is up to date"; fi
exit $status
