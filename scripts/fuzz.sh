#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer targets of Tests/Fuzz with AddressSanitizer and runs one or all.
#   scripts/fuzz.sh [TARGET|all] [SECONDS]      (default: all targets, 60 s each)
#   FUZZ_RUNS=N scripts/fuzz.sh ...             also stop each target after N inputs
# Targets: FuzzEnvelope FuzzSafeTensors FuzzConfig FuzzPrompt FuzzAllowlist. Each starts from its
# committed seeds (Tests/Fuzz/Corpus/TARGET) plus the inputs found by earlier runs
# (.build/fuzz-corpus/TARGET, not committed). A crash is written to .build/fuzz-crashes/TARGET/;
# once fixed, copy it to Tests/Fuzz/Regressions/TARGET/, which the normal tests replay.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(FuzzEnvelope FuzzSafeTensors FuzzConfig FuzzPrompt FuzzAllowlist)
target=${1:-all}
seconds=${2:-60}
if [[ "$target" == all ]]; then targets=("${all[@]}"); else
    [[ " ${all[*]} " == *" $target "* ]] || { echo "unknown target '$target' (known: ${all[*]})" >&2; exit 2; }
    targets=("$target")
fi
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 1 ]] || { echo "SECONDS must be a whole number ≥ 1, got '$seconds'" >&2; exit 2; }

flags=(-c release --package-path Tests/Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
swift build "${flags[@]}" 2> >(grep -v "Cannot export local symbol" >&2)
bin=$(swift build "${flags[@]}" --show-bin-path)

status=0
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
for t in "${targets[@]}"; do
    work=.build/fuzz-corpus/$t crashes=.build/fuzz-crashes/$t
    mkdir -p "$work" "$crashes"
    limit=(-max_total_time="$seconds")
    [[ -n "${FUZZ_RUNS:-}" ]] && limit+=(-runs="$FUZZ_RUNS")
    echo "== $t"
    # New inputs go to the first folder; the committed seeds and regressions are only read.
    if ! "$bin/$t" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$crashes/" -max_len=65536 \
        "$work" "Tests/Fuzz/Corpus/$t" "Tests/Fuzz/Regressions/$t" 2>&1 | grep -E "^(#[0-9]+\s+DONE|stat::|==[0-9]+==|SUMMARY|Fatal|.*invariant broken|artifact_prefix|Test unit written)"; then
        :
    fi
    new=$(find "$crashes" -type f -newer "$stamp" | head -5)
    if [[ -n "$new" ]]; then
        echo "$t: new crash inputs (this run): $new" >&2
        status=1
    fi
done
exit $status
