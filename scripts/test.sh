#!/usr/bin/env bash
# The test command: installs what is missing, checks the generated protobuf-c code
# against proto/, builds in release mode (the numerics are unusably slow unoptimized)
# and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/check-proto.sh
swift build -c release --build-tests
swift test -c release --skip-build
