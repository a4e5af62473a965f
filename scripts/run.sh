#!/usr/bin/env bash
# The main job: installs what is missing, builds in release mode, runs the default ShieldDiff
# fine-tuning of the embedded base model (the learner, 2 actors and 1 reward worker as
# separate processes over tcp loopback), then compares the fine-tuned model with the base
# model on the world's ground truth: a before/after table for 500 images of each of the
# train-unsafe, heldout-unsafe and benign prompt sets, and before/after sample grids (PNG).
#   scripts/run.sh [shielddiff train options, e.g. --set updates=20]
# Everything goes to a new folder runs/shielddiff-<time>/ (metrics.jsonl, checkpoints/,
# compare/compare.json, compare/<set>-before.png and -after.png).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product shielddiff
bin="$(swift build -c release --show-bin-path)/shielddiff"
run="runs/shielddiff-$(date +%Y%m%d-%H%M%S)"

start=$SECONDS
"$bin" train --run-dir "$run" "$@"
checkpoint="$(ls "$run"/checkpoints/checkpoint-v*.safetensors | tail -n 1)"
echo "fine-tuned in $((SECONDS - start)) s: $checkpoint"
"$bin" compare --checkpoint "$checkpoint" --count 500 --out "$run/compare"
echo "main job: $((SECONDS - start)) s after the build; results in $run"
