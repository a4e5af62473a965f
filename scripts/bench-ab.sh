#!/usr/bin/env bash
# Before/after on a shared machine: runs the same `shielddiff bench` figure with two binaries,
# alternating A, B, A, B, … for ROUNDS rounds, and prints each run's figures with the load
# average, so both see the same load. A binary needs its ShieldDiff_Models.resources beside it.
#
#   scripts/bench-ab.sh BINARY_A BINARY_B ROUNDS BENCH [ARGS…]
#   e.g. scripts/bench-ab.sh /tmp/before/shielddiff .build/release/shielddiff 3 denoiser
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 BINARY_A BINARY_B ROUNDS BENCH [ARGS…]" >&2
    exit 2
fi
a=$1 b=$2 rounds=$3
shift 3
for bin in "$a" "$b"; do
    [ -x "$bin" ] || { echo "bench-ab: $bin is not an executable" >&2; exit 2; }
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench-ab: ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2; }
for r in $(seq 1 "$rounds"); do
    for side in A B; do
        bin=$a
        [ "$side" = B ] && bin=$b
        echo "--- round $r $side ($bin), load $(cut -d' ' -f1-3 /proc/loadavg)"
        "$bin" bench "$@" | grep -v '^kernel:'
    done
done
