#!/usr/bin/env bash
# Soak: a long run of the test policy (so the learner turns many versions) with 8 actors and
# 4 reward workers, an actor or reward worker SIGKILLed every 30 s (the learner is left alone
# so its own growth can be measured), and every minute a record of the learner's RSS, open
# file descriptors, sockets, threads and update rate; at the end the growth after the first
# minute, the time each killed process took to come back, and whether any process was left.
#   scripts/soak.sh MINUTES [shielddiff train options]
# Ports 5660–5663 (SOAK_PORT to move them). Everything goes to runs/soak-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { echo "usage: scripts/soak.sh MINUTES [train options]" >&2; exit 2; }
minutes="$1"
shift
port="${SOAK_PORT:-5660}"

frozen="$(scripts/frozen-binary.sh)"
trap 'rm -rf "$frozen"' EXIT
bin="$frozen/shielddiff"
run="runs/soak-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run"
cat > "$run/soak.yaml" <<YAML
model: test-linear
run_dir: $run
endpoints:
  control: tcp://127.0.0.1:$port
  weights: tcp://127.0.0.1:$((port + 1))
  reward_frontend: tcp://127.0.0.1:$((port + 2))
  reward_backend: tcp://127.0.0.1:$((port + 3))
actors: 8
reward_workers: 4
trajectories_per_batch: 4
trajectories_per_update: 32
max_buffered_trajectories: 64
updates: 0
stop_unsafe_rate: 0
checkpoint_every: 100
restart_delay_max_ms: 2000
hyperparameters:
  steps: 4
  latent_size: 64
YAML
python3 scripts/faults.py soak "$bin" "$run" "$minutes" --config "$run/soak.yaml" "$@"
