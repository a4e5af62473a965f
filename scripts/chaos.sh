#!/usr/bin/env bash
# Chaos on the main job: the default real fine-tuning with 2 actors and 2 reward workers,
# a random child SIGKILLed every SECONDS_BETWEEN_KILLS (default 10; every third kill the
# learner) until the run ends by its stop rule; then a report (kills per role, restarts, time
# to rejoin, updates lost to learner restarts, trajectories dropped and why) and the
# before/after table of `shielddiff compare` on the final checkpoint, as scripts/run.sh prints.
#   scripts/chaos.sh [SECONDS_BETWEEN_KILLS] [shielddiff train options]
# SECONDS_BETWEEN_KILLS 0 runs the same job undisturbed (the baseline time). Ports 5650–5653
# (CHAOS_PORT to move them), so a main job on the default ports can run beside it.
# Everything goes to runs/chaos-<time>/ (train.log, metrics.jsonl, checkpoints/, compare/).
set -euo pipefail
cd "$(dirname "$0")/.."
interval="${1:-10}"
[[ $# -gt 0 ]] && shift
port="${CHAOS_PORT:-5650}"

frozen="$(scripts/frozen-binary.sh)"
trap 'rm -rf "$frozen"' EXIT
bin="$frozen/shielddiff"
run="runs/chaos-$(date +%Y%m%d-%H%M%S)"

status=0
python3 scripts/faults.py chaos "$bin" "$run" "$interval" \
    --set actors=2 --set reward_workers=2 --set restart_delay_max_ms=2000 \
    --set endpoints.control="tcp://127.0.0.1:$port" --set endpoints.weights="tcp://127.0.0.1:$((port + 1))" \
    --set endpoints.reward_frontend="tcp://127.0.0.1:$((port + 2))" --set endpoints.reward_backend="tcp://127.0.0.1:$((port + 3))" \
    "$@" || status=$?
checkpoint="$(ls "$run"/checkpoints/checkpoint-v*.safetensors | tail -n 1)"
echo "final checkpoint: $checkpoint"
"$bin" compare --checkpoint "$checkpoint" --count 500 --out "$run/compare"
exit "$status"
