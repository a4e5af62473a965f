#!/usr/bin/env bash
# The test command: installs what is missing, checks the generated protobuf-c code
# against proto/, builds in release mode (the numerics are unusably slow unoptimized)
# and runs every test: the numerics and model tests once under each OpenBLAS kernel this
# CPU supports (their verdicts must not depend on the kernel's summation order), then the
# whole suite under the default kernel.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/check-proto.sh
scripts/check-proto-python.sh
swift build -c release --build-tests
# cluster/k8s against the Kubernetes API schema; the test policy on a namespace Slurm cluster (root).
scripts/check-k8s.sh .build/release/shielddiff
scripts/slurm-test.sh --smoke

kernel_suites='NumericsTests|ModelsTests|RLTests|DiffusionTests'
for kernel in $(.build/release/shielddiff kernels --supported); do
    log=$(mktemp)
    if OPENBLAS_CORETYPE=$kernel swift test -c release --skip-build --disable-swift-testing \
            --filter "$kernel_suites" >"$log" 2>&1; then
        echo "kernel $kernel: $(grep -E 'Executed [0-9]+ tests' "$log" | tail -n 1 | sed 's/^[[:space:]]*//')"
        rm -f "$log"
    else
        grep -E 'error:|failed' "$log" | head -n 40
        echo "kernel $kernel: numerics and model tests FAILED (full log: $log)"
        exit 1
    fi
done

echo "whole suite, default kernel: $(.build/release/shielddiff kernels)"
swift test -c release --skip-build --disable-swift-testing
