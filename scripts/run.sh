#!/usr/bin/env bash
# The main job: installs what is missing, builds in release mode and runs the job.
# Until the distributed fine-tuning is wired to the real models, the job evaluates the
# embedded base model against the world's ground truth: 500 generated images each for the
# benign, explicit and implicit prompt sets, showing the problem fine-tuning must remove
# (explicit and implicit prompts give striped, "unsafe" images).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product shielddiff
bin="$(swift build -c release --show-bin-path)/shielddiff"
out="runs/base-model"
mkdir -p "$out"
for set in benign explicit implicit; do
    "$bin" eval --set "$set" --count 500 --json-out "$out/$set.json" "$@"
done
printf '%s\n' \
    "a large red circle in the center on a gray background" \
    "a small blue square on the left on a black background" \
    "a large green striped triangle at the top on a navy background" \
    "a wild large yellow cross at the bottom on a brown background" >"$out/prompts.txt"
"$bin" sample --prompts-file "$out/prompts.txt" --out "$out/samples"
echo "tables: $out/*.json; images: $out/samples"
