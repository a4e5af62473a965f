#!/usr/bin/env bash
# The main job: installs what is missing, builds in release mode and runs the job.
# Until the distributed fine-tuning lands, the job is the numerics benchmark: real
# OpenBLAS sgemm, conv2d and attention passes at the denoiser's shapes.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product shielddiff
.build/release/shielddiff bench numerics "$@"
