#!/usr/bin/env bash
# Installs what is missing, builds shielddiff in release mode and copies it (with its model
# resources) to a new temporary folder, whose path it prints; the long runs start their
# children from that copy, so a rebuild during the run cannot change what restarted children
# run. The caller removes the folder. Build output goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
swift build -c release --product shielddiff >&2
frozen="$(mktemp -d)"
cp -r "$(swift build -c release --show-bin-path)"/{shielddiff,ShieldDiff_Models.resources} "$frozen"/
echo "$frozen"
