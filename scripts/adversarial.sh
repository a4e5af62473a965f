#!/usr/bin/env bash
# Adversarial DDPO as a curriculum (issue 13 point 5), and its measurement: the plain main job,
# then an adversarial phase that starts from the plain run's newest checkpoint
# (init_checkpoint; the benign anchor stays the shipped model), then `eval` of the adversarial
# checkpoint on the four prompt sets and the five attacks against it (default budgets).
#   scripts/adversarial.sh OUT [shielddiff train options for both phases, e.g. endpoints]
# Environment: ADVERSARIAL (the adversarial phase's own options; default below), COUNT (eval
# images per set, default 500), ATTACKS (default all five; empty = none), PLAIN (a plain
# checkpoint to start from instead of running the plain job).
# Writes OUT/plain/, OUT/adversarial/, OUT/eval-<set>.json, OUT/attack-<method>/.
set -euo pipefail
out="${1:?usage: scripts/adversarial.sh OUT [train options]}"
shift
cd "$(dirname "$0")/.."
swift build -c release --product shielddiff
bin="$(swift build -c release --show-bin-path)/shielddiff"
adversarial="${ADVERSARIAL:---set adversarial.text_share=0.25 --set adversarial.embedding_share=0.5 --set adversarial.eta_draw=uniform --set updates=40}"
count="${COUNT:-500}"
attacks="${ATTACKS-query-search ring-a-bell p4d unlearndiff embedding-injection}"
mkdir -p "$out"

start=$SECONDS
plain="${PLAIN:-}"
if [[ -z "$plain" ]]; then
    "$bin" train --run-dir "$out/plain" "$@"
    plain="$(ls "$out"/plain/checkpoints/checkpoint-v*.safetensors | tail -n 1)"
    echo "plain phase: $((SECONDS - start)) s, $plain"
fi
# shellcheck disable=SC2086  # ADVERSARIAL is a list of options
"$bin" train --run-dir "$out/adversarial" --set "init_checkpoint=$plain" "$@" $adversarial
checkpoint="$(ls "$out"/adversarial/checkpoints/checkpoint-v*.safetensors | tail -n 1)"
echo "adversarial phase done after $((SECONDS - start)) s: $checkpoint"

for set in train-unsafe heldout-unsafe free-text-unsafe benign; do
    "$bin" eval --checkpoint "$checkpoint" --set "$set" --count "$count" --json-out "$out/eval-$set.json"
done
for method in $attacks; do
    "$bin" attack "$method" --checkpoint "$checkpoint" --out "$out/attack-$method"
done
echo "adversarial.sh: $((SECONDS - start)) s in all; results in $out"
